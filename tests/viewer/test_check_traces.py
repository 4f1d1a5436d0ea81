"""Every trace that `nfct-spec check` writes can be shown, rendered, minimised and exported,
and the exported tests pass (they assert the finding)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from nfct_spec.replay import replay
from nfct_spec.traces import Trace, load_trace
from nfct_spec.viewer.export_pytest import render_test
from nfct_spec.viewer.html import render_page
from nfct_spec.viewer.minimize import minimize_trace
from nfct_spec.viewer.show import show


def _traces(out: Path) -> list[tuple[str, Trace]]:
    results = json.loads((out / "results.json").read_text())["results"]
    return [(r["trace"], load_trace(out / r["trace"])) for r in results if r.get("trace")]


def test_every_check_trace_shows_renders_and_minimises(checked: tuple[int, Path]) -> None:
    _, out = checked
    traces = _traces(out)
    assert len(traces) >= 10
    for name, trace in traces:
        console = Console(width=120, record=True, file=io.StringIO())
        show(trace, console)
        assert str(trace.property_id) in console.export_text(), name
        assert "<html" in render_page(trace).lower(), name
        smaller = minimize_trace(trace)
        assert len(smaller.steps) <= len(trace.steps) and replay(smaller).ok, name


def test_every_check_trace_exports_a_passing_pytest(
    checked: tuple[int, Path], tmp_path: Path
) -> None:
    _, out = checked
    traces = _traces(out)
    for i, (name, trace) in enumerate(traces):
        (tmp_path / f"test_exported_{i}.py").write_text(render_test(trace, name))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert f"{len(traces)} passed" in done.stdout
