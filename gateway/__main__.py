"""``python -m tawa.gateway [--host H] [--port P] [--server S] [--workers N]``: run Janus.

Two ASGI servers are supported; ``bench/gateway.py --servers`` measures them
with the gateway in front of the same upstream. ``uvicorn`` with the httptools
parser and uvloop is the default: as fast as ``granian`` (a Rust HTTP server)
with one worker, for about a fifth less CPU per request, which is what a pod's
CPU limit buys. Every worker process holds its own route table, token cache
and usage buffer: the gateway keeps no shared state.
"""

from __future__ import annotations

import argparse

SERVERS = ("uvicorn", "granian")
FACTORY = "tawa.gateway.app:from_environment"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tawa.gateway", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--server", choices=SERVERS, default="uvicorn")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    if args.server == "granian":
        _granian(args.host, args.port, workers=args.workers)
    else:
        _uvicorn(args.host, args.port, workers=args.workers)


def _granian(host: str, port: int, *, workers: int) -> None:
    from granian import Granian
    from granian.constants import Interfaces, Loops

    Granian(
        FACTORY,
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        loop=Loops.uvloop,
        workers=workers,
        websockets=False,
        log_enabled=False,
    ).serve()


def _uvicorn(host: str, port: int, *, workers: int) -> None:
    import uvicorn

    uvicorn.run(
        FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_config=None,
        server_header=False,
        date_header=False,
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
