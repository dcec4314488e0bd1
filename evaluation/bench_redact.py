"""``tsunagu bench redact``: recall per PII type and over-redaction on the synthetic corpus.

An entity counts as caught when findings cover every character of it, whatever label they
carry (what matters is that the text is gone). A decoy (price, event date, public hotline…)
counts as over-redacted when any finding touches it.
"""

from __future__ import annotations

import time
from typing import Any

from evaluation.metrics import latency_summary
from privacy.corpus import generate
from privacy.entities import ENTITY_TYPES, STRUCTURED_TYPES
from privacy.redact import find_pii


def run_bench(n: int = 1200, seed: int = 20261121) -> dict[str, Any]:
    """Generates the corpus, redacts every sample and scores the result."""
    samples = generate(n=n, seed=seed)
    caught = dict.fromkeys(ENTITY_TYPES, 0)
    total = dict.fromkeys(ENTITY_TYPES, 0)
    decoys = decoys_hit = 0
    clean_messages = clean_altered = 0
    latencies: list[float] = []
    for sample in samples:
        started = time.perf_counter()
        findings = find_pii(sample.text)
        latencies.append((time.perf_counter() - started) * 1000)
        covered: set[int] = set()
        for finding in findings:
            covered.update(range(finding.start, finding.end))
        for span in sample.spans:
            total[span.entity] += 1
            caught[span.entity] += all(i in covered for i in range(span.start, span.end))
        for decoy in sample.decoys:
            decoys += 1
            decoys_hit += any(i in covered for i in range(decoy.start, decoy.end))
        if not sample.spans:
            clean_messages += 1
            clean_altered += bool(findings)
    recall = {k: round(caught[k] / total[k], 4) if total[k] else None for k in ENTITY_TYPES}
    structured_total = sum(total[k] for k in STRUCTURED_TYPES)
    return {
        "n": len(samples),
        "seed": seed,
        "entities": total,
        "recall": recall,
        "structured_recall": round(sum(caught[k] for k in STRUCTURED_TYPES) / structured_total, 4)
        if structured_total
        else None,
        "over_redaction_rate": round(decoys_hit / decoys, 4) if decoys else 0.0,
        "clean_messages_altered_rate": round(clean_altered / clean_messages, 4)
        if clean_messages
        else 0.0,
        "latency_ms": latency_summary(latencies),
    }
