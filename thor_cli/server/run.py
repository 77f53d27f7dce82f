"""Listening and running: the socket is bound before uvicorn starts, so a port in use is one clear line."""

from __future__ import annotations

import socket

from thor_cli.errors import UsageError
from thor_cli.runtime import Runtime


def listen(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"--host {host!r}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def run(rt: Runtime, sock: socket.socket, *, quiet: bool = False) -> None:
    """Serve until interrupted (SIGINT or SIGTERM: uvicorn finishes the requests in flight, then returns)."""
    import uvicorn

    from thor_cli.server.app import create_app
    from thor_cli.server.auth import server_token

    config = uvicorn.Config(
        create_app(rt, server_token()),
        log_level="warning" if quiet else "info",
        # Behind a reverse proxy on this host, X-Forwarded-For names the caller in the event log.
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        server_header=False,
    )
    uvicorn.Server(config).run(sockets=[sock])
