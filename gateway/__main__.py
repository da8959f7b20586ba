"""``python -m tawa.gateway [--host H] [--port P] [--workers N]``: run Janus.

uvicorn with its httptools parser and the uvloop event loop, the fastest pair
measured (see ``bench/gateway.py`` and the report on issue 6).
"""

from __future__ import annotations

import argparse

import uvicorn

from tawa import logs
from tawa.gateway.app import Gateway
from tawa.gateway.settings import GatewaySettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tawa.gateway", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    args = parser.parse_args(argv)

    settings = GatewaySettings()
    logs.configure("gateway", level=settings.log_level, json_lines=settings.log_json)
    uvicorn.run(
        Gateway(settings),
        host=args.host,
        port=args.port,
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
