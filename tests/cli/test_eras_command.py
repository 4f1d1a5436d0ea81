"""`nfct-spec eras`: every engine on the kernel-era configs, each verdict against the
catalogue's expectation for that era config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nfct_spec.cli import main
from nfct_spec.commands import eras
from nfct_spec.docs.eras import era_config
from nfct_spec.models.registry import Step
from nfct_spec.spec.catalogue import BY_ID
from nfct_spec.traces import load_trace

WORKER = ["--era", "worker-review-relock", "--era", "worker-released-relock"]


def test_the_review_worker_deadlocks_and_the_released_one_does_not(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["eras", *WORKER, "--property", "deadlock-free", "--out", str(out)]
    assert main(args) == 0
    data = json.loads((out / "results.json").read_text())
    verdicts = {(r["config"], r["engine"]): r for r in data["results"]}
    review = verdicts[("worker-review-relock", "explorer")]
    assert review["verdict"] == "violated" and review["expected"] == "violated"
    assert load_trace(out / review["trace"]).steps[-1] == Step("ecache_work")
    assert verdicts[("worker-released-relock", "explorer")]["verdict"] == "exhausted"
    assert {r["engine"] for r in data["results"]} == {"explorer", "hypothesis"}
    assert "not encoded" in data["run"]["z3"]["worker-review-relock"]
    assert "covered by the proofs" in data["run"]["z3"]["worker-released-relock"]


def test_an_era_whose_fault_the_model_lost_is_no_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The review era with the kernel's batch of 18: a one-flow config never ends a batch, so
    # the deadlock the catalogue expects is not there; no engine finds it, and the run is not
    # a pass (unknown, exit 3).
    lost = era_config("worker-review-relock").with_(ecache_batch=18)
    monkeypatch.setattr(eras, "era_config", lambda name: lost)
    out = tmp_path / "out"
    args = ["eras", "--era", "worker-review-relock", "--property", "deadlock-free"]
    assert main([*args, "--out", str(out)]) == 3
    data = json.loads((out / "results.json").read_text())
    assert {r["engine"]: r["verdict"] for r in data["results"]} == {
        "explorer": "unknown",
        "hypothesis": "unknown",
    }


def test_by_default_every_guarantee_is_checked_and_no_witness(tmp_path: Path) -> None:
    out = tmp_path / "out"
    main(["eras", "--era", "worker-released-relock", "--profile", "dev", "--out", str(out)])
    data = json.loads((out / "results.json").read_text())
    checked = {r["property"] for r in data["results"]}
    assert {BY_ID[p].kind for p in checked} <= set(eras.GUARANTEES)
    assert {"deadlock-free", "destroy-before-free", "destroy-eventually"} <= checked
