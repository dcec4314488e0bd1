"""`tsunagu eval kb` and `tsunagu eval dialogues` as real processes: real Rasa, real knowledge base.

The knowledge base's embedding model is the shared test build (``kb_model_dir``), so it is
distilled once per machine, like the fixture Rasa model.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.test_cli import run, write_rows


def test_bad_files_fail_before_any_model_is_loaded(tmp_path: Path) -> None:
    env = {"TSUNAGU_DATA_DIR": str(tmp_path), "TSUNAGU_NLU_URL": "http://127.0.0.1:9"}
    missing = run(["eval", "dialogues", str(tmp_path / "nope.jsonl")], env)
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    bad = write_rows(
        tmp_path / "bad.jsonl",
        [
            {"turns": ["a"], "handoff": False},
            {"turns": ["a"], "handoff": True, "handoff_by_turn": 0},
        ],
    )
    done = run(["eval", "dialogues", str(bad)], env)
    assert done.returncode == 2 and "row 2" in done.stderr and "handoff_by_turn" in done.stderr
    kb = write_rows(tmp_path / "kb.jsonl", [{"query": "a"}])
    done = run(["eval", "kb", str(kb)], env)
    assert done.returncode == 2 and "missing key 'answer_must_contain_any'" in done.stderr
    assert not (tmp_path / "kb").exists()  # no knowledge base was built


@pytest.mark.rasa
def test_eval_dialogues_and_kb_json(rasa_url: str, kb_model_dir: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {
        "TSUNAGU_NLU_URL": rasa_url,
        "TSUNAGU_DATA_DIR": str(data_dir),
        "TSUNAGU_KB_MODEL_DIR": str(kb_model_dir),
    }
    dialogues = write_rows(
        tmp_path / "dialogues.jsonl",
        [
            {
                "turns": ["LINEで写真を送りたい", "できた", "でけた", "もう死にたい"],
                "handoff": True,
                "handoff_by_turn": 4,
                "replies_must_contain": [["1 / "], ["2 / "], ["3 / "], ["0120-279-338"]],
            },
            {"turns": ["死にたい"], "handoff": True, "handoff_by_turn": 1},
            {
                "turns": ["LINEで写真を送りたい", "やめる"],
                "handoff": False,
                "handoff_by_turn": None,
            },
        ],
    )
    done = run(["eval", "dialogues", str(dialogues), "--json"], env)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["n"] == 3 and result["turns"] == 7
    assert result["handoff_correct_rate"] == 1.0, result["failures"]
    assert result["late_handoffs"] == result["false_handoffs"] == 0
    assert result["reply_check_rate"] == 1.0, result["failures"]
    assert 0 < result["turn_latency_ms"]["p50"] <= result["turn_latency_ms"]["p95"]
    assert "handoff_correct_rate:" in done.stdout

    kb = write_rows(
        tmp_path / "kb.jsonl",
        [
            {"query": "LINEで写真を送りたい", "answer_must_contain_any": ["写真"]},
            {
                "query": "クーリングオフってなに",
                "answer_must_contain_any": ["8日", "８日"],
                "answer_must_contain_all": ["クーリング"],
            },
            {"query": "死にたい", "answer_must_contain_any": ["この言葉は返事にない"]},
        ],
    )
    done = run(["eval", "kb", str(kb), "--json"], env)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["n"] == 3 and result["accuracy"] == round(2 / 3, 4), result["failures"]
    assert [f["row"] for f in result["failures"]] == [3] and result["handoffs"] == 1
    assert not list(data_dir.glob("eval-*"))
