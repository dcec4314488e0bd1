"""``tsunagu eval messages``: the full per-message pipeline over a labelled file.

Each text is the first message of a fresh conversation in a throw-away database, so the
evaluation exercises exactly what a resident's first message goes through (normalise →
NLU → safety → policy → encrypted transcript) and leaves nothing behind.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from app.wiring import build_runtime
from bot.types import INTENTS, IncomingMessage
from core.config import Settings
from evaluation.dataset import read_jsonl
from evaluation.metrics import Prediction, escalation_metrics, intent_metrics, latency_summary

MESSAGE_KEYS: dict[str, type | tuple[type, ...]] = {"text": str, "intent": str, "escalate": bool}


def scratch_settings(settings: Settings, scratch: Path) -> Settings:
    """Settings pointing at a temporary database and keys, keeping the NLU configuration."""
    return settings.model_copy(
        update={
            "data_dir": scratch,
            "database_url": f"sqlite:///{scratch / 'eval.db'}",
            "master_key": None,
            "user_key_pepper": None,
        }
    )


async def evaluate_messages(settings: Settings, nlu_url: str, path: Path) -> dict[str, Any]:
    """Runs every row through the engine and returns the metrics dictionary."""
    rows = read_jsonl(path, MESSAGE_KEYS)
    with tempfile.TemporaryDirectory(dir=settings.resolved_data_dir, prefix="eval-") as tmp:
        runtime = build_runtime(scratch_settings(settings, Path(tmp)), nlu_url=nlu_url)
        predictions: list[Prediction] = []
        nlu_unavailable = 0
        try:
            for row in rows:
                started = time.perf_counter()
                result = await runtime.engine.handle(
                    IncomingMessage(channel="eval", user_ref=str(uuid.uuid4()), text=row["text"])
                )
                elapsed = (time.perf_counter() - started) * 1000
                nlu_unavailable += not result.assessment.nlu_available
                predictions.append(
                    Prediction(
                        text=row["text"],
                        gold_intent=row["intent"],
                        gold_escalate=row["escalate"],
                        intent=result.assessment.intent,
                        escalate=result.assessment.escalate,
                        latency_ms=elapsed,
                    )
                )
        finally:
            await runtime.aclose()
    return {
        "n": len(predictions),
        **intent_metrics(predictions, INTENTS),
        **escalation_metrics(predictions),
        "latency_ms": latency_summary([p.latency_ms for p in predictions]),
        # Rows the NLU did not answer in time (the safety layer decided alone).
        "nlu_unavailable": nlu_unavailable,
    }
