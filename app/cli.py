"""The ``tsunagu`` command line."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Annotated, Any

import typer

from app.kb_cli import register as register_kb_commands
from app.line_cli import line_cli
from app.privacy_cli import register as register_privacy_commands
from app.users_cli import register as register_user_commands
from core.config import Settings, get_settings
from core.logging import configure_logging

cli = typer.Typer(
    help="Tsunagu: consultation chatbot for residents (つなぐ).", no_args_is_help=True
)
nlu_cli = typer.Typer(help="Train and manage the Rasa NLU model.", no_args_is_help=True)
eval_cli = typer.Typer(help="Quality evaluations on labelled files.", no_args_is_help=True)
bench_cli = typer.Typer(help="Speed and quality benchmarks (write JSON).", no_args_is_help=True)
cli.add_typer(nlu_cli, name="nlu")
cli.add_typer(eval_cli, name="eval")
cli.add_typer(bench_cli, name="bench")
cli.add_typer(line_cli, name="line")


def _settings() -> Settings:
    try:
        settings = get_settings()
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from exc
    configure_logging(settings.resolved_data_dir, settings.log_level)
    return settings


def _nlu_paths(settings: Settings) -> dict[str, Path]:
    data = settings.resolved_data_dir
    return {
        "models_dir": settings.nlu_model_dir,
        "work_dir": data / "nlu" / "work",
        "log_file": data / "logs" / "rasa.log",
    }


def _local_nlu(settings: Settings) -> AbstractAsyncContextManager[str]:
    """The configured NLU service, or a quiet local Rasa for the length of a command."""
    from nlu.service import running_nlu

    paths = _nlu_paths(settings)
    return running_nlu(
        configured_url=settings.nlu_url,
        quiet=True,
        models_dir=paths["models_dir"],
        work_dir=paths["work_dir"],
        log_file=paths["log_file"],
    )


def _print_result(result: dict[str, Any], as_json: bool, summary_keys: list[str]) -> None:
    for key in summary_keys:
        value = result.get(key)
        if isinstance(value, dict | list):
            value = json.dumps(value, ensure_ascii=False)
        typer.echo(f"{key}: {value}")
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))


@cli.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to bind (default TSUNAGU_HOST).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default TSUNAGU_PORT).")] = None,
) -> None:
    """Run the app; starts and supervises a local Rasa unless TSUNAGU_NLU_URL answers."""
    import uvicorn

    from app.main import create_app, freeze_startup_heap
    from app.wiring import build_runtime, load_knowledge
    from nlu.errors import NluSetupError
    from nlu.service import RasaProcess, train, url_is_ready

    settings = _settings()
    bind_host, bind_port = host or settings.host, port or settings.port
    paths = _nlu_paths(settings)
    process: RasaProcess | None = None
    nlu_url = settings.nlu_url
    if not (nlu_url and asyncio.run(url_is_ready(nlu_url))):
        try:
            model = train(models_dir=paths["models_dir"], work_dir=paths["work_dir"])
        except NluSetupError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc
        process = RasaProcess(
            model=model,
            port=settings.nlu_port,
            work_dir=paths["work_dir"],
            log_file=paths["log_file"],
        )
        nlu_url = process.url
    runtime = build_runtime(settings, nlu_url=nlu_url, knowledge=load_knowledge(settings))
    app = create_app(runtime, nlu_process=process)
    freeze_startup_heap()
    typer.echo(f"Tsunagu is running at http://{bind_host}:{bind_port}/  (NLU: {nlu_url})")
    uvicorn.run(
        app,
        host=bind_host,
        port=bind_port,
        log_config=None,
        # WebSocket frames obey the same size limit as request bodies; no server banner.
        ws_max_size=settings.max_body_bytes,
        server_header=False,
    )


@nlu_cli.command("train")
def nlu_train(
    force: Annotated[
        bool, typer.Option(help="Retrain even if the cached model is current.")
    ] = False,
) -> None:
    """Train the NLU model if missing or stale (shows Rasa's progress bar)."""
    from nlu.errors import NluSetupError
    from nlu.service import train

    settings = _settings()
    paths = _nlu_paths(settings)
    try:
        model = train(models_dir=paths["models_dir"], work_dir=paths["work_dir"], force=force)
    except NluSetupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"model: {model}")


