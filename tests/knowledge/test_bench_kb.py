"""``tsunagu bench kb``: clear failure without a query file; all variants side by side."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from app.cli import cli
from evaluation.bench_kb import distractor_entries, run_bench
from knowledge.base import KbPaths
from tests.knowledge.conftest import FIXTURE_CONTENT, MODEL_CACHE

QUERIES: list[dict[str, str | None]] = [
    {"query": "訪問販売の契約を取り消したい", "expected_id": "consumer.cooling_off.door_to_door"},
    {"query": "夫に殴られる", "expected_id": "dv.consult_where"},
    {"query": "ラインで孫に写真を送りたい", "expected_id": "line.send_photo"},
    {"query": "明日の天気は？", "expected_id": None},
]


def test_missing_query_file_fails_with_a_clear_message(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    result = CliRunner().invoke(cli, ["bench", "kb", "--no-nlu", "--queries", str(missing)])
    assert result.exit_code == 2
    assert "does not exist" in result.output and "--queries" in result.output


def test_bench_reports_every_variant_real_and_padded(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(
        "".join(json.dumps({**q, "language": "ja"}, ensure_ascii=False) + "\n" for q in QUERIES),
        encoding="utf-8",
    )
    paths = KbPaths(FIXTURE_CONTENT, MODEL_CACHE, tmp_path / "index")
    result = run_bench(queries_path=path, kb_paths=paths, intents=None, pad_to=60)
    assert result["padded_entries"] == 60
    for bucket in ("variants", "padded"):
        assert set(result[bucket]) == {"dense", "bm25", "teacher", "hybrid"}
        for metrics in result[bucket].values():
            assert metrics["answerable"] == 3
            assert 0.0 <= metrics["recall_at_1"] <= metrics["mrr_at_5"] <= 1.0
            assert metrics["latency_ms_p50"] > 0
    assert result["variants"]["hybrid"]["recall_at_1"] == 1.0
    assert result["variants"]["hybrid"]["null_rejection_rate"] == 1.0


def test_distractors_are_unique_synthetic_entries() -> None:
    entries = distractor_entries(500)
    assert len({e.entry_id for e in entries}) == 500
    assert len({e.title["ja"] for e in entries}) == 500
    assert all(len(e.phrasings["ja"]) >= 3 for e in entries)
