"""`tsunagu redact` and `tsunagu bench redact` as real processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

TSUNAGU = Path(sys.executable).parent / "tsunagu"


def test_redact_cli_reads_stdin_and_reports_findings() -> None:
    done = subprocess.run(
        [str(TSUNAGU), "redact", "--json"],
        input="私は田中花子です。電話は０９０ー１２３４ー５６７８\n1,980円のお試し\n",
        capture_output=True,
        text=True,
        check=True,
    )
    first, second = (json.loads(line) for line in done.stdout.splitlines())
    assert first["redacted"] == "私は[person_name]です。電話は[phone]"
    assert {f["entity"] for f in first["findings"]} == {"person_name", "phone"}
    assert second == {"redacted": "1,980円のお試し", "findings": []}


def test_bench_redact_meets_structured_targets() -> None:
    done = subprocess.run(
        [str(TSUNAGU), "bench", "redact", "--json", "--n", "400", "--seed", "7"],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["n"] == 400
    for entity in ("email", "line_user_id", "card_number", "my_number"):
        assert result["recall"][entity] >= 0.99, entity
    assert result["structured_recall"] >= 0.98
    assert result["over_redaction_rate"] <= 0.02


def test_bench_redact_rejects_bad_size() -> None:
    done = subprocess.run(
        [str(TSUNAGU), "bench", "redact", "--n", "0"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2 and "--n must be at least 1" in done.stderr
