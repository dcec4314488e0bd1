"""The crisis lexicon against the reviewed regression lists in tests/data/crisis_regressions.yml."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.errors import ContentError
from bot.safety.lexicon import CrisisLexicon
from bot.types import SafetyCategory, Urgency

REGRESSIONS = yaml.safe_load(
    (Path(__file__).parents[1] / "data" / "crisis_regressions.yml").read_text(encoding="utf-8")
)
# The phrases the requirements name explicitly; they must be in the list and must escalate.
REQUIRED = [
    "消えたい",
    "いなくなりたい",
    "全部終わりにしたい",
    "OD",
    "薬ためてる",
    "ﾀﾋにたい",
    "しにたい",
    "遺書",
    "屋上",
    "包丁",
    "首を絞められた",
    "破水",
    "自宅で産まれそう",
]


def test_regression_lists_are_substantial() -> None:
    assert len(REGRESSIONS["must_escalate"]) >= 150
    assert len(REGRESSIONS["must_be_emergency"]) >= 40
    assert len(REGRESSIONS["must_not_escalate"]) >= 80


@pytest.mark.parametrize("phrase", REQUIRED)
def test_required_phrases_are_covered(phrase: str, lexicon: CrisisLexicon) -> None:
    texts = [
        item["text"] for item in REGRESSIONS["must_escalate"] + REGRESSIONS["must_be_emergency"]
    ]
    assert any(phrase in t for t in texts), f"{phrase} missing from the regression list"


@pytest.mark.parametrize("item", REGRESSIONS["must_escalate"], ids=lambda i: i["text"][:20])
def test_must_escalate(item: dict[str, str], lexicon: CrisisLexicon) -> None:
    categories = {m.category for m in lexicon.match(item["text"])}
    assert SafetyCategory(item["category"]) in categories


@pytest.mark.parametrize("item", REGRESSIONS["must_be_emergency"], ids=lambda i: i["text"][:20])
def test_must_be_emergency(item: dict[str, str], lexicon: CrisisLexicon) -> None:
    matches = lexicon.match(item["text"])
    assert any(
        m.urgency is Urgency.EMERGENCY and m.category is SafetyCategory(item["category"])
        for m in matches
    ), matches


@pytest.mark.parametrize("text", REGRESSIONS["must_not_escalate"], ids=lambda t: t[:20])
def test_confusables_do_not_fire(text: str, lexicon: CrisisLexicon) -> None:
    assert lexicon.match(text) == []


def test_detection_does_not_depend_on_the_hour(lexicon: CrisisLexicon) -> None:
    # No clock is consulted: the same text gives the same verdict (01:00-05:00 is peak time).
    assert lexicon.match("消えたい") == lexicon.match("消えたい")


def test_bad_rule_fails_loading_with_its_id(tmp_path: Path) -> None:
    bad = tmp_path / "lexicon.yml"
    bad.write_text(
        "rules:\n  - id: x.bad\n    category: suicide\n    urgency: high\n    regex: ['(']\n",
        encoding="utf-8",
    )
    with pytest.raises(ContentError, match=r"x\.bad"):
        CrisisLexicon.load(bad)
    bad.write_text(
        "rules:\n  - id: x.low\n    category: suicide\n    urgency: normal\n    phrases: [a]\n",
        encoding="utf-8",
    )
    with pytest.raises(ContentError, match="high or emergency"):
        CrisisLexicon.load(bad)
