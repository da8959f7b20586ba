"""``python -m tawa.localkube``: run the local Kubernetes API in the foreground.

The first two lines on stdout are machine-readable::

    kubeconfig: /path/to/kubeconfig
    server: http://127.0.0.1:PORT

SIGTERM and SIGINT end open watches and stop the server cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import signal
import sys
import tempfile
from pathlib import Path

import kmock

from tawa import logs
from tawa.localkube import kubeconfig, state
from tawa.localkube.server import LocalKube

logger = logging.getLogger("tawa.localkube")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tawa.localkube", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback)")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one")
    parser.add_argument("--kubeconfig", type=Path, help="where to write the kubeconfig")
    parser.add_argument(
        "--state-dir", type=Path, help="folder for the kubeconfig (default: a temp dir)"
    )
    parser.add_argument("--log-level", default="WARNING", help="DEBUG logs every request")
    parser.add_argument("--json-logs", action="store_true", help="log JSON lines (default: text)")
    return parser.parse_args(argv)


async def serve(arguments: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    if not ipaddress.ip_address(arguments.host).is_loopback:
        logger.warning(
            "The local Kubernetes API checks no credentials and now listens on %s: "
            "anyone who can reach it can read its Secrets. Prefer --host 127.0.0.1.",
            arguments.host,
        )
    handler = LocalKube()
    folder = arguments.state_dir
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        state.restore(handler, folder)
    async with handler, kmock.Server(handler, host=arguments.host, port=arguments.port) as server:
        url = f"http://{arguments.host}:{server.port}"
        kubeconfig_dir = folder or Path(tempfile.mkdtemp(prefix="tawa-localkube-"))
        path = kubeconfig.write(arguments.kubeconfig or kubeconfig_dir / "kubeconfig", url)
        print(f"kubeconfig: {path}", flush=True)
        print(f"server: {url}", flush=True)
        logger.info("The local Kubernetes API serves %s.", url)
        keeper = asyncio.create_task(state.keep(handler, folder)) if folder else None
        await stop.wait()

        # Open watches would hold the shutdown until their clients leave.
        handler.store.close()
        if keeper is not None:
            keeper.cancel()
            state.save(handler, folder)
        logger.info("The local Kubernetes API is stopping.")


def main(argv: list[str] | None = None) -> int:
    arguments = _arguments(argv)
    logs.configure("localkube", level=arguments.log_level, json_lines=arguments.json_logs)
    asyncio.run(serve(arguments))
    return 0


if __name__ == "__main__":
    sys.exit(main())
