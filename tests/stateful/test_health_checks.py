"""Hypothesis health checks: none is suppressed, and one that fails is reported as undecided
verdicts (exit 3), never hidden."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import assume
from hypothesis.errors import FailedHealthCheck

from nfct_spec.cli import main
from nfct_spec.engines import hypothesis_engine
from nfct_spec.engines.hypothesis_engine import PROFILES, ModelMachine, hypothesis_settings, search
from nfct_spec.models.presets import preset
from nfct_spec.models.registry import Step
from nfct_spec.models.state import State
from nfct_spec.spec.catalogue import BY_ID


def _every_run_rejected(self: ModelMachine, step: Step, successor: State) -> None:
    """A machine whose every run is rejected: what `filter_too_much` is there to catch."""
    assume(False)


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_no_health_check_is_suppressed_in_any_profile(profile: str) -> None:
    assert hypothesis_settings(PROFILES[profile], None).suppress_health_check == ()


def test_a_search_whose_runs_are_all_rejected_fails_a_health_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hypothesis_engine.ModelMachine, "advance", _every_run_rejected)
    with pytest.raises(FailedHealthCheck, match="filter_too_much"):
        search(preset("tiny", "2.6.30"), [BY_ID["count-exact"]], PROFILES["ci"], 0)


def test_check_reports_a_failed_health_check_as_unknown_verdicts_and_exit_3(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(hypothesis_engine.ModelMachine, "advance", _every_run_rejected)
    out = tmp_path / "out"
    args = ["check", "--out", str(out), "--variant", "2.6.30", "--property", "count-exact"]
    assert main([*args, "--no-explore", "--no-prove"]) == 3
    (row,) = json.loads((out / "results.json").read_text())["results"]
    assert row["verdict"] == "unknown" and row["status"] == "unknown"
    assert "health check filter_too_much failed" in row["scope"]
