"""Liveness of destroy-eventually: no fair lasso under the full fairness set in 2.6.31, a
replayable lasso under each weaker set, and the freed-without-DESTROY counterexample of 2.6.30."""

from __future__ import annotations

from functools import cache

import pytest
from explorer_configs import refilling, small, twin_listeners

from nfct_spec.engines.lasso import (
    FULL_FAIRNESS,
    Graph,
    build_graph,
    check_lasso,
    check_liveness,
    liveness_verdict,
    same_state,
    weaker_fairness_sets,
)
from nfct_spec.models.registry import Step, actions_for
from nfct_spec.models.state import State
from nfct_spec.models.variants import MODELLED
from nfct_spec.replay import replay
from nfct_spec.spec.catalogue import CATALOGUE
from nfct_spec.spec.fairness import FAIRNESS, TRAFFIC_ACTIONS
from nfct_spec.traces import trace_from_json, trace_to_json

RELIABLE_31 = small("2.6.31", flows=1, sysctl_writes=(("events_retry_timeout", 0),))
GRAPH_31: Graph = build_graph(RELIABLE_31)
GRAPH_30: Graph = build_graph(small("2.6.30", flows=1))
WITHOUT_TRAFFIC_STOPS = tuple(f for f in FULL_FAIRNESS if f != "traffic-stops")


@cache
def refilling_graph(variant: str) -> Graph:
    """About 30,000 unreduced states, some 10 s to build: built once per variant."""
    return build_graph(refilling(variant))


@pytest.mark.parametrize("variant", sorted(MODELLED))
def test_every_action_is_either_traffic_or_named_by_a_fairness_record(variant: str) -> None:
    fair = {name for record in FAIRNESS for name in record.actions}
    unclassified = {a.name for a in actions_for(variant)} - fair - TRAFFIC_ACTIONS
    assert unclassified == {"destroy_conntrack"}


def test_reliable_delivery_has_no_fair_lasso_under_the_full_fairness_set() -> None:
    outcome = check_liveness(GRAPH_31, FULL_FAIRNESS)
    assert outcome.complete
    assert outcome.broken is None
    assert outcome.lasso is None
    found, scope, trace = liveness_verdict(outcome, "holds")
    assert (found, trace) == ("exhausted", None)
    assert f"{len(GRAPH_31.states)} states" in scope


@pytest.mark.parametrize("fairness", weaker_fairness_sets(), ids=lambda f: ",".join(f))
def test_each_weaker_fairness_set_has_a_fair_lasso_that_replays(fairness: tuple[str, ...]) -> None:
    config, graph = RELIABLE_31, GRAPH_31
    if fairness == WITHOUT_TRAFFIC_STOPS:
        config, graph = refilling("2.6.31"), refilling_graph("2.6.31")
    outcome = check_liveness(graph, fairness)
    assert outcome.lasso is not None
    trace = trace_from_json(trace_to_json(outcome.lasso))
    assert trace.loop is not None
    same = same_state(config, trace.states[0].ghost.level)
    assert same(trace.states[-1]) == same(trace.states[trace.loop])
    report = replay(trace)
    assert report.ok, report.message
    assert check_lasso(config, trace.states, trace.steps, trace.loop, fairness) is None


def test_without_traffic_that_can_refill_a_queue_no_lasso_escapes_traffic_stops() -> None:
    """The small config has limit 1 and no expectations: once a conntrack is dying nothing can
    raise an event, so a retry finds room after the listener reads."""
    assert check_liveness(GRAPH_31, WITHOUT_TRAFFIC_STOPS).lasso is None


