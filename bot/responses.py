"""Renders the bot's messages from ``bot/content/responses.yml`` and ``hotlines.yml``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.content_files import CONTENT_DIR, load_yaml
from bot.errors import ContentError
from bot.types import Reply, SafetyCategory, Urgency

LANGUAGES = ("ja", "en")
REQUIRED_KEYS = (
    "greeting",
    "goodbye",
    "thanks",
    "consumer_trouble",
    "smartphone_help",
    "out_of_scope",
    "human_request",
    "sensitive_followup",
    "safety_emergency",
    "hotlines_header",
    "hotline_line",
    # Guides and knowledge-base answers (bot/flows, bot/answering.py).
    "guide_intro",
    "flow_step_line",
    "flow_step_hint",
    "flow_platform_question",
    "flow_platform_help",
    "flow_simpler_lead",
    "flow_offer_human",
    "flow_first_step",
    "flow_unrecognised",
    "flow_resume_question",
    "flow_done",
    "flow_stopped",
    "flow_checkin",
    "flow_expired",
    "flow_after_done",
    "flow_after_unsure",
    "flow_after_stop",
    "faq_language_note",
    "kb_not_found",
    "kb_not_found_consumer_trouble",
    "kb_not_found_smartphone_help",
)
QUICK_REPLY_SETS = (
    "default",
    "flow_step",
    "flow_platform",
    "flow_resume",
    "flow_human",
    "flow_after",
)


@dataclass(frozen=True)
class Hotline:
    """One phone line, with the categories whose safety message lists it."""

    hotline_id: str
    number: str
    name: dict[str, str]
    hours: dict[str, str]
    categories: frozenset[SafetyCategory]
    emergency_only: bool
    order: int
    # Answered 24 hours a day (named when no counselor is available).
    always_open: bool = False


class Responses:
    """All reply texts and hotlines, validated at load time."""

    def __init__(self, texts: dict[str, dict[str, Any]], hotlines: list[Hotline]) -> None:
        """Use :meth:`load`; this constructor trusts its arguments."""
        self._texts = texts
        self.hotlines = hotlines

    @classmethod
    def load(cls, content_dir: Path = CONTENT_DIR) -> Responses:
        """Reads and checks both files; missing texts or categories fail start-up."""
        raw = load_yaml(content_dir / "responses.yml")
        texts: dict[str, dict[str, Any]] = {}
        for lang in LANGUAGES:
            section = raw.get(lang)
            if not isinstance(section, dict):
                raise ContentError(f"responses.yml: missing language section {lang!r}")
            missing = [k for k in REQUIRED_KEYS if not isinstance(section.get(k), str)]
            safety = section.get("safety") or {}
            missing += [f"safety.{c.value}" for c in SafetyCategory if not safety.get(c.value)]
            buttons = section.get("quick_replies") or {}
            missing += [f"quick_replies.{q}" for q in QUICK_REPLY_SETS if not buttons.get(q)]
            if missing:
                raise ContentError(f"responses.yml [{lang}]: missing {', '.join(missing)}")
            texts[lang] = section
        return cls(texts, _load_hotlines(content_dir / "hotlines.yml"))

    def text(self, language: str, key: str) -> str:
        """One reply text; unknown languages fall back to Japanese."""
        return str(self._texts.get(language, self._texts["ja"])[key])

    def quick_replies(self, language: str, name: str = "default") -> tuple[str, ...]:
        """A set of quick-reply buttons: ``default`` (「人と話す」) or a guide's ``flow_*`` set."""
        section = self._texts.get(language, self._texts["ja"])
        return tuple(section.get("quick_replies", {}).get(name, ()))

    def hotlines_for(
        self, categories: tuple[SafetyCategory, ...], urgency: Urgency
    ) -> list[Hotline]:
        """Hotlines relevant to any of ``categories``; 110/119 lines only when urgent."""
        chosen = [
            h
            for h in self.hotlines
            if h.categories & set(categories)
            and (not h.emergency_only or urgency is Urgency.EMERGENCY)
        ]
        return sorted(chosen, key=lambda h: (h.order, h.hotline_id))

    def safety_message(
        self, language: str, categories: tuple[SafetyCategory, ...], urgency: Urgency
    ) -> Reply:
        """The message every escalated resident gets at once: care, emergency line, hotlines."""
        lang = language if language in self._texts else "ja"
        section = self._texts[lang]
        lead = categories[0] if categories else SafetyCategory.SUICIDE
        parts = [str(section["safety"][lead.value])]
        if urgency is Urgency.EMERGENCY:
            parts.append(str(section["safety_emergency"]))
        parts.append(self.hotline_block(lang, categories, urgency))
        return Reply(text="\n\n".join(parts), quick_replies=())

    def hotline_block(
        self, language: str, categories: tuple[SafetyCategory, ...], urgency: Urgency
    ) -> str:
        """The hotline list for ``categories`` in ``language``."""
        section = self._texts.get(language, self._texts["ja"])
        lines = [str(section["hotlines_header"])]
        for hotline in self.hotlines_for(categories, urgency):
            lines.append(
                str(section["hotline_line"]).format(
                    name=hotline.name.get(language, hotline.name["ja"]),
                    number=hotline.number,
                    hours=hotline.hours.get(language, hotline.hours["ja"]),
                )
            )
        return "\n".join(lines)

    def always_open_lines(self, categories: tuple[SafetyCategory, ...]) -> list[Hotline]:
        """24-hour lines for when no counselor can answer.

        110/119 and the lines of ``categories`` (of suicide prevention when there is none,
        as in the safety message).
        """
        wanted = set(categories or (SafetyCategory.SUICIDE,))
        chosen = [
            h
            for h in self.hotlines
            if h.always_open and (h.emergency_only or h.categories & wanted)
        ]
        return sorted(chosen, key=lambda h: (h.order, h.hotline_id))

    def always_open_block(self, language: str, categories: tuple[SafetyCategory, ...]) -> str:
        """The 24-hour lines as text lines (no header), in ``language``."""
        section = self._texts.get(language, self._texts["ja"])
        return "\n".join(
            str(section["hotline_line"]).format(
                name=hotline.name.get(language, hotline.name["ja"]),
                number=hotline.number,
                hours=hotline.hours.get(language, hotline.hours["ja"]),
            )
            for hotline in self.always_open_lines(categories)
        )


def _load_hotlines(path: Path) -> list[Hotline]:
    raw = load_yaml(path).get("hotlines")
    if not isinstance(raw, list) or not raw:
        raise ContentError(f"{path}: 'hotlines' must be a non-empty list")
    hotlines: list[Hotline] = []
    for item in raw:
        try:
            hotline = Hotline(
                hotline_id=str(item["id"]),
                number=str(item["number"]),
                name={str(k): str(v) for k, v in item["name"].items()},
                hours={str(k): str(v) for k, v in item["hours"].items()},
                categories=frozenset(SafetyCategory(c) for c in item["categories"]),
                emergency_only=bool(item.get("emergency_only", False)),
                order=int(item.get("order", 100)),
                always_open=bool(item.get("always_open", False)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ContentError(f"{path}: bad hotline entry {item!r:.80}: {exc}") from exc
        if "ja" not in hotline.name or "ja" not in hotline.hours:
            raise ContentError(f"{path}: hotline {hotline.hotline_id} needs Japanese texts")
        hotlines.append(hotline)
    covered = set().union(*(h.categories for h in hotlines if not h.emergency_only))
    uncovered = [c.value for c in SafetyCategory if c not in covered]
    if uncovered:
        raise ContentError(f"{path}: no non-emergency hotline for {', '.join(uncovered)}")
    return hotlines
