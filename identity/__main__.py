"""``python -m tawa.identity [--host H] [--port P]``: run Bio-ID on uvicorn."""

from __future__ import annotations

import argparse

import uvicorn

from tawa import logs
from tawa.identity.app import build_app
from tawa.identity.settings import IdentitySettings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tawa.identity", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8102)
    args = parser.parse_args()
    settings = IdentitySettings()
    logs.configure("identity", level=settings.log_level, json_lines=settings.log_json)
    app = build_app(settings)
    uvicorn.run(app, host=args.host, port=args.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
