"""``tsunagu eval dialogues``: whole conversations, checking that a person comes in time.

Each line plays its ``turns`` as one resident's conversation through the full pipeline. A
handoff is the first turn after which the conversation has a counselor case (a crisis or a
request for a person). ``handoff_by_turn`` is 1-based: with 3, a case must exist after the
third message at the latest. A dialogue with ``handoff: false`` must never open a case —
guides, FAQ answers and honest "I don't know"s are not handoffs.

Development files may also give ``replies_must_contain``: one entry per turn, null or a list
of words the bot's reply to that turn must contain (any of them); it is reported separately.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from bot.types import IncomingMessage
from core.config import Settings
from evaluation.dataset import DatasetError, read_jsonl
from evaluation.kb_answers import REPLY_PREVIEW_CHARS, check_reply, reply_text
from evaluation.metrics import percentile
from evaluation.scratch import scratch_runtime
from knowledge.types import KnowledgeSource

DIALOGUE_KEYS: dict[str, type | tuple[type, ...]] = {"turns": list, "handoff": bool}


def _validate(row: dict[str, Any], path: Path, number: int) -> None:
    turns = row["turns"]
    if not turns or not all(isinstance(t, str) and t.strip() for t in turns):
        raise DatasetError(f"{path}: row {number}: 'turns' must be non-empty strings")
    by = row.get("handoff_by_turn")
    if by is not None and (isinstance(by, bool) or not isinstance(by, int) or by < 1):
        raise DatasetError(f"{path}: row {number}: 'handoff_by_turn' must be null or ≥ 1")
    checks = row.get("replies_must_contain")
    if checks is not None and (not isinstance(checks, list) or len(checks) != len(turns)):
        raise DatasetError(f"{path}: row {number}: 'replies_must_contain' needs one per turn")


def read_dialogues(path: Path) -> list[dict[str, Any]]:
    """The file's dialogues, checked; DatasetError names the first bad line."""
    rows = read_jsonl(path, DIALOGUE_KEYS)
    for number, row in enumerate(rows, start=1):
        _validate(row, path, number)
    return rows


def judge(expected: bool, by_turn: int | None, handed_off_at: int | None) -> str:
    """``correct``, ``late``, ``missed`` or ``false`` for one dialogue."""
    if not expected:
        return "correct" if handed_off_at is None else "false"
    if handed_off_at is None:
        return "missed"
    if by_turn is not None and handed_off_at > by_turn:
        return "late"
    return "correct"


async def evaluate_dialogues(
    settings: Settings, nlu_url: str, path: Path, knowledge: KnowledgeSource | None = None
) -> dict[str, Any]:
    """Plays every dialogue and returns handoff correctness and per-turn latency."""
    rows = read_dialogues(path)
    verdicts: dict[str, list[int]] = {"correct": [], "late": [], "missed": [], "false": []}
    failures: list[dict[str, Any]] = []
    reply_checks = reply_failures = 0
    latencies: list[float] = []
    async with scratch_runtime(settings, nlu_url, knowledge) as runtime:
        for number, row in enumerate(rows, start=1):
            user = str(uuid.uuid4())
            handed_off_at: int | None = None
            checks = row.get("replies_must_contain") or [None] * len(row["turns"])
            for turn_no, (text, must) in enumerate(zip(row["turns"], checks, strict=True), 1):
                started = time.perf_counter()
                result = await runtime.engine.handle(
                    IncomingMessage(channel="eval", user_ref=user, text=text)
                )
                latencies.append((time.perf_counter() - started) * 1000)
                if handed_off_at is None and result.case_id is not None:
                    handed_off_at = turn_no
                if must:
                    reply_checks += 1
                    said = reply_text(result)
                    if not check_reply(said, [str(w) for w in must], []):
                        reply_failures += 1
                        failures.append(
                            {
                                "row": number,
                                "turn": turn_no,
                                "kind": "reply",
                                "reply": said[:REPLY_PREVIEW_CHARS],
                            }
                        )
            verdict = judge(row["handoff"], row.get("handoff_by_turn"), handed_off_at)
            verdicts[verdict].append(number)
            if verdict != "correct":
                failures.append(
                    {
                        "row": number,
                        "kind": f"{verdict}_handoff",
                        "handed_off_at": handed_off_at,
                        "handoff_by_turn": row.get("handoff_by_turn"),
                    }
                )
    n = len(rows)
    return {
        "n": n,
        "handoff_correct_rate": round(len(verdicts["correct"]) / n, 4),
        "late_handoffs": len(verdicts["late"]),
        "missed_handoffs": len(verdicts["missed"]),
        "false_handoffs": len(verdicts["false"]),
        "turns": len(latencies),
        "turn_latency_ms": {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95)},
        "reply_checks": reply_checks,
        "reply_check_rate": round((reply_checks - reply_failures) / reply_checks, 4)
        if reply_checks
        else None,
        "failures": failures,
    }
