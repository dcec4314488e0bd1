"""eval kb / eval dialogues on the real runtime (SQLite) with the NLU down and a small KB.

With Rasa unreachable the safety lexicon decides alone, and the knowledge base is the test
fake: enough to check that the evaluations count handoffs, late and false handoffs, guide
replies and reply checks correctly. The real Rasa and knowledge base are exercised by
``tests/integration/test_conversation_eval_cli.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.config import Settings
from evaluation.dataset import DatasetError
from evaluation.dialogues import evaluate_dialogues, judge
from evaluation.kb_answers import check_reply, comparable, evaluate_kb
from tests.bot.fake_knowledge import FakeKnowledge

DEAD_NLU = "http://127.0.0.1:9"


@pytest.fixture
def eval_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, nlu_timeout_seconds=0.5, _env_file=None)


def write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    return path


def test_matching_ignores_width_case_and_spacing() -> None:
    assert comparable("ＬＩＮＥの 設定を ひらく") == "lineの設定をひらく"
    assert check_reply("消費者ホットライン「188」に 電話 してください", ["電話して"], [])
    assert check_reply("a b", ["x", "A"], ["B"])
    assert not check_reply("a b", ["x"], [])
    assert not check_reply("a b", [], ["a", "c"])


@pytest.mark.parametrize(
    ("expected", "by", "at", "verdict"),
    [
        (True, 2, 2, "correct"),
        (True, 2, 1, "correct"),
        (True, None, 5, "correct"),
        (True, 2, 3, "late"),
        (True, 2, None, "missed"),
        (False, None, None, "correct"),
        (False, None, 4, "false"),
    ],
)
def test_judge(expected: bool, by: int | None, at: int | None, verdict: str) -> None:
    assert judge(expected, by, at) == verdict


async def test_dialogues_count_correct_late_missed_and_false_handoffs(
    eval_settings: Settings, tmp_path: Path
) -> None:
    rows: list[dict[str, object]] = [
        {"turns": ["こんにちは", "死にたい"], "handoff": True, "handoff_by_turn": 2},
        {"turns": ["こんにちは", "ありがとう"], "handoff": False, "handoff_by_turn": None},
        {"turns": ["こんにちは", "消えたい"], "handoff": True, "handoff_by_turn": 1},
        {"turns": ["こんにちは"], "handoff": True, "handoff_by_turn": 1},
        {"turns": ["人と話す"], "handoff": False, "handoff_by_turn": None},
        {
            "turns": ["こんにちは", "しにたい"],
            "handoff": True,
            "handoff_by_turn": 2,
            "replies_must_contain": [None, ["0120-279-338"]],
        },
        {
            "turns": ["しにたい"],
            "handoff": True,
            "handoff_by_turn": 1,
            "replies_must_contain": [["この文は返事にない"]],
        },
        {
            "turns": ["文字を大きくしたい", "できた", "でけた", "ＯＫ"],
            "handoff": False,
            "handoff_by_turn": None,
            "replies_must_contain": [["1 / 3"], ["2 / 3"], ["3 / 3"], ["おわりです"]],
        },
    ]
    result = await evaluate_dialogues(
        eval_settings, DEAD_NLU, write(tmp_path / "d.jsonl", rows), FakeKnowledge()
    )
    assert result["n"] == 8 and result["turns"] == 15
    assert (result["late_handoffs"], result["missed_handoffs"], result["false_handoffs"]) == (
        1,
        1,
        1,
    )
    assert result["handoff_correct_rate"] == round(5 / 8, 4)
    assert result["reply_checks"] == 6 and result["reply_check_rate"] == round(5 / 6, 4)
    kinds = sorted((f["row"], f["kind"]) for f in result["failures"])
    assert kinds == [(3, "late_handoff"), (4, "missed_handoff"), (5, "false_handoff"), (7, "reply")]
    assert 0 < result["turn_latency_ms"]["p50"] <= result["turn_latency_ms"]["p95"]
    assert not list(tmp_path.glob("eval-*"))  # the scratch database is gone


async def test_kb_eval_checks_each_reply(eval_settings: Settings, tmp_path: Path) -> None:
    rows: list[dict[str, object]] = [
        {"query": "死にたい", "answer_must_contain_any": ["0120-279-338", "#9110"]},
        {
            "query": "しにたい",
            "answer_must_contain_any": [],
            "answer_must_contain_all": ["0120-279-338", "返事にない言葉"],
        },
    ]
    result = await evaluate_kb(
        eval_settings, DEAD_NLU, write(tmp_path / "kb.jsonl", rows), FakeKnowledge()
    )
    assert result["n"] == 2 and result["accuracy"] == 0.5 and result["handoffs"] == 2
    [failure] = result["failures"]
    assert failure["row"] == 2 and failure["query"] == "しにたい" and failure["reply"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"turns": [], "handoff": False}, "turns"),
        ({"turns": ["a"], "handoff": True, "handoff_by_turn": 0}, "handoff_by_turn"),
        ({"turns": ["a"], "handoff": True, "handoff_by_turn": True}, "handoff_by_turn"),
        ({"turns": ["a", "b"], "handoff": False, "replies_must_contain": [None]}, "one per turn"),
        ({"turns": ["a"], "handoff": "no"}, "wrong type"),
    ],
)
async def test_bad_dialogue_files_are_refused(
    eval_settings: Settings, tmp_path: Path, row: dict[str, object], message: str
) -> None:
    with pytest.raises(DatasetError, match=message):
        await evaluate_dialogues(
            eval_settings, DEAD_NLU, write(tmp_path / "bad.jsonl", [row]), FakeKnowledge()
        )


@pytest.mark.parametrize(
    "row",
    [
        {"query": "a", "answer_must_contain_any": []},
        {"query": "a", "answer_must_contain_any": [""]},
        {"query": "a", "answer_must_contain_any": ["x"], "answer_must_contain_all": "x"},
    ],
)
async def test_bad_kb_files_are_refused(
    eval_settings: Settings, tmp_path: Path, row: dict[str, object]
) -> None:
    with pytest.raises(DatasetError):
        await evaluate_kb(
            eval_settings, DEAD_NLU, write(tmp_path / "bad.jsonl", [row]), FakeKnowledge()
        )
