"""Whether the order of the 2.6.31 dying list is read: the check behind merging its orders.

The explorer's canonical form (`models/canonical.py`, `dying_order_observable`) and the
symmetry-reduced liveness graph (`nfct_spec.engines.lasso_sym`) keep the 2.6.31 dying list as a
set: they take every reordering of it for the same state. That is sound when the reorderings
form a bisimulation that keeps step labels and judgements: each reordering of a state takes the
same steps, to successors that are again reorderings of each other, and every entry a search
judges, and everything the liveness search reads, is the same on both. The argument is by
reading the model (no 2.6.31 step but nf_ct_release_dying_list() of another namespace's exit
iterates the list in order); `differences` checks it on given states, and
`scripts/check_dying_order.py` on every state of an exhausted search.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from nfct_spec.checking import finding_in_state, finding_on_step, searched
from nfct_spec.engines.lasso import FULL_FAIRNESS, assumed, fair_units, weaker_fairness_sets
from nfct_spec.models.config import Config
from nfct_spec.models.observers import OBLIGATIONS
from nfct_spec.models.registry import Step, successors
from nfct_spec.models.state import K_DYING, State, set_field, with_kernel
from nfct_spec.spec.catalogue import CATALOGUE, Property
from nfct_spec.spec.fairness import HELD, LIVENESS, obligation_broken

Successors = list[tuple[Step, State]]


def obligations_entries(config: Config) -> list[Property]:
    """The safety entries the obligations-level search of the config judges (those the
    reordering must not tell apart)."""
    return [
        p
        for p in CATALOGUE
        if p.kind != "liveness" and searched(p, config) and not p.observes & ~OBLIGATIONS
    ]


def with_dying(state: State, dying: tuple[int, ...]) -> State:
    """The state with its dying list in the given order."""
    return with_kernel(state, set_field(state.kernel, K_DYING, dying))


def sorted_dying(state: State) -> State:
    """The state with its dying list sorted (what the canonical form keeps of it)."""
    return with_dying(state, tuple(sorted(state.kernel.dying)))


def reorderings(state: State) -> list[State]:
    """Every other order of the state's dying list (none with fewer than two entries)."""
    dying = state.kernel.dying
    return [with_dying(state, order) for order in itertools.permutations(dying) if order != dying]


def safety_differences(
    config: Config,
    state: State,
    other: State,
    mine: Successors,
    theirs: Successors,
    props: Sequence[Property],
) -> list[str]:
    """What tells `state` from its reordering `other` (given with their successors) to a safety
    search judging `props`: a step one takes and the other does not, successors that differ
    once their dying lists are sorted, an entry judging a state or a step differently."""
    if [step for step, _ in mine] != [step for step, _ in theirs]:
        return ["the enabled steps differ"]
    found: list[str] = []
    for (step, post), (_, moved) in zip(mine, theirs, strict=True):
        if sorted_dying(post) != sorted_dying(moved):
            found.append(f"{step}: successors differ beyond the order of the dying list")
        for prop in props:
            if prop.on_transitions and finding_on_step(
                prop, config, state, step, post
            ) != finding_on_step(prop, config, other, step, moved):
                found.append(f"{step}: {prop.id} judges the step differently")
    for prop in props:
        if not prop.on_transitions and finding_in_state(prop, config, state) != finding_in_state(
            prop, config, other
        ):
            found.append(f"{prop.id} judges the state differently")
    return found


def liveness_differences(
    config: Config, state: State, other: State, mine: Successors, theirs: Successors
) -> list[str]:
    """What tells `state` from its reordering `other` to the liveness search on the
    symmetry-reduced graph: the conntracks each liveness entry follows (as a set:
    `destroy-eventually` lists them in dying-list order), whether each fairness set's
    assumptions hold, the fairness instances enabled with a step that changes the state, and
    which steps break an obligation (the steps themselves are compared by
    `safety_differences`)."""
    found: list[str] = []
    for prop_id in LIVENESS:
        if set(HELD[prop_id](state)) != set(HELD[prop_id](other)):
            found.append(f"{prop_id} follows other conntracks")
    for fairness in [FULL_FAIRNESS, *weaker_fairness_sets()]:
        name = "+".join(fairness) or "no fairness"
        if assumed(config, state, fairness) != assumed(config, other, fairness):
            found.append(f"the assumptions of {name} differ")
        if fair_units(config, state, fairness) != fair_units(config, other, fairness):
            found.append(f"the fairness instances of {name} differ")
    for (step, post), (_, moved) in zip(mine, theirs, strict=True):
        if obligation_broken(config, state, step, post) != obligation_broken(
            config, other, step, moved
        ):
            found.append(f"{step}: breaks an obligation in one order only")
    return found


def differences(
    config: Config, state: State, props: Sequence[Property], liveness: bool = True
) -> list[str]:
    """Everything that tells `state` from one of its reorderings (`safety_differences`, and
    with `liveness` also `liveness_differences`), each prefixed with the order that shows it;
    empty when nothing does."""
    mine = list(successors(config, state))
    found: list[str] = []
    for other in reorderings(state):
        theirs = list(successors(config, other))
        told = safety_differences(config, state, other, mine, theirs, props)
        if liveness and not told:
            told = liveness_differences(config, state, other, mine, theirs)
        found += [f"dying list {other.kernel.dying}: {what}" for what in told]
    return found
