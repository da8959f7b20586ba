"""Run ``python -m tawa.operator`` with MongoDB replaced at its command boundary.

No MongoDB server can be installed on the build machines, so the operator
integration test starts the operator through this script: the databases step
gets a :class:`RecordingMongo` instead of a pymongo client, and every command
it sends is appended (passwords left out) as one JSON line to the file named
by ``TAWA_TEST_MONGO_LOG``. Everything else is the real operator.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

# The repository root goes last: its operator/ folder must not shadow the stdlib.
sys.path.append(str(Path(__file__).resolve().parents[2]))

from tests.operator_steps.recording_mongo import RecordingMongo

LOG = Path(os.environ["TAWA_TEST_MONGO_LOG"])


class LoggedMongo(RecordingMongo):
    def command(self, database: str, document: dict[str, Any]) -> dict[str, Any]:
        shown = {k: v for k, v in document.items() if k != "pwd"}
        with LOG.open("a") as log:
            log.write(json.dumps([database, shown]) + "\n")
        return super().command(database, document)


def main() -> None:
    from tawa.operator import __main__ as entry
    from tawa.operator.steps import databases

    shared = LoggedMongo()
    databases.PymongoCommands = lambda uri: shared  # type: ignore[assignment,misc]
    entry.main(sys.argv[1:])


if __name__ == "__main__":
    main()
