"""destroy-eventually for 2.6.31 under the stated fairness, one reliable listener: the
well-founded response rule of `nfct_spec.proofs.liveness_weak`."""

from __future__ import annotations

from nfct_spec.proofs.liveness_weak import check_weak_fairness, traffic_free_actions
from nfct_spec.proofs.vocab import Shape

SHAPE = Shape(n=3, listeners=2)
CASES = ("early-drop", "read", "retry", "confirm", "expire", "tick")


def test_every_obligation_is_proved_with_one_reliable_listener() -> None:
    report = check_weak_fairness(SHAPE)
    assert report.proved, [
        (x.transition, x.conjunct, x.status) for x in report.lines if x.status != "proved"
    ]
    kinds = {(x.transition, x.conjunct) for x in report.lines}
    for case in CASES:
        assert (case, "enabled") in kinds and (case, "case satisfiable") in kinds
    assert ("state", "cover") in kinds and ("state", "bounded below") in kinds
    for action in traffic_free_actions():
        assert (action, "no increase") in kinds and (action, "stutter") in kinds
    helps = {x.conjunct for x in report.lines if x.conjunct.startswith("helps in case")}
    assert helps == {f"helps in case {case}" for case in CASES}


def test_with_two_reliable_listeners_a_failed_retry_can_raise_the_measure() -> None:
    """The mutant that the explorer's two-listener lasso refutes: a retry that fails on one
    reliable listener queues a copy for the other, so the measure no longer decreases."""
    report = check_weak_fairness(SHAPE, one_reliable=False)
    failed = {(x.transition, x.conjunct) for x in report.lines if x.status == "cti"}
    assert ("death_by_event", "no increase") in failed
    assert all(x.status == "proved" for x in report.lines if x.transition != "death_by_event")
