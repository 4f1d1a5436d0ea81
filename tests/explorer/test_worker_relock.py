"""The 6.x worker's review era (`worker_relocks_twice`): the explorer finds the CPU that spins on
dying_lock as a BFS-shortest trace that replays, on `configs/worker-review-relock.json`, and
exhausts the released worker (`configs/worker-released-relock.json`) with `deadlock-free`
holding. Without the worker's time fix the batch end is out of reach of a run that takes no
time, so the review era does not deadlock in the model."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest
from hypothesis import Phase, settings

from helpers import searches_of
from nfct_spec.checking import SAFETY_KINDS, searched
from nfct_spec.cli import main
from nfct_spec.engines.explorer import Exploration, explore, trace_of, verdict
from nfct_spec.engines.hypothesis_engine import Collection, machine_class
from nfct_spec.engines.lasso import FULL_FAIRNESS, build_graph, check_lasso, check_liveness
from nfct_spec.engines.z3_engine import SMP_ELSEWHERE, encoded_variants
from nfct_spec.minimize import first_finding, replay_steps
from nfct_spec.models.config import Config, config_from_json
from nfct_spec.models.registry import Step
from nfct_spec.models.state import DEADLOCK_DYING_LOCK, initial_state, is_deadlock
from nfct_spec.proofs.guard import encoding_gap
from nfct_spec.replay import replay
from nfct_spec.spec.catalogue import BY_ID, CATALOGUE
from nfct_spec.spec.fairness import assumptions_hold, drain, unmet

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
REVIEW, RELEASED = "worker-review-relock", "worker-released-relock"
DEADLOCK_FREE = BY_ID["deadlock-free"]
SHORTEST = 8
"""Create and confirm a conntrack (its NEW fills the one-message queue), `conntrack -D` fails
and parks it on the redelivery list, the listener reads its error and the NEW, two ticks until
the worker is due, and the worker's first batch (one DESTROY) ends in the second lock."""


def era(name: str) -> Config:
    return config_from_json(json.loads((CONFIGS / f"{name}.json").read_text()))


@cache
def _explored(name: str, fixed: bool = True) -> Exploration:
    return explore(era(name).with_(ecache_work_fixed=fixed), [DEADLOCK_FREE])


def test_the_pair_differs_only_by_the_review_flag() -> None:
    review, released = era(REVIEW), era(RELEASED)
    assert review.worker_relocks_twice and not released.worker_relocks_twice
    assert review == released.with_(name=REVIEW, worker_relocks_twice=True)
    assert (review.flows, review.slots, review.ecache_batch, review.ecache_work_fixed) == (
        1,
        1,
        1,
        True,
    )


def test_the_review_era_deadlocks_in_a_bfs_shortest_trace_that_replays() -> None:
    exploration = _explored(REVIEW)
    found, scope = verdict(DEADLOCK_FREE, exploration)
    assert found == "violated", scope
    assert DEADLOCK_FREE.expected_for(exploration.config) == "violated"
    trace = trace_of(exploration, DEADLOCK_FREE)
    assert len(trace.steps) == SHORTEST and trace.steps[-1] == Step("ecache_work")
    report = replay(trace)
    assert report.ok, report.message
    path = replay_steps(exploration.config, trace.steps)
    assert path is not None
    assert first_finding(exploration.config, DEADLOCK_FREE, path) == SHORTEST
    assert path[-1][1].kernel.crashed == DEADLOCK_DYING_LOCK


def test_the_released_worker_is_exhausted_with_no_cpu_waiting_for_ever() -> None:
    exploration = _explored(RELEASED)
    found, scope = verdict(DEADLOCK_FREE, exploration)
    assert found == "exhausted", scope
    assert exploration.stats.complete
    assert DEADLOCK_FREE.expected_for(exploration.config) == "holds"


@pytest.mark.parametrize("name", [REVIEW, RELEASED])
def test_every_judged_safety_property_of_the_pair_gets_its_expected_verdict(name: str) -> None:
    """The deadlock is the only thing the review era breaks: every other invariant and action
    property keeps the verdict of 6.x (the model stops in the state the run started from)."""
    config = era(name)
    searches = searches_of(config)
    judged = [p for p in CATALOGUE if p.kind in SAFETY_KINDS and searched(p, config)]
    assert DEADLOCK_FREE in judged
    for prop in judged:
        found, scope = verdict(prop, searches[prop.id])
        expected = prop.expected_for(config)
        wanted = {"holds": "exhausted", "violated": "violated"}[expected]
        assert found == wanted, f"{prop.id}: expected {expected}, got {found} ({scope})"


