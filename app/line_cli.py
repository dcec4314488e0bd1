"""``tsunagu line …``: the local LINE API stand-in, webhook simulation and the rich menu."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from core.config import Settings, get_settings

line_cli = typer.Typer(
    help="LINE tooling: local API stand-in, simulated webhooks, rich menu.",
    no_args_is_help=True,
)
richmenu_cli = typer.Typer(help="Draw and register the LINE rich menu.", no_args_is_help=True)
line_cli.add_typer(richmenu_cli, name="richmenu")

DEV_ACCESS_TOKEN = "standin-access-token"


def _settings() -> Settings:
    try:
        return get_settings()
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from exc


@line_cli.command("standin")
def standin_cmd(
    host: Annotated[str, typer.Option(help="Interface to bind (keep it on loopback).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8090,
    token: Annotated[
        str | None,
        typer.Option(help="Accepted access token (default LINE_CHANNEL_ACCESS_TOKEN)."),
    ] = None,
    strict_reply_tokens: Annotated[
        bool,
        typer.Option(help="Accept only reply tokens registered via /__standin/reply-tokens."),
    ] = False,
) -> None:
    """Serve a local imitation of api.line.me and api-data.line.me (no network needed)."""
    import uvicorn

    from channels.line.standin import LineStandin, create_standin_app

    configured = _settings().line_channel_access_token
    access_token = token or (configured.get_secret_value() if configured else DEV_ACCESS_TOKEN)
    app = create_standin_app(LineStandin(access_token, strict_reply_tokens=strict_reply_tokens))
    url = f"http://{host}:{port}"
    typer.echo(f"LINE API stand-in at {url}  (control API: {url}/__standin/requests)")
    typer.echo(f"  export TSUNAGU_LINE_API_BASE_URL={url} TSUNAGU_LINE_API_DATA_BASE_URL={url}")
    if token is None and configured is None:
        typer.echo(f"  export LINE_CHANNEL_ACCESS_TOKEN={DEV_ACCESS_TOKEN}")
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)


@line_cli.command("simulate")
def simulate_cmd(
    url: Annotated[
        str | None,
        typer.Option(help="Webhook URL (default http://TSUNAGU_HOST:TSUNAGU_PORT/webhooks/line)."),
    ] = None,
    secret: Annotated[
        str | None, typer.Option(help="Channel secret (default LINE_CHANNEL_SECRET).")
    ] = None,
    user: Annotated[
        str | None, typer.Option(help="Sender's user id, U + 32 hex (default: a demo user).")
    ] = None,
    text: Annotated[str, typer.Option(help="Text of a message event.")] = "こんにちは",
    event: Annotated[
        str,
        typer.Option(help="message, follow, unfollow, unsend, sticker, image or verify."),
    ] = "message",
    message_id: Annotated[
        str | None, typer.Option(help="For --event unsend: the withdrawn message's id.")
    ] = None,
    redeliver: Annotated[
        bool, typer.Option(help="Send as LINE's redelivery (deliveryContext.isRedelivery).")
    ] = False,
    repeat: Annotated[int, typer.Option(min=1, help="POST the same webhook this many times.")] = 1,
    register_token_at: Annotated[
        str | None,
        typer.Option(help="Stand-in base URL to register the reply token with first."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON line per POST.")] = False,
) -> None:
    """POST a correctly signed LINE webhook to the app, as LINE's platform would."""
    import httpx

    from channels.line import simulate
    from channels.line.standin.validation import USER_ID

    settings = _settings()
    configured = settings.line_channel_secret
    channel_secret = secret or (configured.get_secret_value() if configured else None)
    if not channel_secret:
        typer.echo("error: pass --secret or set LINE_CHANNEL_SECRET", err=True)
        raise typer.Exit(2)
    user_id = user or simulate.DEMO_USER_ID
    if not USER_ID.fullmatch(user_id):
        typer.echo("error: --user must be U followed by 32 lowercase hex digits", err=True)
        raise typer.Exit(2)
    try:
        events = simulate.build_events(event, user_id=user_id, text=text, message_id=message_id)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    target = url or f"http://{settings.host}:{settings.port}/webhooks/line"
    try:
        if register_token_at:
            simulate.register_reply_tokens(register_token_at, events)
        posts = simulate.simulate(
            target, channel_secret, events, repeat=repeat, redeliver=redeliver
        )
    except httpx.HTTPError as exc:
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from exc
    for post in posts:
        if as_json:
            typer.echo(json.dumps(asdict(post), ensure_ascii=False))
        else:
            ids = ",".join(post.webhook_event_ids) or "-"
            typer.echo(
                f"POST {post.attempt}/{repeat} {event} → {post.status} "
                f"(webhookEventId {ids}, redelivery={str(post.redelivery).lower()})"
            )
    for e in events:
        if not as_json and "message" in e:
            typer.echo(f"message id: {e['message']['id']}  reply token: {e['replyToken']}")
    if any(not 200 <= p.status < 300 for p in posts):
        raise typer.Exit(1)


@richmenu_cli.command("register")
def richmenu_register(
    menu: Annotated[Path | None, typer.Option(help="Rich menu JSON (default: built in).")] = None,
    image: Annotated[Path | None, typer.Option(help="PNG/JPEG (default: built in).")] = None,
    default: Annotated[bool, typer.Option(help="Make it every user's default menu.")] = True,
    delete_old: Annotated[
        bool, typer.Option(help="Delete older menus with the same name afterwards.")
    ] = True,
) -> None:
    """Create the rich menu, upload its image and set it as default (LINE or the stand-in)."""
    from linebot.v3.messaging import ApiException

    from channels.line.richmenu.register import (
        RichMenuError,
        load_menu,
        register_rich_menu,
    )

    settings = _settings()
    token = settings.line_channel_access_token
    if token is None:
        typer.echo("error: set LINE_CHANNEL_ACCESS_TOKEN", err=True)
        raise typer.Exit(2)
    try:
        result = register_rich_menu(
            access_token=token.get_secret_value(),
            api_base_url=settings.line_api_base_url,
            data_base_url=settings.line_api_data_base_url,
            menu=load_menu(menu) if menu else None,
            image=image.read_bytes() if image else None,
            set_default=default,
            delete_old=delete_old,
        )
    except RichMenuError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    except ApiException as exc:
        typer.echo(f"error: LINE answered {exc.status}: {exc.body}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"rich menu: {result.rich_menu_id}" + (" (default)" if default else ""))
    for old in result.deleted:
        typer.echo(f"deleted older menu: {old}")


@richmenu_cli.command("image")
def richmenu_image(
    font: Annotated[
        Path | None, typer.Option(help="Japanese font file (default: look in usual places).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="Where to write the PNG (default: the built-in image).")
    ] = None,
) -> None:
    """Redraw the rich menu image from richmenu.json and image.yml."""
    from channels.line.richmenu.image import FontError, choose_font, draw_menu_image
    from channels.line.richmenu.register import IMAGE_FILE, load_design, load_menu

    try:
        png = draw_menu_image(load_menu(), load_design(), choose_font(font))
    except FontError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    target = output or IMAGE_FILE
    target.write_bytes(png)
    typer.echo(f"wrote {target} ({len(png)} bytes)")
