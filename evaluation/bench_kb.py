"""``tsunagu bench kb``: retrieval quality and speed, every variant side by side in one run.

Variants: ``dense`` (the student model alone), ``bm25`` (the lexical signal alone),
``teacher`` (USE multilingual used directly, dense only), ``hybrid`` (the shipped fusion, no
intent) and ``hybrid_nlu`` (the shipped fusion with the intent the real Rasa NLU predicts for
each query, as in production). Each is measured on the real content and again with the content
padded to ``pad_to`` entries by synthetic distractor entries (latency at scale).
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from evaluation.dataset import DatasetError, read_jsonl
from knowledge.base import KbPaths, load_encoder
from knowledge.content_loader import Content, load_content
from knowledge.encoders import TeacherEncoder
from knowledge.retriever import Encoder, HybridIndex, RetrievalConfig
from knowledge.types import FaqEntry

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_QUERIES = REPO_ROOT / "knowledge" / "eval" / "kb_queries.jsonl"
DEV_QUERIES = REPO_ROOT / "knowledge" / "dev" / "kb_dev_queries.jsonl"
DISTRACTORS = Path(__file__).resolve().parent / "kb_distractors.yml"


@dataclass(frozen=True)
class Query:
    """One labelled query; ``expected`` None means "should not answer confidently"."""

    text: str
    expected: str | None
    language: str


def read_queries(path: Path) -> list[Query]:
    """Reads a query file, with a clear message when it does not exist yet."""
    if not path.exists():
        raise DatasetError(
            f"query file {path} does not exist; pass --queries FILE "
            '(JSON lines: {"query", "expected_id", "language"})'
        )
    rows = read_jsonl(path, {"query": str, "expected_id": (str, type(None)), "language": str})
    return [Query(r["query"], r["expected_id"], r["language"]) for r in rows]


def distractor_entries(count: int, seed: int = 7) -> list[FaqEntry]:
    """Synthetic municipal FAQ entries (topic x aspect) used only to pad the index."""
    data = yaml.safe_load(DISTRACTORS.read_text(encoding="utf-8"))
    topics, aspects, patterns = data["topics"], data["aspects"], data["patterns"]
    combos = [(t, a) for t in topics for a in aspects]
    random.Random(seed).shuffle(combos)
    entries = []
    for n, (topic, aspect) in enumerate(combos[:count]):
        entries.append(
            FaqEntry(
                entry_id=f"synthetic.{n:04d}",
                intent="out_of_scope",
                title={"ja": f"{topic}の{aspect}"},
                answer={"ja": data["answer"].format(topic=topic, aspect=aspect)},
                phrasings={"ja": tuple(p.format(topic=topic, aspect=aspect) for p in patterns)},
                tags=(topic,),
                source="synthetic",
                last_reviewed=date(2026, 1, 1),
            )
        )
    return entries


def evaluate(
    index: HybridIndex,
    queries: list[Query],
    intents: dict[str, str] | None = None,
    *,
    with_confidence: bool = False,
) -> dict[str, Any]:
    """recall@1 and MRR@5 on answerable queries, p50/p95 latency of ``search`` on all."""
    for query in queries[:5]:  # warm-up: first calls allocate
        index.search(query.text, language=query.language)
    latencies, reciprocal, top1 = [], [], []
    answered_right = answered_wrong = null_rejected = nulls = 0
    for query in queries:
        intent = intents.get(query.text) if intents else None
        started = time.perf_counter()
        result = index.search(query.text, intent=intent, language=query.language, k=5)
        latencies.append((time.perf_counter() - started) * 1000)
        ids = [hit.doc_id for hit in result.hits]
        if query.expected is None:
            nulls += 1
            null_rejected += not result.confident
            continue
        rank = ids.index(query.expected) + 1 if query.expected in ids else 0
        reciprocal.append(1.0 / rank if rank else 0.0)
        top1.append(rank == 1)
        if result.confident:
            answered_right += rank == 1
            answered_wrong += rank != 1
    answerable = len(top1)
    out: dict[str, Any] = {
        "n": len(queries),
        "answerable": answerable,
        "recall_at_1": round(sum(top1) / answerable, 4) if answerable else None,
        "mrr_at_5": round(sum(reciprocal) / answerable, 4) if answerable else None,
        "latency_ms_p50": round(statistics.median(latencies), 3),
        "latency_ms_p95": round(sorted(latencies)[int(0.95 * (len(latencies) - 1))], 3),
    }
    if with_confidence:
        out.update(
            {
                "confident_correct_rate": round(answered_right / answerable, 4)
                if answerable
                else None,
                "confident_wrong_rate": round(answered_wrong / answerable, 4)
                if answerable
                else None,
                "null_queries": nulls,
                "null_rejection_rate": round(null_rejected / nulls, 4) if nulls else None,
                "answer_accuracy": round(
                    (answered_right + null_rejected) / max(1, answerable + nulls), 4
                ),
            }
        )
    return out


def variant_configs(shipped: RetrievalConfig) -> dict[str, RetrievalConfig]:
    """The single-signal variants derived from the shipped configuration."""
    dense_only = shipped.with_weights(
        dense_weight=1.0, lexical_weight=0.0, intent_boost=0.0, missing_language_penalty=0.0
    )
    return {
        "dense": dense_only,
        "bm25": shipped.with_weights(
            dense_weight=0.0, lexical_weight=1.0, intent_boost=0.0, missing_language_penalty=0.0
        ),
        "teacher": dense_only,
        "hybrid": shipped,
    }


async def nlu_intents(settings: Any, texts: list[str]) -> dict[str, str]:
    """The intent the real Rasa NLU predicts for each text (starts a local Rasa if needed)."""
    from nlu.client import RasaClient
    from nlu.service import running_nlu

    data = settings.resolved_data_dir
    async with running_nlu(
        configured_url=settings.nlu_url,
        quiet=True,
        models_dir=settings.nlu_model_dir,
        work_dir=data / "nlu" / "work",
        log_file=data / "logs" / "rasa.log",
    ) as url:
        client = RasaClient(url, timeout_seconds=10.0)
        try:
            return {text: (await client.parse(text)).intent for text in texts}
        finally:
            await client.aclose()


def nlu_intents_sync(settings: Any, texts: list[str]) -> dict[str, str]:
    """Blocking wrapper of :func:`nlu_intents` (raises NluSetupError if Rasa cannot start)."""
    return asyncio.run(nlu_intents(settings, texts))


def run_bench(
    *,
    queries_path: Path,
    kb_paths: KbPaths,
    intents: dict[str, str] | None,
    pad_to: int = 1000,
    config: RetrievalConfig | None = None,
) -> dict[str, Any]:
    """All variants on the real content and padded to ``pad_to`` entries."""
    queries = read_queries(queries_path)
    shipped = config or RetrievalConfig.load()
    content: Content = load_content(kb_paths.content_dir)
    student = load_encoder(kb_paths.model_cache)
    teacher: Encoder = TeacherEncoder()
    real_size = len(content.faqs) + len(content.guides)
    extra = distractor_entries(max(0, pad_to - real_size))
    result: dict[str, Any] = {
        "queries": str(queries_path),
        "content_entries": real_size,
        "padded_entries": real_size + len(extra),
        "model": student.name,
        "config": {
            "dense_weight": shipped.dense_weight,
            "lexical_weight": shipped.lexical_weight,
            "intent_boost": shipped.intent_boost,
            "threshold": shipped.threshold,
        },
        "variants": {},
        "padded": {},
    }
    for name, cfg in variant_configs(shipped).items():
        encoder = teacher if name == "teacher" else student
        for padded, bucket in ((False, "variants"), (True, "padded")):
            index = HybridIndex(
                content, encoder, cfg, cache_dir=None, extra_faqs=extra if padded else ()
            )
            result[bucket][name] = evaluate(index, queries, with_confidence=name == "hybrid")
            if name == "hybrid" and intents is not None:
                result[bucket]["hybrid_nlu"] = evaluate(
                    index, queries, intents, with_confidence=True
                )
    result["nlu_intents"] = intents is not None
    return result
