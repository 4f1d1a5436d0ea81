"""The smp configs of each kernel era: the explorer finds each fault of an era as a
BFS-shortest trace that replays, and exhausts the properties that the era's fix restores."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from hypothesis import Phase, settings
from smp_configs import CONFIGS, ERAS, era

from nfct_spec.cli import main
from nfct_spec.engines.explorer import Exploration, explore, trace_of, verdict
from nfct_spec.engines.hypothesis_engine import Collection, machine_class
from nfct_spec.minimize import first_finding, replay_steps
from nfct_spec.models.registry import Step, apply
from nfct_spec.models.state import State, initial_state
from nfct_spec.replay import replay
from nfct_spec.spec.catalogue import BY_ID
from nfct_spec.spec.properties import destroy_once
from tests.helpers import searches_of

SHORTEST = [
    # (config, property, BFS-shortest number of steps)
    ("smp-2.6.31", "destroy-once", 9),
    ("smp-2.6.31", "no-timer-rearm", 6),
    ("smp-2.6.31", "no-double-unlink", 8),
    ("smp-2.6.31", "no-use-after-free", 12),
    ("smp-delete-guard", "no-double-unlink", 11),
    ("smp-delete-guard-flush", "destroy-once", 10),
    ("smp-delete-guard-flush", "timeout-handler-once", 11),
    ("smp-iterator-guard-flush", "no-double-unlink", 11),
    ("smp-ecache-timer-flush", "destroy-once", 10),
    ("smp-dying-worker-test-and-set", "destroy-before-free", 8),
]
FIXED = [
    # (config, property the era's fix restores)
    ("smp-delete-guard", "destroy-once"),
    ("smp-delete-guard", "no-timer-rearm"),
    ("smp-delete-guard", "no-use-after-free"),
    ("smp-iterator-guard-flush", "destroy-once"),
    ("smp-iterator-guard-flush", "timeout-handler-once"),
    ("smp-ecache-timer-flush", "no-double-unlink"),
    ("smp-ecache-timer-flush", "timeout-handler-once"),
    ("smp-all-guards-flush", "destroy-once"),
    ("smp-all-guards-flush", "no-double-unlink"),
    ("smp-dying-worker", "destroy-before-free"),
    ("smp-dying-worker-ecache-state", "destroy-before-free"),
]


@cache
def _explored_one(name: str, prop_id: str) -> Exploration:
    return explore(era(name), [BY_ID[prop_id]])


@pytest.mark.parametrize("name", ERAS)
def test_every_judged_property_of_an_era_gets_its_expected_verdict(name: str) -> None:
    config = era(name)
    searches = searches_of(config)
    assert set(searches) >= {"destroy-once", "no-double-unlink", "no-timer-rearm"}
    for prop_id, exploration in searches.items():
        prop = BY_ID[prop_id]
        found, scope = verdict(prop, exploration)
        expected = prop.expected_for(config)
        wanted = {"holds": "exhausted", "violated": "violated"}[expected]
        assert found == wanted, f"{prop.id}: expected {expected}, got {found} ({scope})"


@pytest.mark.parametrize(("name", "prop_id", "length"), SHORTEST)
def test_each_fault_has_its_bfs_shortest_trace_and_it_replays(
    name: str, prop_id: str, length: int
) -> None:
    exploration = _explored_one(name, prop_id)
    trace = trace_of(exploration, BY_ID[prop_id])
    assert len(trace.steps) == length
    report = replay(trace)
    assert report.ok, report.message
    path = replay_steps(exploration.config, trace.steps)
    assert path is not None
    assert first_finding(exploration.config, BY_ID[prop_id], path) == length


@pytest.mark.parametrize(("name", "prop_id"), FIXED)
def test_the_fix_of_an_era_is_exhausted_with_the_property_holding(name: str, prop_id: str) -> None:
    exploration = _explored_one(name, prop_id)
    assert BY_ID[prop_id].expected_for(exploration.config) == "holds"
    found, scope = verdict(BY_ID[prop_id], exploration)
    assert found == "exhausted", scope
    assert exploration.stats.complete


def _step(action: str, **args: object) -> Step:
    return Step(action, tuple(args.items()))  # type: ignore[arg-type]


DELETE_RACES_TIMEOUT = (
    _step("nf_conntrack_in", flow=0, packet="new", slot=0),
    _step("__nf_conntrack_confirm", slot=0),
    _step("env_recv", listener="conntrackd"),
    _step("env_tick"),
    _step("death_by_timeout_expire", slot=0),
    _step("test_bit_dying", call=0),
    _step("ctnetlink_del_conntrack_lookup", flow=0, requester="conntrack"),
)
"""conntrackd reads the NEW; the timeout fires and its handler finds DYING clear; `conntrack
-D` looks the conntrack up (the calls are kept sorted: the delete is call 0, the handler 1)."""


def _run(name: str, steps: tuple[Step, ...], start: State | None = None) -> State:
    config = era(name)
    state = initial_state(config) if start is None else start
    for step in steps:
        after = apply(config, state, step)
        assert after is not None, f"{step} is not enabled"
        state = after
    return state


def test_a_delete_racing_the_timeout_delivers_destroy_twice_as_released() -> None:
    config = era("smp-2.6.31")
    state = _run("smp-2.6.31", DELETE_RACES_TIMEOUT)
    state = _run(
        "smp-2.6.31",
        (
            _step("nf_conntrack_event_report", call=0),
            _step("env_recv", listener="conntrackd"),
            _step("nf_conntrack_event_report", call=1),
        ),
        start=state,
    )
    read = _step("env_recv", listener="conntrackd")
    after = apply(config, state, read)
    assert after is not None
    assert not destroy_once(config, state, read, after), "the second DESTROY is read"


def test_with_the_guard_the_delete_leaves_a_running_timeout_alone() -> None:
    state = _run("smp-delete-guard", DELETE_RACES_TIMEOUT)
    assert [call.pc for call in state.kernel.calls] == ["del_timer", "report"]
    state = _run("smp-delete-guard", (_step("del_timer", call=0),), start=state)
    assert [call.pc for call in state.kernel.calls] == ["put", "report"]
    state = _run("smp-delete-guard", (_step("nf_ct_put", call=0),), start=state)
    assert [call.fn for call in state.kernel.calls] == ["death_by_timeout"]
    assert state.kernel.refs == (1,) and not state.kernel.sockets[0].queue


@pytest.mark.parametrize(("name", "fails"), [("smp-2.6.31", True), ("smp-delete-guard", False)])
def test_hypothesis_samples_the_smp_registry(name: str, fails: bool) -> None:
    """The Hypothesis machine built from the registry runs the smp steps: it finds the
    duplicate DESTROY as released and none with the guard (within the profile's budget)."""
    config = era(name)
    prop = BY_ID["destroy-once"]
    cls = machine_class(config, [prop], Collection(), frozenset({prop.id}))
    case = cls.TestCase
    case.settings = settings(case.settings, max_examples=200, stateful_step_count=30)
    if fails:
        phases = [p for p in case.settings.phases if p != Phase.shrink]
        case.settings = settings(case.settings, phases=phases)
    if fails:
        with pytest.raises(AssertionError, match="destroy-once"):
            case().runTest()
    else:
        case().runTest()


def test_explore_finds_the_duplicate_destroy_and_replay_replays_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command line end to end: `explore --config` on 2.6.31 as released exits 0 (every
    verdict as expected) and writes the BFS-shortest duplicate DESTROY, which `replay`
    replays; on the guarded era the same property is exhausted."""
    out = tmp_path / "out"
    config = str(CONFIGS / "smp-2.6.31.json")
    assert (
        main(["explore", "--config", config, "--property", "destroy-once", "--out", str(out)]) == 0
    )
    trace = out / "traces-explorer" / "2.6.31" / "destroy-once.json"
    capsys.readouterr()
    assert main(["replay", str(trace)]) == 0
    assert "destroy-once violated at step 9" in capsys.readouterr().out
    guarded = str(CONFIGS / "smp-delete-guard.json")
    out2 = tmp_path / "out2"
    assert (
        main(["explore", "--config", guarded, "--property", "destroy-once", "--out", str(out2)])
        == 0
    )
    assert not (out2 / "traces-explorer" / "2.6.31" / "destroy-once.json").exists()
