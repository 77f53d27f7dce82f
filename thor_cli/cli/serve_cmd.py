"""``thor serve``: the release board live, and a small JSON API (needs ``pip install 'thor-cli[server]'``)."""

from __future__ import annotations

import typer

from thor_cli.cli import render
from thor_cli.cli.helptext import command
from thor_cli.cli.options import options, runtime
from thor_cli.errors import UsageError


def register(app: typer.Typer) -> None:
    command(app, "serve", serve, "thor serve\nTHOR_SERVER_TOKEN=... thor serve --host 127.0.0.1 --port 8080")


def serve(
    ctx: typer.Context,
    host: str = typer.Option(
        "127.0.0.1", "--host", metavar="HOST", help="Address to listen on (put a reverse proxy in front)."
    ),
    port: int = typer.Option(
        8080, "--port", min=0, max=65535, metavar="PORT", help="Port to listen on (0: any free port)."
    ),
) -> None:
    """Serve the board live, and JSON under /api/ (writes need a token).

    Writes need THOR_SERVER_TOKEN; the server never runs steps.
    """
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise UsageError("thor serve needs the server extra: pip install 'thor-cli[server]'") from None
    from thor_cli.server.run import listen, run

    rt = runtime(ctx)
    rt.validate()
    rt.store  # noqa: B018  (the database answers, and its schema is current, before the first request)
    sock = listen(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    render.warn(f"thor: serving http://{bound_host}:{bound_port}/ ({_mode()})")
    run(rt, sock, quiet=options(ctx).quiet)


def _mode() -> str:
    from thor_cli.server.auth import server_token

    return "writes need THOR_SERVER_TOKEN" if server_token() else "read-only: THOR_SERVER_TOKEN is not set"
