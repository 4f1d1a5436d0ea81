"""The Z3 readings of the catalogue predicates agree with the catalogue on model states and
steps, and every auxiliary invariant of a proof holds on every state the walks reach (in
configs that satisfy the proof's assumptions)."""

from __future__ import annotations

from hypothesis import given

from nfct_spec.proofs import liveness
from nfct_spec.proofs.actions import destroy_owed
from nfct_spec.proofs.agreement import Checker
from nfct_spec.proofs.induction import Assumption
from nfct_spec.proofs.plans import PLANS
from nfct_spec.proofs.sym import Freed
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
            freed = checker.freed(state, step)
            owed = truth(destroy_owed(checker.params, abstract, checker.project(post), freed))
            assert owed == check(config, state, step, post) or _earlier_free_forgotten(
                owed, freed
            ), step


def _earlier_free_forgotten(owed: bool, freed: tuple[Freed, ...]) -> bool:
    """The catalogue's check reads the freed instances' records in the post-state, and the
    observers keep only the last instance a step frees (`observers.freed` collects the ones
    freed earlier in the same step): on a step that frees two or more, the Z3 reading, which
    notes every free, may find a violation the check does not see, never the other way."""
    return not owed and sum(1 for gone in freed if truth(gone.cond)) >= 2
