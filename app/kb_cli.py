"""``tsunagu kb …`` and ``tsunagu bench kb``: build, inspect, tune and reload the knowledge base."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import httpx
import typer

from core.config import Settings

DEV_QUERIES = Path("knowledge/dev/kb_dev_queries.jsonl")


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def register(
    cli: typer.Typer, bench_cli: typer.Typer, load_settings: Callable[[], Settings]
) -> None:
    """Adds ``kb`` and ``bench kb`` to the ``tsunagu`` command line."""
    kb_cli = typer.Typer(help="Knowledge base: model, search, reload.", no_args_is_help=True)
    cli.add_typer(kb_cli, name="kb")

    @kb_cli.command("build-model")
    def build_model(
        force: Annotated[bool, typer.Option(help="Rebuild even if the cache is current.")] = False,
    ) -> None:
        """Distil the Japanese sentence-transformers student (instant when cached)."""
        from knowledge.base import KbPaths
        from knowledge.content_loader import ContentError
        from knowledge.embedding.build import ensure_model

        paths = KbPaths.from_settings(load_settings())
        try:
            info = ensure_model(paths.model_cache, force=force, progress=typer.echo)
        except ContentError as exc:
            raise _fail(str(exc)) from exc
        state = f"built in {info.seconds:.1f}s" if info.built else "cached"
        typer.echo(f"model: {info.path} ({state})")

    @kb_cli.command("search")
    def search(
        query: Annotated[str, typer.Argument(help="What a resident might write.")],
        intent: Annotated[str | None, typer.Option(help="NLU intent to apply as prior.")] = None,
        language: Annotated[str, typer.Option(help="ja or en.")] = "ja",
        k: Annotated[int, typer.Option(help="How many hits.")] = 5,
    ) -> None:
        """Debug print of the ranked hits, their scores and whether the answer is confident."""
        from knowledge.base import KnowledgeBase

        kb = KnowledgeBase.load(load_settings(), progress=typer.echo)
        result = kb.search(query, intent=intent, language=language, k=k)
        typer.echo(f"confident: {result.confident} (threshold {kb.config.threshold})")
        for rank, hit in enumerate(result.hits, start=1):
            doc = kb.faq(hit.doc_id) if hit.kind == "faq" else kb.guide(hit.doc_id)
            typer.echo(f"{rank}. {hit.score:.3f} {hit.kind} {hit.doc_id}  {doc.title['ja']}")
        typer.echo(
            "timings_ms: " + json.dumps({k: round(v, 2) for k, v in result.timings_ms.items()})
        )

    @kb_cli.command("reload")
    def reload(
        url: Annotated[
            str | None, typer.Option(help="App base URL (default http://127.0.0.1:TSUNAGU_PORT).")
        ] = None,
    ) -> None:
        """Ask the running app to re-read the content (index rebuilt only if it changed)."""
        settings = load_settings()
        base = url or f"http://127.0.0.1:{settings.port}"
        try:
            response = httpx.post(f"{base}/ops/kb/reload", timeout=120.0)
        except httpx.HTTPError as exc:
            raise _fail(f"cannot reach the app at {base}: {type(exc).__name__}", 1) from exc
        if response.status_code != 200:
            raise _fail(f"reload failed ({response.status_code}): {response.text}", 1)
        for key, value in response.json().items():
            typer.echo(f"{key}: {value}")

    @kb_cli.command("tune")
    def tune_cmd(
        dev: Annotated[
            Path, typer.Option(help="Dev query file (never the eval set).")
        ] = DEV_QUERIES,
        nlu: Annotated[bool, typer.Option(help="Use the real NLU's intents as prior.")] = True,
        write: Annotated[bool, typer.Option(help="Write knowledge/retrieval.yml.")] = False,
    ) -> None:
        """Choose fusion weights and the confidence threshold on the dev set."""
        from evaluation.bench_kb import read_queries
        from evaluation.dataset import DatasetError
        from knowledge.base import KbPaths, load_encoder
        from knowledge.content_loader import load_content
        from knowledge.tuning import tune, write_config

        settings = load_settings()
        try:
            queries = read_queries(dev)
        except DatasetError as exc:
            raise _fail(str(exc)) from exc
        intents = _intents(settings, [q.text for q in queries]) if nlu else None
        paths = KbPaths.from_settings(settings)
        config, report = tune(
            load_content(paths.content_dir),
            load_encoder(paths.model_cache, progress=typer.echo),
            queries,
            intents,
            progress=typer.echo,
        )
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
        typer.echo(f"chosen: {config}")
        if write:
            write_config(config, report)
            typer.echo("wrote knowledge/retrieval.yml")

    @bench_cli.command("kb")
    def bench_kb(
        queries: Annotated[
            Path | None,
            typer.Option(help="Held-out queries (default knowledge/eval/kb_queries.jsonl)."),
        ] = None,
        as_json: Annotated[
            bool, typer.Option("--json", help="Print one JSON object last.")
        ] = False,
        nlu: Annotated[
            bool, typer.Option(help="Also run the hybrid with the real NLU's intents.")
        ] = True,
        pad_to: Annotated[int, typer.Option(help="Entries after padding with distractors.")] = 1000,
        output: Annotated[Path | None, typer.Option(help="Also write the JSON here.")] = None,
    ) -> None:
        """Dense, BM25, teacher and hybrid side by side: recall@1, MRR@5, p50 latency."""
        from evaluation.bench_kb import DEFAULT_QUERIES, read_queries, run_bench
        from evaluation.dataset import DatasetError
        from knowledge.base import KbPaths

        settings = load_settings()
        path = queries or DEFAULT_QUERIES
        try:
            texts = [q.text for q in read_queries(path)]
            intents = _intents(settings, texts) if nlu else None
            result = run_bench(
                queries_path=path,
                kb_paths=KbPaths.from_settings(settings),
                intents=intents,
                pad_to=pad_to,
            )
        except DatasetError as exc:
            raise _fail(str(exc)) from exc
        if output is not None:
            output.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
        for bucket in ("variants", "padded"):
            size = result["content_entries" if bucket == "variants" else "padded_entries"]
            typer.echo(f"-- {bucket} ({size} entries)")
            for name, metrics in result[bucket].items():
                typer.echo(f"{name:>11}: " + json.dumps(metrics, ensure_ascii=False))
        if as_json:
            typer.echo(json.dumps(result, ensure_ascii=False))


def _intents(settings: Settings, texts: list[str]) -> dict[str, str] | None:
    from evaluation.bench_kb import nlu_intents_sync
    from nlu.errors import NluSetupError

    try:
        return nlu_intents_sync(settings, texts)
    except NluSetupError as exc:
        typer.echo(f"NLU unavailable ({exc}); continuing without intents", err=True)
        return None
