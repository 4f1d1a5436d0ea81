"""On atomic 2.6.31 states, an atomic action and its CPU-level steps run back to back by one
CPU reach the same kernel state (where the kernel of the era does the same thing)."""

from __future__ import annotations

from functools import cache

import pytest
from smp_configs import as_smp, reachable, run_alone, without_smp

from nfct_spec.models.config import Config
from nfct_spec.models.observers import settle
from nfct_spec.models.presets import preset
from nfct_spec.models.registry import BY_NAME, Step, actions_of, apply, enabled_steps
from nfct_spec.models.state import CRASH_TIMER_PENDING, State

LIMIT = 6000
"""Atomic states per config (breadth first)."""
PRESETS = ("tiny", "ci")
"""The atomic configs: the presets, the `ci` one with a one-tick timeout so that breadth
first reaches expiries within `LIMIT` states."""


def _atomic(name: str) -> Config:
    config = preset(name, "2.6.31")
    return config.with_(ct_timeout=1) if name == "ci" else config


@cache
def _cases(name: str, action: str) -> tuple[tuple[State, Step, State], ...]:
    """(state, atomic step, atomic successor) for every enabled step of `action` in the first
    `LIMIT` states of the preset."""
    config = _atomic(name)
    return tuple(
        (state, step, post)
        for state in reachable(config, LIMIT)
        for step, post in enabled_steps(config, state, BY_NAME[action])
    )


def _smp(name: str, **eras: bool) -> Config:
    return _atomic(name).with_(granularity="smp", **eras)


def _assert_composes(config: Config, state: State, entry: Step, post: State) -> State:
    """The split function run alone from `entry` gives the atomic step's kernel state and
    observers; returns the state it ends in."""
    after = run_alone(config, as_smp(config, state), entry)
    assert without_smp(after.kernel) == post.kernel, entry
    assert settle(after.ghost) == settle(post.ghost), entry
    return after


@pytest.mark.parametrize("name", PRESETS)
@pytest.mark.parametrize("guard", [False, True])
def test_death_by_timeout_equals_its_steps_in_both_eras(name: str, guard: bool) -> None:
    config = _smp(name, delete_takes_timer=guard)
    cases = _cases(name, "death_by_timeout")
    assert len(cases) >= 10
    for state, step, post in cases:
        after = _assert_composes(config, state, Step("death_by_timeout_expire", step.args), post)
        assert after.kernel.refs == tuple(0 if ct is None else 1 for ct in post.kernel.cts)


@pytest.mark.parametrize("name", PRESETS)
def test_ctnetlink_del_conntrack_with_the_guard_equals_its_steps(name: str) -> None:
    config = _smp(name, delete_takes_timer=True)
    cases = _cases(name, "ctnetlink_del_conntrack")
    assert len(cases) >= 10
    for state, step, post in cases:
        _assert_composes(config, state, Step("ctnetlink_del_conntrack_lookup", step.args), post)


@pytest.mark.parametrize("name", PRESETS)
def test_ctnetlink_del_conntrack_as_released_equals_its_steps_until_a_destroy_fails(
    name: str,
) -> None:
    """The atomic action replaces the pending timer by the retry; 2.6.31 as released arms the
    retry over the pending ct->timeout, one CPU suffices."""
    config = _smp(name)
    failures = 0
    for state, step, post in _cases(name, "ctnetlink_del_conntrack"):
        entry = Step("ctnetlink_del_conntrack_lookup", step.args)
        after = run_alone(config, as_smp(config, state), entry)
        slot = state.hashed_slot_of_flow(int(step.kwargs["flow"]))
        if slot in post.kernel.dying:
            failures += 1
            assert after.kernel.crashed == CRASH_TIMER_PENDING, step
        else:
            assert without_smp(after.kernel) == post.kernel, step
            assert settle(after.ghost) == settle(post.ghost), step
    assert failures >= 5


@pytest.mark.parametrize("name", PRESETS)
def test_the_flush_as_released_equals_its_steps_entry_by_entry(name: str) -> None:
    config = _smp(name)
    cases = _cases(name, "nf_conntrack_flush_report")
    assert len(cases) >= 10
    for state, step, post in cases:
        smp_state = as_smp(config, state)
        start = Step("nf_conntrack_flush_report_start", (("requester", step.kwargs["requester"]),))
        order = step.kwargs["order"]
        assert isinstance(order, tuple)
        after = _flush(config, smp_state, start, order)
        assert without_smp(after.kernel) == post.kernel, step
        assert settle(after.ghost) == settle(post.ghost), step


def _flush(config: Config, state: State, start: Step, order: tuple[int, ...]) -> State:
    """The flush call, taking the hashed conntracks in `order`, alone on its CPU."""
    after = apply(config, state, start)
    assert after is not None
    for slot in order:
        picked = apply(config, after, Step("get_next_corpse", (("call", 0), ("slot", slot))))
        assert picked is not None
        after = _until_next(config, picked)
        if after.kernel.crashed:
            return after
    done = apply(config, after, Step("nf_conntrack_flush_report_done", (("call", 0),)))
    assert done is not None and not done.kernel.calls
    return done


def _until_next(config: Config, state: State) -> State:
    """The steps of the one flush call until it is between entries again."""
    for _ in range(20):
        if state.kernel.calls[0].pc == "next_corpse" or state.kernel.crashed:
            return state
        steps = [
            post
            for action in actions_of(config)
            if action.params and action.params[0][0] == "call"
            if action.name != "nf_conntrack_flush_report_done"
            for _, post in enabled_steps(config, state, action)
        ]
        assert len(steps) == 1, state.kernel.calls
        state = steps[0]
    raise AssertionError("the flush entry did not end")
