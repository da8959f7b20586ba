"""``python -m tawa.operator``: run the kopf handlers against the current kubeconfig.

Peering is on by default (one active replica, the others stand by under the
same peering name); ``--standalone`` turns it off for a single local process.
Options override the ``TAWA_*`` settings of the same name.
"""

from __future__ import annotations

import argparse
import os

import kopf

from tawa.logs import configure


def _arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tawa.operator", description=__doc__)
    parser.add_argument("--standalone", action="store_true", help="no peering; run alone")
    parser.add_argument("--peering", metavar="NAME", help="peering name (TAWA_PEERING_NAME)")
    parser.add_argument("--priority", type=int, default=0, help="peering priority")
    parser.add_argument(
        "--namespace", "-n", action="append", default=[], help="watch only these namespaces"
    )
    parser.add_argument("--liveness", metavar="URL", help="e.g. http://0.0.0.0:8080/healthz")
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: KUBECONFIG or ~/.kube)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    # The settings are read from the environment by the handlers module, so
    # command-line overrides go there before it is imported.
    if args.standalone:
        os.environ["TAWA_STANDALONE"] = "true"
    if args.peering:
        os.environ["TAWA_PEERING_NAME"] = args.peering
    if args.kubeconfig:
        os.environ["KUBECONFIG"] = os.environ["TAWA_KUBECONFIG"] = args.kubeconfig

    from tawa.operator import handlers  # noqa: F401  (registers the handlers with kopf)
    from tawa.operator.settings import OperatorSettings

    settings = OperatorSettings()
    configure("operator", level=settings.log_level, json_lines=settings.log_json)
    kopf.run(
        standalone=settings.standalone,
        priority=args.priority,
        clusterwide=not args.namespace,
        namespaces=args.namespace,
        liveness_endpoint=args.liveness,
    )


if __name__ == "__main__":
    main()
