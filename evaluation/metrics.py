"""Classification and escalation metrics, computed by hand to keep the app venv small."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Prediction:
    """One evaluated message: gold labels, what the pipeline said, and how long it took."""

    text: str
    gold_intent: str
    gold_escalate: bool
    intent: str
    escalate: bool
    latency_ms: float


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return round(ordered[rank - 1], 3)


def intent_metrics(predictions: Sequence[Prediction], intents: Sequence[str]) -> dict[str, object]:
    """Accuracy, macro-F1 and per-intent P/R/F1 over rows whose gold label is a known intent.

    Macro-F1 averages over the intents that occur in the gold labels, so an intent absent
    from the file neither helps nor hurts.
    """
    rows = [p for p in predictions if p.gold_intent in intents]
    per_intent: dict[str, dict[str, float | int]] = {}
    for intent in intents:
        tp = sum(1 for p in rows if p.intent == intent and p.gold_intent == intent)
        fp = sum(1 for p in rows if p.intent == intent and p.gold_intent != intent)
        fn = sum(1 for p in rows if p.intent != intent and p.gold_intent == intent)
        support = tp + fn
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_intent[intent] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": support,
        }
    supported = [v["f1"] for v in per_intent.values() if v["support"]]
    return {
        "intent_accuracy": round(sum(p.intent == p.gold_intent for p in rows) / len(rows), 4)
        if rows
        else 0.0,
        "intent_macro_f1": round(sum(supported) / len(supported), 4) if supported else 0.0,
        "per_intent": per_intent,
    }


def escalation_metrics(predictions: Sequence[Prediction]) -> dict[str, object]:
    """Recall, precision and false-escalation rate of the escalate decision."""
    positives = [p for p in predictions if p.gold_escalate]
    negatives = [p for p in predictions if not p.gold_escalate]
    tp = sum(p.escalate for p in positives)
    flagged = sum(p.escalate for p in predictions)
    return {
        "escalation_recall": round(tp / len(positives), 4) if positives else 1.0,
        "escalation_precision": round(tp / flagged, 4) if flagged else 1.0,
        "false_escalation_rate": round(sum(p.escalate for p in negatives) / len(negatives), 4)
        if negatives
        else 0.0,
        "missed_escalations": [p.text for p in positives if not p.escalate],
    }


def latency_summary(values: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99 in milliseconds."""
    return {
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
    }
