"""``streamrec train`` that announces each step of a publish and can stop dead at one (test only).

    python -m tests.faults.pausing_trainer STAGE [streamrec train arguments]

STAGE is where it waits to be SIGKILLed, so that "mid-publish" is hit every time rather than by
luck (a publish takes milliseconds). Nothing in the product changes: the wrapper patches the
functions ``recommender.artifacts.save_model`` calls, in this process only.

- ``training``: announces that the training started, then trains normally (killed meanwhile);
- ``writing``: the version's first file is written in the ``.tmp-`` staging directory;
- ``renamed``: the complete version directory is in place, LATEST not yet updated;
- ``latest``: the new LATEST content is written to its temp file, not yet renamed over LATEST.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from ingest import cli
from recommender import artifacts, lifecycle

STAGES = ("training", "writing", "renamed", "latest")
HANG_SECONDS = 600.0


def announce(stage: str, pause: bool) -> None:
    """Print the stage for the test to see; stay there if it is the one to be killed at."""
    print(f"FAULT-STAGE {stage}", flush=True)
    if pause:
        time.sleep(HANG_SECONDS)


def patch(stage: str) -> None:
    """Wrap the publish steps so that each announces itself and ``stage`` hangs."""
    train_model, write_file = lifecycle.train_model, artifacts.write_file_durably
    replace_file, os_replace = artifacts.replace_file_atomically, os.replace

    def training(*args: Any, **kwargs: Any) -> Any:
        announce("training", pause=False)
        return train_model(*args, **kwargs)

    def writing(path: Any, write: Any) -> None:
        write_file(path, write)
        announce("writing", pause=stage == "writing")

    def renamed(*args: Any, **kwargs: Any) -> None:
        announce("renamed", pause=stage == "renamed")
        replace_file(*args, **kwargs)

    def latest(source: Any, target: Any) -> None:
        if os.path.basename(target) == artifacts.LATEST_FILE:
            announce("latest", pause=stage == "latest")
        os_replace(source, target)

    lifecycle.train_model = training
    artifacts.write_file_durably = writing
    artifacts.replace_file_atomically = renamed
    os.replace = latest  # type: ignore[assignment]


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in STAGES:
        sys.exit(f"usage: python -m tests.faults.pausing_trainer {{{','.join(STAGES)}}} [args]")
    patch(sys.argv[1])
    sys.exit(cli.main(["train", *sys.argv[2:]]))
