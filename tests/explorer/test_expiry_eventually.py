"""`expiry-eventually`: the liveness of a conntrack's whole life. It shares its obligations
with `destroy-eventually` (a conntrack freed without its DESTROY) and follows every allocated
conntrack instead of the dying ones only, so a conntrack that never expires once traffic stops
is a finding of its own."""

from __future__ import annotations

import pytest

from helpers import suite_member
from nfct_spec.engines.lasso import (
    FULL_FAIRNESS,
    Graph,
    build_graph,
    check_lasso,
    check_liveness,
    find_lasso,
)
from nfct_spec.minimize import liveness_tail
from nfct_spec.models.state import State
from nfct_spec.spec.fairness import TIMERS_FIRE, obligations_met

LIVE = ("destroy-eventually", "expiry-eventually")


def _hashed_only(state: State) -> bool:
    kernel = state.kernel
    return bool(kernel.hash) and not kernel.dying and not kernel.unconfirmed


@pytest.fixture(scope="module", params=["2.6.31", "6.x"])
def graph(request: pytest.FixtureRequest) -> Graph:
    return build_graph(suite_member(request.param, "ci.listeners"))


def test_a_live_conntrack_is_owed_by_expiry_eventually_only(graph: Graph) -> None:
    config = graph.config
    path = graph.shortest_path(lambda n: _hashed_only(graph.states[n]), lambda n: True)
    assert path, "the config never hashes a conntrack"
    state = path[-1][1]
    assert obligations_met(config, state, "destroy-eventually")
    assert not obligations_met(config, state, "expiry-eventually")
    # Once traffic stops the fair drain expires it and frees it: no finding of either.
    assert all(liveness_tail(config, path, prop_id) is None for prop_id in LIVE)


def test_both_entries_are_exhausted_under_the_full_fairness(graph: Graph) -> None:
    for prop_id in LIVE:
        outcome = check_liveness(graph, FULL_FAIRNESS, prop_id)
        assert outcome.complete and outcome.broken is None and outcome.lasso is None, prop_id


def test_without_timers_fire_a_live_conntrack_never_expires(graph: Graph) -> None:
    """Drop `timers-fire` (time need not advance, timer handlers and the gc worker need not
    run): a hashed conntrack then stays allocated for ever. The lasso of `expiry-eventually`
    keeps it allocated in every state of its cycle (here: it stutters after the NEW was read),
    and it is no lasso of `destroy-eventually`, since the conntrack never starts dying."""
    fairness = tuple(f for f in FULL_FAIRNESS if f != TIMERS_FIRE.id)
    lasso = find_lasso(graph, fairness, "expiry-eventually")
    assert lasso is not None
    config = graph.config
    states = [graph.states[0], *(s for _, s in lasso.prefix + lasso.cycle)]
    steps = [step for step, _ in lasso.prefix + lasso.cycle]
    loop = len(lasso.prefix)
    assert check_lasso(config, states, steps, loop, fairness, "expiry-eventually") is None
    cycle = states[loop:]
    assert all(s.kernel.cts[lasso.slot] is not None for s in cycle)
    assert not any(s.kernel.dying for s in cycle)
    why = check_lasso(config, states, steps, loop, fairness, "destroy-eventually")
    assert why == "no conntrack is dying in every state of the cycle"


def test_the_fair_instances_read_off_the_edges_are_those_the_model_enables(graph: Graph) -> None:
    """A complete graph gives each node's fair instances from its edges; the same instances as
    enumerating the node's steps under the fairness records."""
    from nfct_spec.engines.lasso import fair_units

    for node, state in enumerate(graph.states):
        assert graph.units(node, FULL_FAIRNESS) == fair_units(graph.config, state, FULL_FAIRNESS)
