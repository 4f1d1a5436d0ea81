"""The Z3 readings of the catalogue predicates agree with the catalogue on model states and
steps, and every auxiliary invariant holds on every state the walks reach."""

from __future__ import annotations

from hypothesis import given

from nfct_spec.proofs.actions import destroy_owed
from nfct_spec.proofs.agreement import Checker
from nfct_spec.proofs.invariants import INVARIANTS
from nfct_spec.proofs.plans import PLANS
from nfct_spec.proofs.terms import truth
from nfct_spec.spec.catalogue import BY_ID
from tests.proofs.walks import WalkPlan, visit, walks


@given(walks(length=25))
def test_state_invariants_read_the_same_on_projected_states(plan: WalkPlan) -> None:
    config = plan.config
    checker = Checker(config)
    proved_aux = {
        c
        for p in PLANS
        if config.variant in p.variants and not p.assumptions
        for c in p.conjuncts
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
            assert owed == check(config, state, step, post)
