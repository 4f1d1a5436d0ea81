"""A HypoFuzz hub whose `nfct-spec fuzz` died without stopping it ends its own process group
(hub and workers) instead of fuzzing on in the background; without the parent named, nothing
ends it (which is what the watchdog is for)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from nfct_spec.engines.fuzz_hub import PARENT_ENV

HUB = """
import subprocess, sys, time
from nfct_spec.engines.fuzz_hub import watch_parent
watch_parent()
worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
print("worker", worker.pid, flush=True)
time.sleep(120)
"""
"""Stands in for the hub: the watchdog, and one child that stands in for a worker."""

PARENT = """
import os, subprocess, sys, time
env = dict(os.environ)
if sys.argv[1] == "named":
    env[{name!r}] = str(os.getpid())
hub = subprocess.Popen([sys.executable, "-c", {hub!r}], env=env, start_new_session=True)
print("hub", hub.pid, flush=True)
time.sleep(120)
"""
"""Stands in for `nfct-spec fuzz`: starts the hub in a group of its own, as HypoFuzz.start()."""


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie waiting for init to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _start(mode: str) -> tuple[subprocess.Popen[str], int, int]:
    """The stand-in parent, its hub's pid and the worker's pid."""
    script = PARENT.format(name=PARENT_ENV, hub=HUB)
    parent = subprocess.Popen(
        [sys.executable, "-c", script, mode], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    pids = dict(parent.stdout.readline().split() for _ in range(2))
    return parent, int(pids["hub"]), int(pids["worker"])


def _gone_within(pids: tuple[int, ...], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while any(_alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_the_hub_ends_its_group_when_nfct_spec_fuzz_is_killed() -> None:
    parent, hub, worker = _start("named")
    try:
        assert _alive(hub) and _alive(worker)
        parent.kill()
        parent.wait()
        assert _gone_within((hub, worker), 15), "the orphaned hub or its worker is still running"
    finally:
        for pid in (hub, worker):
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_without_the_parent_named_an_orphaned_hub_runs_on() -> None:
    parent, hub, worker = _start("unnamed")
    try:
        parent.kill()
        parent.wait()
        assert not _gone_within((hub,), 2)
        assert _alive(worker)
    finally:
        os.killpg(hub, signal.SIGKILL)
