"""BMC findings are shortest, decode into registry steps, and replay through the Python model;
an encoding that disagrees with the model is caught as a mismatch, never written out."""

from __future__ import annotations

import pytest

from nfct_spec.checking import finding_on_step
from nfct_spec.models.presets import preset
from nfct_spec.models.registry import successors
from nfct_spec.models.state import initial_state
from nfct_spec.proofs import kernel_z3
from nfct_spec.proofs.bmc import BmcMismatch, run_bmc
from nfct_spec.proofs.targets import TARGETS
from nfct_spec.replay import replay
from nfct_spec.spec.catalogue import BY_ID


def _shortest_in_python(prop_id: str, variant: str, depth: int) -> int | None:
    config = preset("tiny", variant)
    prop = BY_ID[prop_id]
    frontier = {initial_state(config)}
    seen = set(frontier)
    for d in range(1, depth + 1):
        nxt = set()
        for state in frontier:
            for step, post in successors(config, state):
                if finding_on_step(prop, config, state, step, post):
                    return d
                if post not in seen:
                    seen.add(post)
                    nxt.add(post)
        frontier = nxt
    return None


@pytest.mark.parametrize(
    ("prop_id", "variant"),
    [("table-bound", "2.6.31"), ("destroy-before-free", "2.6.30"), ("no-crash", "2.6.31")],
)
def test_bmc_finds_the_shortest_finding_and_it_replays(prop_id: str, variant: str) -> None:
    config = preset("tiny", variant)
    found = run_bmc(config, TARGETS[prop_id], 6, {"property": prop_id, "finding": "violated"})
    assert found.trace is not None
    assert replay(found.trace).ok
    assert len(found.trace.steps) == _shortest_in_python(prop_id, variant, 6)


def test_no_table_bound_violation_exists_for_2_6_30_within_the_depth() -> None:
    found = run_bmc(preset("tiny", "2.6.30"), TARGETS["table-bound"], 5, {})
    assert found.trace is None and found.status == "none"


def test_an_encoding_that_disagrees_with_the_model_is_reported_as_a_mismatch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def late_retry(s: kernel_z3.Sym, uid: object) -> None:
        s.put("timer", s.get("retry"), uid)

    monkeypatch.setattr(kernel_z3, "arm_retry_timer", late_retry)
    with pytest.raises(BmcMismatch, match="field timer"):
        run_bmc(preset("tiny", "2.6.31"), TARGETS["table-bound"], 6, {"property": "table-bound"})
