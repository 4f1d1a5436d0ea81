"""The stored Z3 lasso of `destroy-eventually` (found by `nfct-spec prove --lasso`; the search
takes minutes, so the test checks its stored result): it replays, it is fair under every
fairness record but traffic-stops, and traffic-stops is what rules it out."""

from __future__ import annotations

from pathlib import Path

from nfct_spec.engines.lasso import check_lasso
from nfct_spec.proofs.lasso_z3 import WEAKER
from nfct_spec.replay import replay
from nfct_spec.spec.fairness import FAIRNESS
from nfct_spec.traces import load_trace

LASSO = Path(__file__).parent / "data" / "destroy-eventually-lasso.json"


def test_the_lasso_replays_and_closes_on_its_loop_state() -> None:
    trace = load_trace(LASSO)
    assert replay(trace).ok
    assert trace.loop is not None and trace.states[-1] == trace.states[trace.loop]


def test_the_lasso_is_fair_without_traffic_stops_and_keeps_a_conntrack_dying() -> None:
    trace = load_trace(LASSO)
    assert trace.loop is not None
    assert check_lasso(trace.config, trace.states, trace.steps, trace.loop, WEAKER) is None
    cycle = trace.steps[trace.loop :]
    assert any(s.action == "death_by_event" for s in cycle)


def test_traffic_stops_rules_the_lasso_out() -> None:
    trace = load_trace(LASSO)
    assert trace.loop is not None
    every = tuple(f.id for f in FAIRNESS)
    why = check_lasso(trace.config, trace.states, trace.steps, trace.loop, every)
    assert why is not None and "traffic" in why
