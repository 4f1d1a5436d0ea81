"""The Z3 lassos of `destroy-eventually`, one per weaker fairness set (`nfct-spec prove
--lasso`). The one without traffic-stops takes minutes to find, so the test checks its stored
result (written by `nfct-spec prove --variant 2.6.31 --property no-crash --lasso`, on the `ci`
preset with two memory slots): it replays, it is fair under every record but traffic-stops,
and traffic-stops is what rules it out. The others are found in seconds and searched here."""

from __future__ import annotations

from pathlib import Path

import pytest

from nfct_spec.commands.prove import SHORT_LASSO_DEPTH
from nfct_spec.engines.lasso import FULL_FAIRNESS, check_lasso, same_state, weaker_fairness_sets
from nfct_spec.engines.z3_bmc import find_lasso
from nfct_spec.models.presets import preset
from nfct_spec.proofs.lasso_z3 import WEAKER, dropped_record
from nfct_spec.replay import replay
from nfct_spec.spec.fairness import FAIRNESS
from nfct_spec.traces import load_trace

LASSO = Path(__file__).parent / "data" / "destroy-eventually-lasso.json"


def test_the_lasso_replays_and_closes_on_its_loop_state() -> None:
    trace = load_trace(LASSO)
    assert replay(trace).ok
    assert trace.loop is not None
    same = same_state(trace.config, trace.states[0].ghost.level)
    assert same(trace.states[-1]) == same(trace.states[trace.loop])
    assert trace.config.slots == 2 and not any(
        step.action == "nf_conntrack_in" and step.kwargs["packet"] == "new"
        for step in trace.steps[trace.loop :]
    )


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


SHORT = [f for f in weaker_fairness_sets() if dropped_record(f) != "traffic-stops"]


@pytest.mark.parametrize("fairness", SHORT, ids=dropped_record)
def test_bmc_finds_a_short_fair_lasso_for_each_other_weaker_set(fairness: tuple[str, ...]) -> None:
    """Without listeners-read the retry fails for ever on a full queue; without timers-fire,
    packets-complete or retry-timeout-positive a state with a dying conntrack stutters for
    ever (no retry, an allocation that never completes, a crashed kernel)."""
    config = preset("ci", "2.6.31")
    found, loop = find_lasso(config, SHORT_LASSO_DEPTH, 120_000, fairness)
    trace = found.trace
    assert trace is not None and loop is not None, found.status
    assert replay(trace).ok
    assert check_lasso(config, trace.states, trace.steps, loop, fairness) is None
    assert check_lasso(config, trace.states, trace.steps, loop, FULL_FAIRNESS) is not None
    assert trace.states[-1].kernel.dying
