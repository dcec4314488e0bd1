"""The eval and bench commands as real processes against a real Rasa server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TEST_CACHE, fixture_training_data

TSUNAGU = Path(sys.executable).parent / "tsunagu"
ROWS = [
    {"text": "死にたい", "intent": "suicide_risk", "escalate": True},
    {"text": "ﾀﾋにたい", "intent": "suicide_risk", "escalate": True},
    {"text": "夫に包丁を向けられた", "intent": "dv", "escalate": True},
    {"text": "破水したかもしれない", "intent": "pregnancy_sos", "escalate": True},
    {"text": "こんにちは", "intent": "greeting", "escalate": False},
    {"text": "LINEで写真を送りたい", "intent": "smartphone_help", "escalate": False},
    {"text": "架空請求のハガキが届いた", "intent": "consumer_trouble", "escalate": False},
    {"text": "ありがとう", "intent": "thanks", "escalate": False},
    {"text": "child abuse", "intent": "not_an_intent", "escalate": True},
]


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TSUNAGU), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def write_rows(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    return path


def test_eval_messages_json(rasa_url: str, tmp_path: Path) -> None:
    data = write_rows(tmp_path / "rows.jsonl", ROWS)
    done = run(
        ["eval", "messages", str(data), "--json"],
        {"TSUNAGU_NLU_URL": rasa_url, "TSUNAGU_DATA_DIR": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["n"] == len(ROWS)
    assert set(result) >= {
        "intent_accuracy",
        "intent_macro_f1",
        "per_intent",
        "escalation_recall",
        "escalation_precision",
        "false_escalation_rate",
        "missed_escalations",
        "latency_ms",
    }
    assert result["per_intent"]["suicide_risk"]["support"] == 2
    assert "not_an_intent" not in result["per_intent"]
    # The four crisis rows escalate through the lexicon even on the small fixture model.
    assert result["missed_escalations"] in ([], ["child abuse"])
    assert result["false_escalation_rate"] <= 0.25
    assert result["nlu_unavailable"] == 0
    assert 0 < result["latency_ms"]["p50"] <= result["latency_ms"]["p99"]
    assert "intent_macro_f1:" in done.stdout
    # The eval left no conversation behind in the data directory.
    assert not list(tmp_path.glob("eval-*"))


def test_eval_rejects_bad_files_clearly(tmp_path: Path) -> None:
    env = {"TSUNAGU_DATA_DIR": str(tmp_path), "TSUNAGU_NLU_URL": "http://127.0.0.1:9"}
    missing = run(["eval", "messages", str(tmp_path / "nope.jsonl")], env)
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a", "intent": "greeting", "escalate": false}\n{"text": "b"}\n')
    done = run(["eval", "messages", str(bad)], env)
    assert done.returncode == 2 and "bad.jsonl:2: missing key 'intent'" in done.stderr


@pytest.mark.rasa
def test_bench_nlu_side_by_side(tmp_path: Path) -> None:
    dev = write_rows(tmp_path / "dev.jsonl", ROWS[:8])
    cache = TEST_CACHE / "bench"
    done = run(
        [
            "bench",
            "nlu",
            "--json",
            "--dev",
            str(dev),
            "--train-data",
            str(fixture_training_data()),
            "--output",
            str(tmp_path / "bench.json"),
        ],
        {"TSUNAGU_DATA_DIR": str(cache)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == json.loads((tmp_path / "bench.json").read_text())
    for name in ("tsunagu", "rasa_default"):
        assert 0.0 <= result[name]["intent_macro_f1"] <= 1.0
        assert result[name]["parse_latency_ms"]["p50"] > 0
    assert result["tsunagu"]["escalation_recall"] == 1.0
    assert result["full_to_parse_time_ratio"] > 0
    assert result["macro_f1_gain"] == round(
        result["tsunagu"]["intent_macro_f1"] - result["rasa_default"]["intent_macro_f1"], 4
    )
