"""destroy-eventually under the stated fairness with one reliable listener: the well-founded
response rule of `nfct_spec.proofs.liveness_weak`, for 2.6.31 and 6.x."""

from __future__ import annotations

import pytest

from nfct_spec.proofs.liveness_weak import VARIANTS, check_weak_fairness, traffic_free_actions
from nfct_spec.proofs.vocab import Shape

SHAPE = Shape(n=3, listeners=2)
CASES = {
    "2.6.31": ("early-drop", "read", "retry", "confirm", "expire", "tick"),
    "6.x": ("early-drop", "read", "worker-due", "worker-wait", "confirm", "expire", "tick"),
}
RETRY = {"2.6.31": "death_by_event", "6.x": "ecache_work"}


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_obligation_is_proved_with_one_reliable_listener(variant: str) -> None:
    report = check_weak_fairness(SHAPE, variant=variant)
    assert report.proved, [
        (x.transition, x.conjunct, x.status) for x in report.lines if x.status != "proved"
    ]
    kinds = {(x.transition, x.conjunct) for x in report.lines}
    for case in CASES[variant]:
        assert (case, "enabled") in kinds and (case, "case satisfiable") in kinds
    assert ("state", "cover") in kinds and ("state", "bounded below") in kinds
    for action in traffic_free_actions(variant):
        assert (action, "no increase") in kinds and (action, "stutter") in kinds
    helps = {x.conjunct for x in report.lines if x.conjunct.startswith("helps in case")}
    assert helps == {f"helps in case {case}" for case in CASES[variant]}


@pytest.mark.parametrize("variant", VARIANTS)
def test_with_two_reliable_listeners_a_failed_retry_can_raise_the_measure(variant: str) -> None:
    """The mutant that the explorer's two-listener lasso refutes: a retry that fails on one
    reliable listener queues a copy for the other, so the measure no longer decreases."""
    report = check_weak_fairness(SHAPE, one_reliable=False, variant=variant)
    failed = {(x.transition, x.conjunct) for x in report.lines if x.status == "cti"}
    assert (RETRY[variant], "no increase") in failed
