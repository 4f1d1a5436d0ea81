"""Liveness of destroy-eventually: no fair lasso under the full fairness set in 2.6.31, a
replayable lasso under each weaker set, and the freed-without-DESTROY counterexample of 2.6.30."""

from __future__ import annotations

import pytest
from explorer_configs import small

from nfct_spec.engines.lasso import (
    FULL_FAIRNESS,
    TRAFFIC_ACTIONS,
    Graph,
    build_graph,
    check_lasso,
    check_liveness,
    liveness_verdict,
    weaker_fairness_sets,
)
from nfct_spec.models.registry import actions_for
from nfct_spec.models.variants import MODELLED
from nfct_spec.replay import replay
from nfct_spec.spec.fairness import FAIRNESS
from nfct_spec.traces import trace_from_json, trace_to_json

RELIABLE_31 = small("2.6.31", flows=1, sysctl_writes=(("events_retry_timeout", 0),))
GRAPH_31: Graph = build_graph(RELIABLE_31)
GRAPH_30: Graph = build_graph(small("2.6.30", flows=1))


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
    outcome = check_liveness(GRAPH_31, fairness)
    assert outcome.lasso is not None
    trace = trace_from_json(trace_to_json(outcome.lasso))
    assert trace.loop is not None
    assert trace.states[-1] == trace.states[trace.loop]
    report = replay(trace)
    assert report.ok, report.message
    assert check_lasso(RELIABLE_31, trace.states, trace.steps, trace.loop, fairness) is None


def test_without_traffic_stops_the_lasso_needs_new_traffic_on_its_cycle() -> None:
    fairness = tuple(f for f in FULL_FAIRNESS if f != "traffic-stops")
    outcome = check_liveness(GRAPH_31, fairness)
    assert outcome.lasso is not None
    loop = outcome.lasso.loop
    assert loop is not None
    assert any(s.action in TRAFFIC_ACTIONS for s in outcome.lasso.steps[loop:])
    why = check_lasso(RELIABLE_31, outcome.lasso.states, outcome.lasso.steps, loop, FULL_FAIRNESS)
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