@pytest.mark.parametrize("variant", ["2.6.31", "6.x"])
def test_without_traffic_stops_new_events_keep_the_queue_full_at_every_retry(variant: str) -> None:
    """Memory slots are allocated again for ever, so the cycle can create conntracks: new
    flows (or expectation events) keep refilling the reliable listener's queue before every
    retry; under the full fairness set (traffic stops eventually) there is no such lasso."""
    graph = refilling_graph(variant)
    full = check_liveness(graph, FULL_FAIRNESS)
    assert full.complete and full.lasso is None and full.broken is None
    lasso = check_liveness(graph, WITHOUT_TRAFFIC_STOPS).lasso
    assert lasso is not None and lasso.loop is not None
    cycle = lasso.steps[lasso.loop :]
    refills = [
        s
        for s in cycle
        if s.action == "nf_ct_expect_related"
        or (s.action == "nf_conntrack_in" and s.kwargs["packet"] == "new")
    ]
    assert refills, "the cycle raises new events: an expectation or a new conntrack"
    assert any(s.action == "env_recv" for s in cycle)
    assert replay(lasso).ok
    why = check_lasso(graph.config, lasso.states, lasso.steps, lasso.loop, FULL_FAIRNESS)
    assert why is not None and "traffic-stops" in why


def test_a_lasso_whose_cycle_skips_a_continuously_enabled_reader_is_unfair() -> None:
    fairness = tuple(f for f in FULL_FAIRNESS if f != "listeners-read")
    lasso = check_liveness(GRAPH_31, fairness).lasso
    assert lasso is not None and lasso.loop is not None
    why = check_lasso(RELIABLE_31, lasso.states, lasso.steps, lasso.loop, FULL_FAIRNESS)
    assert why is not None and "env_recv" in why


def test_unreliable_delivery_frees_a_conntrack_without_its_destroy() -> None:
    outcome = check_liveness(GRAPH_30, FULL_FAIRNESS)
    assert outcome.broken is not None
    report = replay(outcome.broken)
    assert report.ok, report.message
    assert liveness_verdict(outcome, "violated")[0] == "violated"


def _early_drop_cycle(graph: Graph) -> tuple[list[State], list[Step]]:
    """A dying conntrack while a new flow arrives and is dropped by early_drop(victim=-1),
    over and over: the retry is disabled in every other state of this cycle."""
    for node, state in enumerate(graph.states):
        if not state.kernel.dying:
            continue
        for step, mid in graph.out[node]:
            if step.action != "nf_conntrack_in" or graph.states[mid].kernel.alloc_pending < 0:
                continue
            for back, dst in graph.out[mid]:
                if back.kwargs == {"victim": -1} and dst == node:
                    return [state, graph.states[mid], state], [step, back]
    raise AssertionError("no early-drop cycle in the graph")


def test_a_retry_starved_by_waiting_allocations_breaks_strong_timer_fairness() -> None:
    graph = build_graph(small("2.6.31"))
    states, steps = _early_drop_cycle(graph)
    why = check_lasso(graph.config, states, steps, 0, WITHOUT_TRAFFIC_STOPS)
    assert why is not None and why.startswith("strong fairness broken for death_by_event")
    assert check_liveness(graph, WITHOUT_TRAFFIC_STOPS).lasso is None


@pytest.mark.parametrize("variant", ["2.6.31", "6.x"])
def test_two_reliable_listeners_starve_a_retry_under_the_full_fairness_set(variant: str) -> None:
    """Each retry fails on the listener that has not read yet and duplicates the DESTROY to
    the other, which refills it; both keep reading, yet the conntrack stays dying forever."""
    config = twin_listeners(variant).with_(slots=1)
    outcome = check_liveness(build_graph(config), FULL_FAIRNESS)
    assert outcome.complete and outcome.broken is None
    lasso = outcome.lasso
    assert lasso is not None and lasso.loop is not None
    assert replay(lasso).ok
    assert check_lasso(config, lasso.states, lasso.steps, lasso.loop, FULL_FAIRNESS) is None
    readers = {s.kwargs["listener"] for s in lasso.steps[lasso.loop :] if s.action == "env_recv"}
    assert readers == {"conntrackd", "ulogd"}
    assert not any(s.action in TRAFFIC_ACTIONS for s in lasso.steps[lasso.loop :])
    expected = next(p for p in CATALOGUE if p.id == "destroy-eventually").expected_for(config)
    assert expected == "violated"
    assert liveness_verdict(outcome, expected)[0] == "violated"
