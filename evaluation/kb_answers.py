"""``tsunagu eval kb``: residents' questions through the whole pipeline, answers checked.

Each query is the first message of a fresh conversation (NLU → safety → policy → knowledge
base → reply), and the bot's reply text must contain the expected words. Matching ignores
width, case and spacing, because answers are written with spaces between phrases
(分かち書き) and expectations usually are not.
"""

from __future__ import annotations

import time
import unicodedata
import uuid
from pathlib import Path
from typing import Any

from bot.types import IncomingMessage, TurnResult
from core.config import Settings
from evaluation.dataset import DatasetError, read_jsonl
from evaluation.metrics import latency_summary
from evaluation.scratch import scratch_runtime
from knowledge.types import KnowledgeSource

KB_KEYS: dict[str, type | tuple[type, ...]] = {"query": str, "answer_must_contain_any": list}
REPLY_PREVIEW_CHARS = 160


def comparable(text: str) -> str:
    """NFKC, case-folded, without whitespace: the form expectations are checked in."""
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


def reply_text(result: TurnResult) -> str:
    """Everything the resident sees: reply texts and any step card title."""
    parts: list[str] = []
    for reply in result.replies:
        parts.append(reply.text)
        if reply.card is not None:
            parts.append(reply.card.title)
    return "\n".join(parts)


def check_reply(text: str, must_any: list[str], must_all: list[str]) -> bool:
    """True when ``text`` has one of ``must_any`` (if given) and all of ``must_all``."""
    seen = comparable(text)
    any_ok = not must_any or any(comparable(w) in seen for w in must_any)
    return any_ok and all(comparable(w) in seen for w in must_all)


def _expectations(row: dict[str, Any], path: Path, number: int) -> tuple[list[str], list[str]]:
    must_any = row["answer_must_contain_any"]
    must_all = row.get("answer_must_contain_all") or []
    if not isinstance(must_all, list):
        raise DatasetError(f"{path}: row {number}: 'answer_must_contain_all' must be a list")
    words = [*must_any, *must_all]
    if not words or not all(isinstance(w, str) and w.strip() for w in words):
        raise DatasetError(f"{path}: row {number}: expectations must be non-empty strings")
    return [str(w) for w in must_any], [str(w) for w in must_all]


def read_kb_rows(path: Path) -> list[tuple[str, list[str], list[str]]]:
    """The file's (query, must-contain-any, must-contain-all) rows; DatasetError if malformed."""
    rows = read_jsonl(path, KB_KEYS)
    return [
        (row["query"], *_expectations(row, path, number))
        for number, row in enumerate(rows, start=1)
    ]


async def evaluate_kb(
    settings: Settings, nlu_url: str, path: Path, knowledge: KnowledgeSource | None = None
) -> dict[str, Any]:
    """Runs every query through the engine and returns accuracy and the failures."""
    rows = read_kb_rows(path)
    failures: list[dict[str, Any]] = []
    latencies: list[float] = []
    handoffs = 0
    async with scratch_runtime(settings, nlu_url, knowledge) as runtime:
        for number, (query, must_any, must_all) in enumerate(rows, start=1):
            started = time.perf_counter()
            result = await runtime.engine.handle(
                IncomingMessage(channel="eval", user_ref=str(uuid.uuid4()), text=query)
            )
            latencies.append((time.perf_counter() - started) * 1000)
            handoffs += result.case_id is not None
            text = reply_text(result)
            if not check_reply(text, must_any, must_all):
                failures.append(
                    {
                        "row": number,
                        "query": query,
                        "intent": result.assessment.intent,
                        "reply": text[:REPLY_PREVIEW_CHARS],
                    }
                )
    n = len(rows)
    return {
        "n": n,
        "accuracy": round((n - len(failures)) / n, 4),
        "failures": failures,
        # Queries that opened a counselor case (crisis words, or a request for a person).
        "handoffs": handoffs,
        "latency_ms": latency_summary(latencies),
    }
