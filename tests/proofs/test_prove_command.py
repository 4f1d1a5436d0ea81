"""`nfct-spec prove`: verdicts merged into results.json, traces written and replayable, bad
input exit 2, and a solver that gives up is `unknown` with exit 3."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import z3

from nfct_spec.cli import main
from nfct_spec.replay import replay
from nfct_spec.traces import load_trace


def test_prove_writes_a_proved_verdict_with_its_scope(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = main(["prove", "--variant", "2.6.30", "--property", "one-place", "--out", str(out)])
    assert code == 0
    doc = json.loads((out / "results.json").read_text())
    [result] = [r for r in doc["results"] if r["engine"] == "z3"]
    assert result["verdict"] == "proved" and "max_conntracks <=" in result["scope"]
    lines = (out / "z3-induction.txt").read_text().splitlines()
    assert any("env_tick one-place proved" in line for line in lines)


def test_prove_writes_the_table_bound_violation_as_a_replayable_trace(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = main(["prove", "--variant", "2.6.31", "--property", "table-bound", "--out", str(out)])
    assert code == 0
    doc = json.loads((out / "results.json").read_text())
    [result] = doc["results"]
    assert result["verdict"] == "violated"
    trace = load_trace(out / result["trace"])
    assert result["trace"].startswith("traces/z3/") and replay(trace).ok
    last = trace.steps[-1]
    assert last.action == "early_drop" and len(trace.steps) == 5
    end = trace.states[-1]
    assert int(last.kwargs["victim"]) in end.kernel.dying
    assert end.kernel.count > trace.config.nf_conntrack_max


def test_an_unknown_variant_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["prove", "--variant", "9.9", "--out", str(tmp_path / "o")]) == 2
    assert "unknown variant" in capsys.readouterr().err


def test_a_solver_that_gives_up_is_unknown_with_exit_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(z3.Solver, "check", lambda self, *a: z3.unknown)
    out = tmp_path / "out"
    code = main(["prove", "--variant", "2.6.30", "--property", "one-place", "--out", str(out)])
    assert code == 3
    doc = json.loads((out / "results.json").read_text())
    assert [r["verdict"] for r in doc["results"]] == ["unknown"]
