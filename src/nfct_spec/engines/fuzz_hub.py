"""`python -m nfct_spec.engines.fuzz_hub ARGS`: HypoFuzz's `hypothesis fuzz ARGS`.

The same command line as the `hypothesis` console script, run with the interpreter of
nfct-spec so that a campaign never picks up another installation's `hypothesis`. Workers are
started with the `spawn` method, which HypoFuzz supports: forked workers would inherit the
hub's process id for HypoFuzz's reports (so that two workers count as one) and everything the
hub imported.

`nfct-spec fuzz` starts the hub in a process group of its own (so that it can stop the hub
and its workers as a whole) and names itself in `PARENT_ENV`. The hub then watches that
process: HypoFuzz runs until it is stopped, so if `nfct-spec fuzz` dies without stopping it
(SIGKILL, an out-of-memory kill), the hub ends its own group instead of fuzzing on for ever
in the background.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time

PARENT_ENV = "NFCT_SPEC_FUZZ_PARENT"
"""The environment variable with the process id of the `nfct-spec fuzz` that started the hub."""

POLL_SECONDS = 0.5
GRACE_SECONDS = 5.0


def end_group_when_orphaned(parent: int) -> None:
    """Wait until this process's parent is no longer `parent` (it died: the process was
    handed to init or a subreaper), then end this process group: SIGTERM, and SIGKILL to
    what is left after `GRACE_SECONDS`. Runs in a daemon thread of the hub."""
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    os.killpg(0, signal.SIGTERM)
    time.sleep(GRACE_SECONDS)
    os.killpg(0, signal.SIGKILL)


def watch_parent() -> None:
    """Start the watchdog of `end_group_when_orphaned` if `PARENT_ENV` names a parent.

    A value that is not this process's parent (already gone before the hub got here) ends the
    group at once, which is what a dead parent asks for."""
    value = os.environ.get(PARENT_ENV)
    if value is None:
        return
    thread = threading.Thread(
        target=end_group_when_orphaned, args=(int(value),), name="parent-watch", daemon=True
    )
    thread.start()


if __name__ == "__main__":
    watch_parent()
    multiprocessing.set_start_method("spawn")
    from hypofuzz.entrypoint import fuzz

    fuzz(prog_name="hypothesis fuzz")
