"""Ctrl-C ends a campaign cleanly: SIGINT to `nfct-spec fuzz` stops HypoFuzz and its workers
and still reports, with a trace, what was found so far."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from fuzzing import FINDING, SEARCH, TWO_TESTS, logged_findings, results
from helpers import interruptible
from nfct_spec.replay import replay
from nfct_spec.traces import load_trace


def _processes_in(folder: Path) -> list[int]:
    """Processes whose working directory is `folder` (HypoFuzz's hub and workers)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if Path(os.readlink(proc / "cwd")) == folder:
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_sigint_ends_a_campaign_with_what_it_found_saved(tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "nfct_spec.cli",
        "fuzz",
        *TWO_TESTS,
        *SEARCH,
        "--out",
        str(out),
    ]
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=interruptible
    )
    try:
        deadline = time.monotonic() + 90
        while FINDING not in logged_findings(out) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    (result,) = [
        r
        for r in results(out)["results"]
        if r["engine"] == "hypofuzz" and r["property"] == "table-bound"
    ]
    assert code == 130
    assert result["verdict"] == "violated"
    assert replay(load_trace(out / result["trace"])).ok
    assert results(out)["runs"]["fuzz"]["interrupted"] is True
    assert _processes_in((out / "fuzz" / "campaign").resolve()) == []
