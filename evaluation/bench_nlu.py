"""``tsunagu bench nlu``: Tsunagu's Japanese pipeline against Rasa's ``rasa init`` default.

Both models are trained on the same data and served by real Rasa processes; both are
scored on the same held-out file. The baseline's escalation decision is the classifier's
alone (sensitive intent or human_request on top); Tsunagu's is the full safety pipeline.
The time ratio compares Tsunagu's full per-message time (engine.handle) to the bare
``/model/parse`` round trip for the same messages on the same model.
"""

from __future__ import annotations

import contextlib
import functools
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from app.wiring import build_runtime
from bot.types import INTENTS, SENSITIVE_INTENTS, IncomingMessage
from core.config import Settings
from evaluation.dataset import read_jsonl
from evaluation.messages import MESSAGE_KEYS, scratch_settings
from evaluation.metrics import Prediction, escalation_metrics, intent_metrics, latency_summary
from nlu.client import result_from_rasa
from nlu.service import BASELINE_CONFIG, NLU_DIR, TRAINING_DATA, running_nlu

DEFAULT_DEV = NLU_DIR / "eval" / "dev_messages.jsonl"
BASELINE_ESCALATES = frozenset({*SENSITIVE_INTENTS, "human_request"})


async def _parse_all(url: str, rows: list[dict[str, Any]]) -> tuple[list[str], list[float]]:
    intents: list[str] = []
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=10.0) as client:
        await client.post("/model/parse", json={"text": "warm up"})
        for row in rows:
            started = time.perf_counter()
            response = await client.post("/model/parse", json={"text": row["text"]})
            latencies.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            intents.append(result_from_rasa(response.json()).intent)
    return intents, latencies


def _score(
    rows: list[dict[str, Any]], intents: list[str], escalates: list[bool], latencies: list[float]
) -> dict[str, Any]:
    predictions = [
        Prediction(r["text"], r["intent"], r["escalate"], i, e, t)
        for r, i, e, t in zip(rows, intents, escalates, latencies, strict=True)
    ]
    escalation = escalation_metrics(predictions)
    return {
        **intent_metrics(predictions, INTENTS),
        "escalation_recall": escalation["escalation_recall"],
        "false_escalation_rate": escalation["false_escalation_rate"],
    }


async def run_bench(
    settings: Settings,
    *,
    dev: Path | None,
    train_data: Path | None,
    models_dir: Path,
    work_dir: Path,
    log_file: Path,
) -> dict[str, Any]:
    """Trains (cached) and serves both models, and returns the side-by-side result."""
    rows = read_jsonl(dev or DEFAULT_DEV, MESSAGE_KEYS)
    data = train_data or TRAINING_DATA
    local_nlu = functools.partial(
        running_nlu,
        configured_url=None,
        quiet=True,
        models_dir=models_dir,
        work_dir=work_dir,
        log_file=log_file,
        data=data,
    )
    async with local_nlu(name="baseline", config=BASELINE_CONFIG) as url:
        base_intents, base_latency = await _parse_all(url, rows)

    async with local_nlu() as url:
        parse_intents, parse_latency = await _parse_all(url, rows)
        with tempfile.TemporaryDirectory(dir=settings.resolved_data_dir, prefix="bench-") as tmp:
            runtime = build_runtime(scratch_settings(settings, Path(tmp)), nlu_url=url)
            full_latency: list[float] = []
            full_intents: list[str] = []
            full_escalates: list[bool] = []
            try:
                for row in rows:
                    started = time.perf_counter()
                    result = await runtime.engine.handle(
                        IncomingMessage(
                            channel="bench", user_ref=str(uuid.uuid4()), text=row["text"]
                        )
                    )
                    full_latency.append((time.perf_counter() - started) * 1000)
                    full_intents.append(result.assessment.intent)
                    full_escalates.append(result.assessment.escalate)
            finally:
                with contextlib.suppress(Exception):
                    await runtime.aclose()

    tsunagu = _score(rows, full_intents, full_escalates, full_latency)
    tsunagu["classifier_only_macro_f1"] = intent_metrics(
        [
            Prediction(r["text"], r["intent"], r["escalate"], i, False, 0.0)
            for r, i in zip(rows, parse_intents, strict=True)
        ],
        INTENTS,
    )["intent_macro_f1"]
    tsunagu["parse_latency_ms"] = latency_summary(parse_latency)
    tsunagu["full_message_latency_ms"] = latency_summary(full_latency)
    baseline = _score(
        rows, base_intents, [i in BASELINE_ESCALATES for i in base_intents], base_latency
    )
    baseline["parse_latency_ms"] = latency_summary(base_latency)
    parse_p50 = tsunagu["parse_latency_ms"]["p50"] or 1e-9
    return {
        "n": len(rows),
        "dev_file": str(dev or DEFAULT_DEV),
        "tsunagu": tsunagu,
        "rasa_default": baseline,
        "macro_f1_gain": round(tsunagu["intent_macro_f1"] - baseline["intent_macro_f1"], 4),
        "full_to_parse_time_ratio": round(tsunagu["full_message_latency_ms"]["p50"] / parse_p50, 3),
    }
