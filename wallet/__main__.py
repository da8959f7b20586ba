"""``python -m tawa.wallet [--host H] [--port P]``: run the wallet on uvicorn."""

from __future__ import annotations

import argparse

import uvicorn

from tawa import logs
from tawa.wallet.app import build_app
from tawa.wallet.settings import WalletSettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tawa.wallet", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8103)
    args = parser.parse_args(argv)
    settings = WalletSettings()
    logs.configure("wallet", level=settings.log_level, json_lines=settings.log_json)
    uvicorn.run(
        build_app(settings), host=args.host, port=args.port, log_config=None, access_log=False
    )


if __name__ == "__main__":
    main()
