"""``python -m tawa.registry [--host H] [--port P]``: serve the registry with uvicorn."""

from __future__ import annotations

import argparse

import uvicorn

from tawa import logs
from tawa.registry.app import build_app
from tawa.registry.settings import RegistrySettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tawa.registry")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8101)
    args = parser.parse_args(argv)

    settings = RegistrySettings()
    logs.configure("registry", level=settings.log_level, json_lines=settings.log_json)
    uvicorn.run(
        build_app(settings),
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        server_header=False,
    )


if __name__ == "__main__":
    main()