@pytest.mark.parametrize("prop_id", ["destroy-eventually", "expiry-eventually"])
def test_the_deadlock_breaks_the_liveness_entries_as_a_lasso_stuttering_in_it(prop_id: str) -> None:
    """No fairness record assumes a deadlock away: the stuck kernel stutters for ever with its
    conntrack on the redelivery list, a fair lasso of one state; the released worker has none."""
    review = check_liveness(build_graph(era(REVIEW)), FULL_FAIRNESS, prop_id)
    assert review.complete and review.broken is None and review.lasso is not None
    assert BY_ID[prop_id].expected_for(era(REVIEW)) == "violated"
    lasso = review.lasso
    assert lasso.loop == len(lasso.steps) == SHORTEST and lasso.steps[-1] == Step("ecache_work")
    assert is_deadlock(lasso.states[-1].kernel.crashed)
    assert (
        check_lasso(era(REVIEW), lasso.states, lasso.steps, lasso.loop, FULL_FAIRNESS, prop_id)
        is None
    )
    released = check_liveness(build_graph(era(RELEASED)), FULL_FAIRNESS, prop_id)
    assert released.complete and released.broken is None and released.lasso is None


@pytest.mark.parametrize(("name", "stuck"), [(REVIEW, True), (RELEASED, False)])
def test_the_bounded_fair_drain_of_hypothesis_ends_in_the_deadlock_on_the_review_era(
    name: str, stuck: bool
) -> None:
    """What the Hypothesis engine checks at the end of a run: from the state where the worker
    is due, the fair drain runs it; on the review era the drain ends deadlocked with the
    conntrack still on the list (the obligation unmet), on the released one it is freed."""
    config = era(name)
    trace = trace_of(_explored(REVIEW), DEADLOCK_FREE)
    path = replay_steps(config, trace.steps[:-1])
    assert path is not None and path[-1][1].kernel.worker == 0
    tail = drain(config, path[-1][1])
    end = tail[-1][1]
    assert is_deadlock(end.kernel.crashed) == stuck and assumptions_hold(config, end)
    for prop_id in ("destroy-eventually", "expiry-eventually"):
        assert unmet(config, initial_state(config), [*path, *tail], prop_id) == stuck


def test_with_the_inverted_time_test_the_review_era_never_reaches_its_batch_end() -> None:
    """The finding: as shipped, the time test stops a run after its first delivered DESTROY,
    before the batch test, so the deadlock needs the time fix in a model whose worker runs
    take no time; the catalogue does not judge that combination."""
    exploration = _explored(REVIEW, fixed=False)
    assert exploration.stats.complete and DEADLOCK_FREE.id not in exploration.findings
    assert DEADLOCK_FREE.expected_for(exploration.config) == "n/a"


def test_hypothesis_finds_the_deadlock_on_the_review_era_only() -> None:
    for name, fails in ((REVIEW, True), (RELEASED, False)):
        cls = machine_class(era(name), [DEADLOCK_FREE], Collection(), frozenset({"deadlock-free"}))
        case = cls.TestCase
        case.settings = settings(case.settings, max_examples=300, stateful_step_count=30)
        if fails:
            phases = [p for p in case.settings.phases if p != Phase.shrink]
            case.settings = settings(case.settings, phases=phases)
            with pytest.raises(AssertionError, match="deadlock-free"):
                case().runTest()
        else:
            case().runTest()


def test_check_leaves_the_review_era_to_eras_and_the_encoding_covers_both() -> None:
    shown: list[str] = []
    assert encoded_variants([era(REVIEW), era(RELEASED)], shown.append) == ["6.x"]
    assert shown == [f"Z3: 6.x ({REVIEW}) skipped: {SMP_ELSEWHERE}"]
    assert encoding_gap(era(RELEASED)) is None and encoding_gap(era(REVIEW)) is None


def test_explore_writes_the_deadlock_and_replay_replays_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    config = str(CONFIGS / f"{REVIEW}.json")
    args = ["explore", "--config", config, "--property", "deadlock-free", "--out", str(out)]
    assert main(args) == 0
    trace = out / "traces-explorer" / "6.x" / "deadlock-free.json"
    capsys.readouterr()
    assert main(["replay", str(trace)]) == 0
    assert f"deadlock-free violated at step {SHORTEST}" in capsys.readouterr().out