@eval_cli.command("messages")
def eval_messages(
    file: Annotated[Path, typer.Argument(help='JSON lines: {"text", "intent", "escalate"}.')],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object last.")] = False,
) -> None:
    """Intent and escalation quality of the per-message pipeline on a labelled file."""
    from evaluation.dataset import DatasetError
    from evaluation.messages import evaluate_messages
    from nlu.errors import NluSetupError

    settings = _settings()

    async def run() -> dict[str, Any]:
        async with _local_nlu(settings) as url:
            return await evaluate_messages(settings, url, file)

    try:
        result = asyncio.run(run())
    except (DatasetError, NluSetupError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    _print_result(
        result,
        as_json,
        [
            "n",
            "intent_accuracy",
            "intent_macro_f1",
            "escalation_recall",
            "escalation_precision",
            "false_escalation_rate",
            "missed_escalations",
            "latency_ms",
            "nlu_unavailable",
        ],
    )


def _evaluate_with_nlu(
    evaluate: Callable[[Settings, str, Path], Awaitable[dict[str, Any]]],
    file: Path,
    check: Callable[[Path], object],
) -> dict[str, Any]:
    """Runs ``evaluate`` against a ready Rasa (configured, or trained and started locally).

    ``check`` reads the file first, so a typo fails before any model is trained or loaded.
    """
    from evaluation.dataset import DatasetError
    from nlu.errors import NluSetupError

    settings = _settings()
    try:
        check(file)
    except DatasetError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc

    async def run() -> dict[str, Any]:
        async with _local_nlu(settings) as url:
            return await evaluate(settings, url, file)

    try:
        return asyncio.run(run())
    except (DatasetError, NluSetupError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


@eval_cli.command("kb")
def eval_kb(
    file: Annotated[
        Path,
        typer.Argument(
            help='JSON lines: {"query", "answer_must_contain_any": [...], '
            '"answer_must_contain_all": [...] (optional)}.'
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object last.")] = False,
) -> None:
    """Answer quality: each query as a fresh conversation; the reply must contain the words."""
    from evaluation.kb_answers import evaluate_kb, read_kb_rows

    result = _evaluate_with_nlu(evaluate_kb, file, read_kb_rows)
    _print_result(result, as_json, ["n", "accuracy", "failures", "handoffs", "latency_ms"])


@eval_cli.command("dialogues")
def eval_dialogues(
    file: Annotated[
        Path,
        typer.Argument(
            help='JSON lines: {"turns": [...], "handoff": bool, "handoff_by_turn": int|null} '
            "(handoff_by_turn is 1-based)."
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object last.")] = False,
) -> None:
    """Whole conversations: a person is brought in when needed, in time, and only then."""
    from evaluation.dialogues import evaluate_dialogues, read_dialogues

    result = _evaluate_with_nlu(evaluate_dialogues, file, read_dialogues)
    _print_result(
        result,
        as_json,
        [
            "n",
            "handoff_correct_rate",
            "late_handoffs",
            "missed_handoffs",
            "false_handoffs",
            "turn_latency_ms",
            "reply_check_rate",
            "failures",
        ],
    )


@bench_cli.command("nlu")
def bench_nlu(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object last.")] = False,
    dev: Annotated[
        Path | None, typer.Option(help="Held-out file (default nlu/eval/dev_messages.jsonl).")
    ] = None,
    train_data: Annotated[
        Path | None, typer.Option(help="Training data (default nlu/data).")
    ] = None,
    output: Annotated[Path | None, typer.Option(help="Also write the JSON result here.")] = None,
) -> None:
    """Tsunagu's pipeline vs Rasa's default pipeline on the held-out dev set."""
    from evaluation.bench_nlu import run_bench
    from evaluation.dataset import DatasetError
    from nlu.errors import NluSetupError

    settings = _settings()
    try:
        result = asyncio.run(
            run_bench(settings, dev=dev, train_data=train_data, **_nlu_paths(settings))
        )
    except (DatasetError, NluSetupError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if output is not None:
        output.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    for name in ("tsunagu", "rasa_default"):
        typer.echo(
            f"{name}: "
            + json.dumps(
                {k: v for k, v in result[name].items() if k != "per_intent"}, ensure_ascii=False
            )
        )
    typer.echo(f"macro_f1_gain: {result['macro_f1_gain']}")
    typer.echo(f"full_to_parse_time_ratio: {result['full_to_parse_time_ratio']}")
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))


@cli.command("redact")
def redact_cmd(
    text: Annotated[
        str | None, typer.Argument(help="Text to redact; stdin lines if omitted.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print findings as JSON lines.")] = False,
) -> None:
    """Redact Japanese PII (phones, 〒, e-mail, LINE ids, cards, My Number, accounts, dates…)."""
    from privacy.redact import redact_with_findings

    lines = [text] if text is not None else [line.rstrip("\n") for line in sys.stdin]
    for line in lines:
        redacted, findings = redact_with_findings(line)
        if as_json:
            spans = [{"start": f.start, "end": f.end, "entity": f.entity} for f in findings]
            typer.echo(json.dumps({"redacted": redacted, "findings": spans}, ensure_ascii=False))
        else:
            typer.echo(redacted)


@bench_cli.command("redact")
def bench_redact(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object last.")] = False,
    n: Annotated[int, typer.Option(help="Synthetic messages to generate.")] = 1200,
    seed: Annotated[int, typer.Option(help="Corpus seed.")] = 20261121,
) -> None:
    """Recall per PII type and over-redaction on the synthetic Japanese PII corpus."""
    from evaluation.bench_redact import run_bench

    if n < 1:
        typer.echo("error: --n must be at least 1", err=True)
        raise typer.Exit(2)
    result = run_bench(n=n, seed=seed)
    _print_result(
        result,
        as_json,
        [
            "n",
            "recall",
            "structured_recall",
            "over_redaction_rate",
            "clean_messages_altered_rate",
            "latency_ms",
        ],
    )


@cli.command()
def worker() -> None:
    """Run only the inbox/outbox workers (no HTTP), for deployments that split the roles."""
    from app.wiring import build_runtime
    from channels.runner import start_workers

    settings = _settings()
    if not settings.nlu_url:
        typer.echo("error: set TSUNAGU_NLU_URL to the running NLU service", err=True)
        raise typer.Exit(2)
    runtime = build_runtime(settings, nlu_url=settings.nlu_url)

    async def run() -> None:
        tasks = start_workers(runtime)
        try:
            await asyncio.gather(*tasks)
        finally:
            await runtime.aclose()

    typer.echo("Tsunagu workers are running (inbox and LINE outbox).")
    asyncio.run(run())


@bench_cli.command("webhook")
def bench_webhook(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object last.")] = False,
    events: Annotated[int, typer.Option(help="Signed events to send.")] = 10_000,
    users: Annotated[int, typer.Option(help="Distinct residents sending them.")] = 500,
    concurrency: Annotated[int, typer.Option(help="Parallel webhook requests.")] = 32,
    database_url: Annotated[
        str | None, typer.Option(help="Database for both workers (default: scratch SQLite).")
    ] = None,
    split: Annotated[
        bool, typer.Option(help="Web processes only acknowledge; `tsunagu worker` processes work.")
    ] = False,
    rate: Annotated[
        float | None,
        typer.Option(help="Pace the events at this many per second (default: flat out)."),
    ] = None,
) -> None:
    """Two app workers + LINE stand-in, one worker killed mid-run: loss, duplicates, latency."""
    from evaluation.bench_webhook import run_bench

    if events < 10 or users < 1 or concurrency < 1:
        typer.echo("error: need --events >= 10, --users >= 1, --concurrency >= 1", err=True)
        raise typer.Exit(2)
    settings = _settings()

    async def run() -> dict[str, Any]:
        async with _local_nlu(settings) as url:
            return await run_bench(
                events=events,
                users=users,
                concurrency=concurrency,
                database_url=database_url,
                nlu_url=url,
                split=split,
                rate=rate,
                kb_model_dir=settings.kb_model_dir or settings.resolved_data_dir / "kb" / "models",
            )

    result = asyncio.run(run())
    _print_result(
        result,
        as_json,
        [
            "events",
            "events_lost",
            "replies_lost",
            "duplicated_replies",
            "ack_ms",
            "processing_ms",
            "throughput_events_per_s",
            "processed_per_s",
        ],
    )


@bench_cli.command("handoff")
def bench_handoff(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object last.")] = False,
    residents: Annotated[int, typer.Option(help="Concurrent web chat residents.")] = 200,
    counselors: Annotated[int, typer.Option(help="Counselors claiming and replying.")] = 10,
    escalate_share: Annotated[
        float, typer.Option(help="Share of residents who write something that escalates.")
    ] = 0.4,
    database_url: Annotated[
        str | None,
        typer.Option(help="PostgreSQL for both workers (default: a scratch database, dropped)."),
    ] = None,
    redis_url: Annotated[
        str | None, typer.Option(help="Event bus (default: local Redis, else PostgreSQL).")
    ] = None,
    without_nlu: Annotated[
        bool, typer.Option(help="No Rasa: the safety layer and buttons alone escalate.")
    ] = False,
    output: Annotated[Path | None, typer.Option(help="Also write the JSON report here.")] = None,
) -> None:
    """2 workers, residents escalating on web chat, counselors racing to claim and reply."""
    from evaluation.bench_handoff import passed, run_bench

    if residents < 2 or counselors < 1 or not 0 < escalate_share <= 1:
        typer.echo("error: need --residents >= 2, --counselors >= 1, 0 < --escalate-share <= 1")
        raise typer.Exit(2)
    settings = _settings()

    async def run() -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "residents": residents,
            "counselors": counselors,
            "escalate_share": escalate_share,
            "database_url": database_url,
            "redis_url": redis_url,
        }
        if without_nlu:
            return await run_bench(**kwargs)
        async with _local_nlu(settings) as url:
            return await run_bench(**kwargs, nlu_url=url)

    result = asyncio.run(run())
    result["passed"] = passed(result)
    if output is not None:
        output.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", "utf-8")
    _print_result(
        result,
        as_json,
        [
            "passed",
            "bot_messages_after_claim",
            "double_claims",
            "claim_conflicts",
            "notification_latency_ms",
            "counselor_reply_latency_ms",
            "cases",
            "duration_seconds",
            "load_average_after",
        ],
    )


register_privacy_commands(cli, _settings)
register_kb_commands(cli, bench_cli, _settings)
register_user_commands(cli, _settings)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="tsunagu")


if __name__ == "__main__":
    main()
