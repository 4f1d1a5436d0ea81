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
    assert result["verdict"] == "proved" and "conntracks existing at once" in result["scope"]
    assert "any number of allocations" in result["scope"]
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
    assert end.kernel.ct_count > trace.config.nf_conntrack_max


def test_prove_6x_proves_its_invariants_in_worker_processes_with_the_worker_scope(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    args = ["prove", "--variant", "6.x", "--out", str(out), "--jobs", "2"]
    code = main([*args, "--property", "dying-has-retry", "--property", "destroy-before-free"])
    assert code == 0
    doc = json.loads((out / "results.json").read_text())
    results = {r["property"]: r for r in doc["results"] if r["engine"] == "z3"}
    assert {r["verdict"] for r in results.values()} == {"proved"}
    assert all("worker delays" in r["scope"] for r in results.values())
    assert "build-failure-reported" in results["destroy-before-free"]["scope"]
    lines = (out / "z3-induction.txt").read_text().splitlines()
    assert any("6.x dying-has-retry: ecache_work dying-has-retry proved" in x for x in lines)


def test_prove_6x_witnesses_may_drop_when_full_with_a_replayable_trace(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["prove", "--variant", "6.x", "--property", "may-drop-when-full", "--out", str(out)]
    assert main(args) == 0
    [result] = json.loads((out / "results.json").read_text())["results"]
    assert result["verdict"] == "witnessed"
    trace = load_trace(out / result["trace"])
    assert replay(trace).ok and trace.config.variant == "6.x"
    assert trace.steps[-1].action == "early_drop" and trace.states[-2].kernel.dying


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
