"""The crisis lexicon: reviewed phrase and regex rules that flag danger in any message.

A classifier can miss a phrasing it never saw; the lexicon catches the phrasings people in
crisis actually use (indirect: 消えたい; obfuscated: ﾀﾋにたい; means: 薬ためてる). Rules can
only raise urgency: nothing here lowers what the classifier said. Rules live in
``bot/content/safety/lexicon.yml``; every pattern is matched against
:func:`nlu.normalize.matching_form` of the message, so phrases are written naturally and
normalised the same way at load time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bot.content_files import CONTENT_DIR, load_yaml
from bot.errors import ContentError
from bot.types import LexiconMatch, SafetyCategory, Urgency
from nlu.normalize import matching_form

DEFAULT_LEXICON = CONTENT_DIR / "safety" / "lexicon.yml"


@dataclass(frozen=True)
class LexiconRule:
    """One reviewed rule: fires when a phrase or regex matches and no ``unless`` phrase does."""

    rule_id: str
    category: SafetyCategory
    urgency: Urgency
    pattern: re.Pattern[str]
    unless: re.Pattern[str] | None


class CrisisLexicon:
    """Matches all rules in one pass per rule over the normalised text."""

    def __init__(self, rules: list[LexiconRule]) -> None:
        """Keeps the compiled rules; use :meth:`load` to read them from content."""
        self.rules = rules

    @classmethod
    def load(cls, path: Path = DEFAULT_LEXICON) -> CrisisLexicon:
        """Reads and validates the lexicon file; a bad rule stops start-up with its id."""
        data = load_yaml(path)
        raw_rules = data.get("rules")
        if not isinstance(raw_rules, list) or not raw_rules:
            raise ContentError(f"{path}: 'rules' must be a non-empty list")
        rules: list[LexiconRule] = []
        seen: set[str] = set()
        for raw in raw_rules:
            rule = _parse_rule(raw, path)
            if rule.rule_id in seen:
                raise ContentError(f"{path}: duplicate rule id {rule.rule_id!r}")
            seen.add(rule.rule_id)
            rules.append(rule)
        return cls(rules)

    def match(self, text: str) -> list[LexiconMatch]:
        """Returns every rule that fires on ``text`` (already normalised or raw; both work)."""
        form = matching_form(text)
        return [
            LexiconMatch(rule_id=r.rule_id, category=r.category, urgency=r.urgency)
            for r in self.rules
            if r.pattern.search(form) and not (r.unless and r.unless.search(form))
        ]


def _alternation(phrases: list[str], regexes: list[str]) -> str:
    parts = [re.escape(matching_form(p)) for p in phrases if matching_form(p)]
    return "|".join(parts + [f"(?:{r})" for r in regexes])


def _parse_rule(raw: object, path: Path) -> LexiconRule:
    if not isinstance(raw, dict) or "id" not in raw:
        raise ContentError(f"{path}: every rule needs an 'id' (got {raw!r:.80})")
    rule_id = str(raw["id"])
    try:
        category = SafetyCategory(raw["category"])
        urgency = Urgency.parse(str(raw["urgency"]))
    except (KeyError, ValueError) as exc:
        raise ContentError(f"{path}: rule {rule_id}: bad category/urgency: {exc}") from exc
    if urgency is Urgency.NORMAL:
        raise ContentError(f"{path}: rule {rule_id}: a crisis rule must be high or emergency")
    phrases = [str(p) for p in raw.get("phrases") or []]
    regexes = [str(p) for p in raw.get("regex") or []]
    if not phrases and not regexes:
        raise ContentError(f"{path}: rule {rule_id} has neither phrases nor regex")
    unless_phrases = [str(p) for p in raw.get("unless") or []]
    unless_regexes = [str(p) for p in raw.get("unless_regex") or []]
    try:
        pattern = re.compile(_alternation(phrases, regexes))
        unless = (
            re.compile(_alternation(unless_phrases, unless_regexes))
            if unless_phrases or unless_regexes
            else None
        )
    except re.error as exc:
        raise ContentError(f"{path}: rule {rule_id}: invalid regex: {exc}") from exc
    return LexiconRule(rule_id, category, urgency, pattern, unless)
