"""BMC findings are shortest, decode into registry steps, and replay through the Python model;
an encoding that disagrees with the model is caught as a mismatch, never written out."""

from __future__ import annotations

from dataclasses import replace

import pytest

from nfct_spec.engines.z3_bmc import BmcMismatch, run_bmc
from nfct_spec.models.presets import preset
from nfct_spec.proofs import kernel_z3
from nfct_spec.proofs.targets import TARGETS
from nfct_spec.replay import replay
from nfct_spec.spec.catalogue import BY_ID
from tests.helpers import bfs_depth


def _expected_6x_findings() -> list[tuple[str, str]]:
    """The BMC targets that the catalogue expects to be found on 6.x (tiny preset)."""
    config = preset("tiny", "6.x")
    return [
        (prop_id, "6.x")
        for prop_id in TARGETS
        if BY_ID[prop_id].expected_for(config) in ("violated", "witness")
    ]


def _expected_6x_holds() -> list[str]:
    config = preset("tiny", "6.x")
    return [prop_id for prop_id in TARGETS if BY_ID[prop_id].expected_for(config) == "holds"]


@pytest.mark.parametrize(
    ("prop_id", "variant"),
    [
        ("table-bound", "2.6.31"),
        ("destroy-before-free", "2.6.30"),
        ("no-crash", "2.6.31"),
        *_expected_6x_findings(),
    ],
)
def test_bmc_finds_the_shortest_finding_and_it_replays(prop_id: str, variant: str) -> None:
    config = preset("tiny", variant)
    found = run_bmc(config, TARGETS[prop_id], 6, {"property": prop_id, "finding": "violated"})
    assert found.trace is not None
    assert replay(found.trace).ok
    assert len(found.trace.steps) == bfs_depth(preset("tiny", variant), prop_id, 6)


def test_no_table_bound_violation_exists_for_2_6_30_within_the_depth() -> None:
    found = run_bmc(preset("tiny", "2.6.30"), TARGETS["table-bound"], 5, {})
    assert found.trace is None and found.status == "none"


def test_the_6x_findings_include_one_and_the_6x_invariants_have_no_short_violation() -> None:
    assert _expected_6x_findings()
    for prop_id in _expected_6x_holds():
        if BY_ID[prop_id].on_transitions:
            continue
        found = run_bmc(preset("tiny", "6.x"), TARGETS[prop_id], 5, {})
        assert found.trace is None and found.status == "none", prop_id


def test_6x_can_free_without_destroy_at_a_be_listener_lacking_no_enobufs() -> None:
    """Why 6.x destroy-before-free assumes build-failure-reported: with a BE listener that did
    not set NO_ENOBUFS, an unbuildable DESTROY counts as delivered (nfnetlink_set_err() finds
    no NO_ENOBUFS socket) and the conntrack is freed; the Z3 trace replays in the model."""
    tiny = preset("tiny", "6.x")
    be_only = replace(tiny.listeners[0], no_enobufs=False)
    config = tiny.with_(listeners=(be_only, *tiny.listeners[1:]), faults=("build_failure",))
    meta = {"property": "destroy-before-free", "finding": "violated"}
    found = run_bmc(config, TARGETS["destroy-before-free"], 5, meta)
    assert found.trace is not None and replay(found.trace).ok
    actions = [s.action for s in found.trace.steps]
    assert actions[-2] == "env_fault_arm"
    assert actions[-1] in ("ctnetlink_del_conntrack", "nf_conntrack_flush_report")


def test_an_encoding_that_disagrees_with_the_model_is_reported_as_a_mismatch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def late_retry(s: kernel_z3.Sym, uid: object) -> None:
        s.put("timer", s.get("retry"), uid)

    monkeypatch.setattr(kernel_z3, "arm_retry_timer", late_retry)
    with pytest.raises(BmcMismatch, match="field timer"):
        run_bmc(preset("tiny", "2.6.31"), TARGETS["table-bound"], 6, {"property": "table-bound"})


def test_a_6x_encoding_that_schedules_the_worker_late_is_reported_as_a_mismatch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def late_worker(s: kernel_z3.Sym, p: kernel_z3.Params) -> None:
        s.put("worker", p.worker_first_delay + 1)
        s.put("dwork_pending", True)

    monkeypatch.setattr(kernel_z3, "schedule_on_failure", late_worker)
    with pytest.raises(BmcMismatch, match="field worker"):
        meta = {"property": "may-drop-when-full", "finding": "witness"}
        run_bmc(preset("tiny", "6.x"), TARGETS["may-drop-when-full"], 6, meta)
