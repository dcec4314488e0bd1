"""Fixed answers to the rich-menu buttons and their quick replies (``bot/content/menus.yml``).

A rich-menu tap sends our own words (「よくある質問」), so guessing at them with the classifier
and the knowledge base only goes wrong: there is no FAQ called 「よくある質問」, and
「電話で相談できるところ」 reads like a request for a person. This module knows those texts
and the quick-reply labels their answers offer, exactly (in ``matching_form``), and says what
each one leads to. It never outranks safety: the engine assesses every message first, and
:meth:`Menus.read` only withdraws a classifier-only *request for a person* on a menu text
that does not mean one — a crisis-lexicon match or a safety category always stands.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from bot.content_files import CONTENT_DIR, load_yaml
from bot.errors import ContentError
from bot.responses import LANGUAGES, Responses
from bot.types import Assessment, Reply, SafetyCategory, Urgency
from nlu.normalize import matching_form

MENUS_FILE = CONTENT_DIR / "menus.yml"
# Recorded on the message when a classifier-only request for a person was read as a menu tap.
MENU_REASON_PREFIX = "tap:"
# The only escalation a menu text may withdraw (bot/safety/assessment.py adds it).
HUMAN_REQUEST_REASON = "intent:human_request"
# LINE shows at most 13 quick replies with labels of up to 20 characters
# (channels/line/render.py); one place is kept for 「人と話す」.
MAX_CHOICES = 12
MAX_LABEL = 20

TargetKind = Literal["faq", "guide", "menu"]
TARGET_KINDS: tuple[TargetKind, ...] = ("faq", "guide", "menu")


class MenuKind(enum.StrEnum):
    """What a menu answers with."""

    HANDOFF = "handoff"  # a counselor, like 「人と話す」
    HOTLINES = "hotlines"  # the phone lines of hotlines.yml
    CHOICES = "choices"  # a lead text with quick-reply buttons


@dataclass(frozen=True)
class Target:
    """Where a menu text or button leads: a menu, an FAQ entry or a guide."""

    kind: TargetKind
    ref: str

    @classmethod
    def parse(cls, value: object) -> Target:
        """Reads ``faq:<id>``, ``guide:<id>`` or ``menu:<id>``."""
        kind, _, ref = str(value).partition(":")
        for known in TARGET_KINDS:
            if kind == known and ref.strip():
                return cls(known, ref.strip())
        raise ContentError(f"menus.yml: bad target {value!r}; use faq:, guide: or menu:")

    def __str__(self) -> str:
        """The form written in menus.yml (used in messages and test ids)."""
        return f"{self.kind}:{self.ref}"


@dataclass(frozen=True)
class Choice:
    """One quick-reply button of a menu: its label per language and where it leads."""

    label: dict[str, str]
    target: Target

    def label_for(self, language: str) -> str:
        """The label in ``language`` (Japanese when there is none)."""
        return self.label.get(language) or self.label["ja"]


@dataclass(frozen=True)
class Menu:
    """One menu: the texts that open it and what it answers."""

    menu_id: str
    kind: MenuKind
    texts: dict[str, tuple[str, ...]]
    lead: dict[str, str]
    choices: tuple[Choice, ...]
    offer_human: bool


class Menus:
    """All menus, and an index from each text and label (matching form) to its target."""

    def __init__(self, menus: tuple[Menu, ...], index: dict[str, Target]) -> None:
        """Use :meth:`load`; this constructor trusts its arguments."""
        self.menus = menus
        self._by_id = {m.menu_id: m for m in menus}
        self._index = index

    @classmethod
    def load(cls, path: Path = MENUS_FILE) -> Menus:
        """Reads and checks the file; any mistake fails start-up with a ContentError."""
        raw = load_yaml(path)
        if raw.get("version") != 1:
            raise ContentError(f"{path}: unsupported version {raw.get('version')!r}")
        items = raw.get("menus")
        if not isinstance(items, list) or not items:
            raise ContentError(f"{path}: 'menus' must be a non-empty list")
        menus = tuple(_menu(item, path) for item in items)
        ids = [m.menu_id for m in menus]
        if len(set(ids)) != len(ids):
            raise ContentError(f"{path}: duplicate menu ids in {ids}")
        index: dict[str, Target] = {}
        for menu in menus:
            for text in (t for texts in menu.texts.values() for t in texts):
                _add(index, text, Target("menu", menu.menu_id), path)
            for choice in menu.choices:
                if choice.target.kind == "menu" and choice.target.ref not in ids:
                    raise ContentError(f"{path}: {menu.menu_id}: unknown menu {choice.target}")
                for label in choice.label.values():
                    _add(index, label, choice.target, path)
        return cls(menus, index)

    def menu(self, menu_id: str) -> Menu:
        """The menu with this id (KeyError if unknown)."""
        return self._by_id[menu_id]

    def match(self, text: str) -> Target | None:
        """Where the whole message leads, if it is a menu text or a button label."""
        return self._index.get(matching_form(text))

    def choices(self) -> list[Choice]:
        """Every quick-reply button of every menu (for checks against the knowledge base)."""
        return [c for m in self.menus for c in m.choices]

    def read(self, assessment: Assessment, text: str) -> Assessment:
        """The assessment, with a classifier-only request for a person on a menu tap withdrawn.

        Only when the classifier's ``human_request`` is the sole reason to escalate (no
        lexicon rule, no safety category) and the text is a menu text or label that does
        not itself ask for a person: 「電話で相談できるところ」 wants phone numbers.
        """
        target = self.match(text)
        if target is None or not assessment.escalate or assessment.categories:
            return assessment
        if set(assessment.reasons) - {HUMAN_REQUEST_REASON, "nlu:unavailable"}:
            return assessment
        if target.kind == "menu" and self.menu(target.ref).kind is MenuKind.HANDOFF:
            return assessment
        return replace(
            assessment,
            escalate=False,
            urgency=Urgency.NORMAL,
            reasons=(*assessment.reasons, f"{MENU_REASON_PREFIX}{target}"),
        )

    def render(self, menu: Menu, language: str, responses: Responses) -> Reply:
        """The answer of a hotlines or choices menu (a handoff menu has none of its own)."""
        lead = menu.lead.get(language) or menu.lead["ja"]
        buttons = [c.label_for(language) for c in menu.choices]
        if menu.offer_human:
            buttons += [b for b in responses.quick_replies(language) if b not in buttons]
        if menu.kind is MenuKind.HOTLINES:
            # Every line, 110/119 included, as the safety messages list them.
            block = responses.hotline_block(language, tuple(SafetyCategory), Urgency.EMERGENCY)
            return Reply(f"{lead}\n\n{block}", tuple(buttons))
        return Reply(lead, tuple(buttons))


@lru_cache(maxsize=1)
def default_menus() -> Menus:
    """The shipped menus, read once per process."""
    return Menus.load()


def _add(index: dict[str, Target], text: str, target: Target, path: Path) -> None:
    key = matching_form(text)
    if not key:
        raise ContentError(f"{path}: empty menu text or label {text!r}")
    if index.get(key, target) != target:
        raise ContentError(f"{path}: {text!r} leads to both {index[key]} and {target}")
    index[key] = target


def _texts(value: object, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(value.get(lang), str) and str(value[lang]).strip() for lang in LANGUAGES
    ):
        raise ContentError(f"{where}: needs a text for each of {', '.join(LANGUAGES)}")
    return {str(k): str(v) for k, v in value.items()}


def _menu(item: Any, path: Path) -> Menu:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        raise ContentError(f"{path}: every menu needs an 'id'")
    where = f"{path}: {item['id']}"
    try:
        kind = MenuKind(str(item.get("kind")))
    except ValueError as exc:
        kinds = ", ".join(k.value for k in MenuKind)
        raise ContentError(f"{where}: 'kind' must be one of {kinds}") from exc
    raw_texts = item.get("texts")
    if not isinstance(raw_texts, dict) or not raw_texts.get("ja"):
        raise ContentError(f"{where}: 'texts' needs at least one Japanese text")
    texts: dict[str, tuple[str, ...]] = {}
    for lang, words in raw_texts.items():
        if lang not in LANGUAGES or not isinstance(words, list):
            raise ContentError(f"{where}: 'texts' maps {', '.join(LANGUAGES)} to lists")
        texts[str(lang)] = tuple(str(w) for w in words)
    lead = {} if kind is MenuKind.HANDOFF else _texts(item.get("lead"), f"{where}: lead")
    raw_choices = item.get("choices") or []
    if (kind is MenuKind.CHOICES) != bool(raw_choices):
        raise ContentError(f"{where}: 'choices' are for (and required by) kind 'choices'")
    if not isinstance(raw_choices, list) or len(raw_choices) > MAX_CHOICES:
        raise ContentError(f"{where}: at most {MAX_CHOICES} choices")
    choices: list[Choice] = []
    for raw in raw_choices:
        if not isinstance(raw, dict):
            raise ContentError(f"{where}: a choice needs 'label' and 'target'")
        label = _texts(raw.get("label"), f"{where}: choice label")
        too_long = [t for t in label.values() if len(t) > MAX_LABEL]
        if too_long:
            raise ContentError(f"{where}: labels longer than {MAX_LABEL} characters: {too_long}")
        target = Target.parse(raw.get("target"))
        if target == Target("menu", str(item["id"])):
            raise ContentError(f"{where}: a choice cannot lead back to its own menu")
        choices.append(Choice(label, target))
    return Menu(
        menu_id=str(item["id"]),
        kind=kind,
        texts=texts,
        lead=lead,
        choices=tuple(choices),
        offer_human=bool(item.get("offer_human", False)),
    )
