"""The Z3 readings of the catalogue predicates agree with the catalogue on model states and
steps, and every auxiliary invariant of a proof holds on every state the walks reach (in
configs that satisfy the proof's assumptions)."""

from __future__ import annotations

import pytest
from hypothesis import given

from helpers import run
from nfct_spec.models.config import ListenerConfig
from nfct_spec.models.presets import preset
from nfct_spec.models.registry import Step, apply
from nfct_spec.proofs import liveness
from nfct_spec.proofs.actions import destroy_owed
from nfct_spec.proofs.agreement import Checker
from nfct_spec.proofs.induction import Assumption
from nfct_spec.proofs.plans import PLANS
from nfct_spec.spec.catalogue import BY_ID
from nfct_spec.spec.invariants import INVARIANTS
from nfct_spec.spec.terms import truth
from tests.proofs.walks import WALK_PRESETS_6X, WalkPlan, visit, walks


@given(walks(length=25))
def test_state_invariants_read_the_same_on_projected_states(plan: WalkPlan) -> None:
    _read_the_same(plan)


@given(walks(length=25, variants=("6.x",), presets=WALK_PRESETS_6X))
def test_state_invariants_read_the_same_on_projected_6x_states(plan: WalkPlan) -> None:
    _read_the_same(plan)


def _proofs(variant: str) -> list[tuple[tuple[str, ...], tuple[Assumption, ...]]]:
    """The conjuncts and assumptions of every proof of `variant`: the plans and the ranking
    function's invariants."""
    proofs = [(p.conjuncts, p.assumptions) for p in PLANS if variant in p.variants]
    if variant in liveness.VARIANTS:
        proofs.append((liveness.CONJUNCTS[variant], tuple(liveness.assumptions(variant))))
    return proofs


def _read_the_same(plan: WalkPlan) -> None:
    config = plan.config
    checker = Checker(config)
    proved_aux = {
        c
        for conjuncts, assumptions in _proofs(config.variant)
        if all(truth(a.constraint(checker.params)) for a in assumptions)
        for c in conjuncts
        if c.startswith("aux-")
    }
    for state, steps in visit(plan):
        abstract = checker.project(state)
        for inv in INVARIANTS:
            value = truth(inv.pred(abstract, checker.params))
            if inv.catalogue:
                check = BY_ID[inv.id].check
                assert check is not None
                assert value == check(config, state), inv.id
            elif inv.id == "aux-retry-positive":
                assert value == (state.kernel.events_retry_timeout > 0)
            elif inv.id in proved_aux:
                assert value, f"{inv.id} fails on a reachable state"
        check = BY_ID["destroy-before-free"].check
        assert check is not None
        for step, post in steps[:6]:
            owed = truth(destroy_owed(checker.params, abstract, checker.project(post)))
            assert owed == check(config, state, step, post), step


@pytest.mark.parametrize("variant", ["2.6.30", "2.6.31"])
def test_a_flush_that_frees_two_reads_the_same_for_each_of_them(variant: str) -> None:
    """A flush frees two reporting conntracks; an armed build failure loses the first DESTROY
    (2.6.x reports it as sent), the second reaches the reliable listener. destroy-before-free
    fails on the first free of the step, in Z3's reading and in the catalogue's (both read the
    step's freed records, `Ghost.freed`); the Z3 relation computes the same post-state."""
    listener = ListenerConfig("conntrackd", ("new", "destroy"), True, True, capacity=4)
    config = preset("faults", variant).with_(listeners=(listener,))
    steps = [
        *(
            s
            for slot in (0, 1)
            for s in (
                Step("nf_conntrack_in", (("flow", slot), ("packet", "new"), ("slot", slot))),
                Step("__nf_conntrack_confirm", (("slot", slot),)),
            )
        ),
        Step("env_recv", (("listener", "conntrackd"),)),
        Step("env_recv", (("listener", "conntrackd"),)),
        Step("env_fault_arm", ()),
    ]
    state = run(config, *steps)
    flush = Step("nf_conntrack_flush_report", (("requester", "conntrack"), ("order", (0, 1))))
    post = apply(config, state, flush)
    assert post is not None and [m.slot for m in post.kernel.sockets[0].queue] == [1]
    checker = Checker(config)
    assert checker.step_agrees(state, flush, post)
    after = checker.project(post)
    assert after["freed"] == after["freed_rep"] == [True, True, False, False]
    assert after["freed_hasD"] == [[False, True, False, False]]
    owed = destroy_owed(checker.params, checker.project(state), after)
    check = BY_ID["destroy-before-free"].check
    assert check is not None
    assert truth(owed) is False and check(config, state, flush, post) is False
