"""Chooses the retrieval weights and the confidence threshold on the dev set (never on eval).

Stages, each picked by the dev numbers of the previous stage's winner:

1. lexical terms (Sudachi dictionary forms, character n-grams, both) and BM25's ``b``,
   by BM25-only recall@1 + MRR@5;
2. whether the dense query also gets a dictionary-form view, by dense-only recall + MRR;
3. fusion weights (dense vs lexical, body/tag field weights, intent boost, English penalty),
   by hybrid recall + MRR with the NLU intents when given, then the how-to guide margin (the
   shipped value unless another is strictly better: the dev set has few how-to questions);
4. the threshold (and whether NLU small-talk intents block answers), by the utility
   ``right - WRONG_COST * wrong`` where a wrong answer is a confident answer that is not the
   expected entry (including any confident answer to a query that should not be answered).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from knowledge.content_loader import Content
from knowledge.lexical import LexicalConfig
from knowledge.retriever import CONFIG_FILE, Encoder, HybridIndex, RetrievalConfig, Signals

WRONG_COST = 1.5
SMALL_TALK = ("greeting", "goodbye", "thanks")
Progress = Callable[[str], None]


def _score(
    index: HybridIndex,
    signals: list[Signals],
    queries: list[Any],
    config: RetrievalConfig,
    intents: dict[str, str] | None,
) -> tuple[float, float, list[tuple[float, bool | None]]]:
    """recall@1, MRR@5 and, per query, (best score, top-1 correct or None for null)."""
    weight = index.unit_weights(config)
    ids = [d.doc_id for d in index.documents]
    top1 = mrr = 0.0
    answerable = 0
    outcomes: list[tuple[float, bool | None]] = []
    for query, sig in zip(queries, signals, strict=True):
        intent = intents.get(query.text) if intents else None
        ranked, fused = index.ranked(
            sig, config, intent=intent, language=query.language, k=5, unit_weight=weight
        )
        best = float(fused[ranked[0]])
        if query.expected is None:
            outcomes.append((best, None))
            continue
        answerable += 1
        names = [ids[i] for i in ranked]
        rank = names.index(query.expected) + 1 if query.expected in names else 0
        top1 += rank == 1
        mrr += 1.0 / rank if rank else 0.0
        outcomes.append((best, rank == 1))
    return top1 / max(1, answerable), mrr / max(1, answerable), outcomes


def choose_threshold(outcomes: list[tuple[float, bool | None]]) -> tuple[float, float]:
    """The threshold maximising right - WRONG_COST * wrong (midpoint between scores)."""
    scores = sorted({round(s, 4) for s, _ in outcomes})
    candidates = (
        [scores[0] - 1e-3]
        + [(a + b) / 2 for a, b in itertools.pairwise(scores)]
        + [scores[-1] + 1e-3]
    )
    best = (-1e9, 0.0)
    for threshold in candidates:
        right = sum(1 for s, ok in outcomes if s >= threshold and ok)
        wrong = sum(1 for s, ok in outcomes if s >= threshold and not ok)
        utility = right - WRONG_COST * wrong
        if utility > best[0]:
            best = (utility, threshold)
    return round(best[1], 4), best[0]


def tune(
    content: Content,
    encoder: Encoder,
    queries: list[Any],
    intents: dict[str, str] | None,
    progress: Progress | None = None,
) -> tuple[RetrievalConfig, dict[str, Any]]:
    """Runs the four stages and returns the chosen configuration with the dev numbers."""
    say = progress or (lambda _m: None)
    base = RetrievalConfig.load()
    report: dict[str, Any] = {"queries": len(queries), "nlu_intents": intents is not None}

    # Stage 1: lexical terms.
    lexical_options = {
        "words+chars23": LexicalConfig(words=True, chars=True, char_sizes=(2, 3)),
        "chars23": LexicalConfig(words=False, chars=True, char_sizes=(2, 3)),
        "chars123": LexicalConfig(words=False, chars=True, char_sizes=(1, 2, 3)),
        "words": LexicalConfig(words=True, chars=False),
        "words+chars2": LexicalConfig(words=True, chars=True, char_sizes=(2,)),
        "words+chars2+readings": LexicalConfig(
            words=True, chars=True, char_sizes=(2,), readings=True
        ),
        "words+chars23+readings": LexicalConfig(
            words=True, chars=True, char_sizes=(2, 3), readings=True
        ),
    }
    stage1: dict[str, float] = {}
    best_lex: tuple[float, LexicalConfig] = (-1.0, base.lexical)
    for (name, lex), b in itertools.product(lexical_options.items(), (0.3, 0.5, 0.75)):
        lex = replace(lex, b=b)
        cfg = replace(base, lexical=lex, dense_weight=0.0, lexical_weight=1.0, intent_boost=0.0)
        index = HybridIndex(content, None, cfg)
        sigs = [index.signals(q.text) for q in queries]
        r1, mrr, _ = _score(index, sigs, queries, cfg, None)
        stage1[f"{name} b={b}"] = round(r1, 4)
        if r1 + mrr > best_lex[0]:
            best_lex = (r1 + mrr, lex)
    report["bm25_recall_at_1"] = stage1
    say(f"lexical: {max(stage1, key=lambda k: stage1[k])}")

    # Stage 2: dictionary-form view for the dense query.
    stage2: dict[str, float] = {}
    signals: dict[bool, list[Signals]] = {}
    full = replace(base, lexical=best_lex[1], dense_weight=1.0, lexical_weight=1.0)
    index = HybridIndex(content, encoder, full)
    for view in (False, True):
        index.config = replace(full, dictionary_view=view)
        signals[view] = [index.signals(q.text) for q in queries]
        cfg = replace(full, dense_weight=1.0, lexical_weight=0.0, intent_boost=0.0)
        r1, mrr, _ = _score(index, signals[view], queries, cfg, None)
        stage2[f"dictionary_view={view}"] = round(r1, 4)
        stage2[f"dictionary_view={view} mrr"] = round(mrr, 4)
    view = stage2["dictionary_view=True"] >= stage2["dictionary_view=False"]
    report["dense_recall_at_1"] = stage2
    say(f"dense view: dictionary_view={view}")

    # Stage 3: fusion weights.
    best: tuple[float, RetrievalConfig] = (-1.0, full)
    grid = itertools.product(
        (0.3, 0.4, 0.5, 0.6, 0.7, 0.8),  # dense weight (lexical = 1 - dense)
        (0.6, 0.75, 0.9, 1.0),  # body field weight
        (0.8, 1.0),  # tag field weight
        (0.0, 0.05, 0.1, 0.15, 0.2),  # intent boost
        (0.0, 0.05, 0.1),  # English query, entry without English
    )
    for dense, body, tag, boost, penalty in grid:
        cfg = replace(
            full,
            dictionary_view=view,
            dense_weight=dense,
            lexical_weight=round(1.0 - dense, 2),
            intent_boost=boost,
            missing_language_penalty=penalty,
            field_weights={"title": 1.0, "phrasing": 1.0, "tag": tag, "body": body},
        )
        r1, mrr, _ = _score(index, signals[view], queries, cfg, intents)
        if r1 + mrr > best[0] + 1e-9:
            best = (r1 + mrr, cfg)
    chosen = best[1]
    margins: dict[float, float] = {}
    for margin in sorted({0.0, 0.02, 0.04, 0.06, 0.08, 0.1, base.howto_guide_margin}):
        r1, mrr, _ = _score(
            index, signals[view], queries, replace(chosen, howto_guide_margin=margin), intents
        )
        margins[margin] = r1 + mrr
    top = max(margins.values())
    best_margins = [m for m, v in margins.items() if v >= top - 1e-9]
    margin = base.howto_guide_margin if base.howto_guide_margin in best_margins else best_margins[0]
    chosen = replace(chosen, howto_guide_margin=margin)
    report["howto_guide_margin"] = {str(m): round(v, 4) for m, v in margins.items()}
    say(f"how-to guide margin: {margin}")
    r1, mrr, outcomes = _score(index, signals[view], queries, chosen, intents)
    # Stage 4: threshold, and whether small-talk intents block confident answers.
    gates: list[tuple[str, ...]] = [()]
    if intents is not None:
        gates.append(SMALL_TALK)
    best_gate: tuple[float, float, tuple[str, ...]] = (-1e9, 0.0, ())
    for gate in gates:
        gated = [
            (-1.0 if intents and intents.get(q.text) in gate else score, ok)
            for q, (score, ok) in zip(queries, outcomes, strict=True)
        ]
        threshold, utility = choose_threshold(gated)
        report[f"utility gate={list(gate)}"] = utility
        if utility > best_gate[0]:
            best_gate = (utility, threshold, gate)
    utility, threshold, gate = best_gate
    chosen = replace(chosen, threshold=threshold, unanswerable_intents=gate)
    report["hybrid"] = {"recall_at_1": round(r1, 4), "mrr_at_5": round(mrr, 4)}
    report["threshold"] = {"value": threshold, "utility": utility, "wrong_cost": WRONG_COST}
    return chosen, report


def write_config(config: RetrievalConfig, report: dict[str, Any], path: Path = CONFIG_FILE) -> None:
    """Writes ``retrieval.yml`` with the dev numbers that justified it as a comment."""
    data = {
        "dense_weight": config.dense_weight,
        "lexical_weight": config.lexical_weight,
        "intent_boost": config.intent_boost,
        "threshold": config.threshold,
        "field_weights": config.field_weights,
        "missing_language_penalty": config.missing_language_penalty,
        "dictionary_view": config.dictionary_view,
        "lexical": {
            "words": config.lexical.words,
            "chars": config.lexical.chars,
            "char_sizes": list(config.lexical.char_sizes),
            "k1": config.lexical.k1,
            "b": config.lexical.b,
            "readings": config.lexical.readings,
        },
        "unanswerable_intents": list(config.unanswerable_intents),
        "howto_guide_margin": config.howto_guide_margin,
        "kana_dense_weight": config.kana_dense_weight,
        "howto_patterns": list(config.howto_patterns),
    }
    header = (
        "# Retrieval weights and confidence threshold, chosen by `tsunagu kb tune` on\n"
        "# knowledge/dev/kb_dev_queries.jsonl only (never on knowledge/eval/).\n"
        f"# Dev numbers: {yaml.safe_dump(report['hybrid'], default_flow_style=True).strip()}"
        f" threshold utility {report['threshold']['utility']}\n"
    )
    path.write_text(header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True), "utf-8")
