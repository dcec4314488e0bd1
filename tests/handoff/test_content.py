"""Canned replies and outcome codes load and validate."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from handoff.canned import CANNED_FILE, CannedReplies
from handoff.errors import HandoffConfigError, UnknownOutcome
from handoff.outcomes import Outcomes


def test_canned_replies_cover_the_counselor_session() -> None:
    canned = CannedReplies.load()
    assert 10 <= len(canned.replies) <= 15
    for category in ("opening", "waiting", "safety", "referral", "closing"):
        assert canned.by_category(category), category
    referral_text = " ".join(r.text for r in canned.by_category("referral"))
    for number in ("110", "119", "189", "#8008"):
        assert number in referral_text
    assert canned.get("opening_hello").category == "opening"
    assert canned.system.text("returned_to_bot")


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "canned.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_duplicate_ids_and_unknown_categories_are_rejected(tmp_path: Path) -> None:
    data = yaml.safe_load(CANNED_FILE.read_text(encoding="utf-8"))
    data["replies"].append(dict(data["replies"][0]))
    with pytest.raises(HandoffConfigError, match="duplicate reply ids"):
        CannedReplies.load(_write(tmp_path, data))
    data = yaml.safe_load(CANNED_FILE.read_text(encoding="utf-8"))
    data["replies"][0]["category"] = "gossip"
    with pytest.raises(HandoffConfigError, match="unknown category"):
        CannedReplies.load(_write(tmp_path, data))
    data = yaml.safe_load(CANNED_FILE.read_text(encoding="utf-8"))
    del data["system"]["closed"]
    with pytest.raises(HandoffConfigError, match="closed"):
        CannedReplies.load(_write(tmp_path, data))


def test_outcomes_include_the_referral_path() -> None:
    outcomes = Outcomes.load()
    for code in (
        "referred_police",
        "referred_jidou_soudanjo",
        "referred_dv_center",
        "referred_consumer_center",
        "advice_given",
        "no_response",
        "other",
    ):
        assert outcomes.check(code) == code
    with pytest.raises(UnknownOutcome):
        outcomes.check("solved_everything")


def test_bad_outcome_file(tmp_path: Path) -> None:
    path = tmp_path / "outcomes.yml"
    path.write_text("outcomes:\n  Bad Code: x\n", encoding="utf-8")
    with pytest.raises(HandoffConfigError, match="bad outcome code"):
        Outcomes.load(path)
