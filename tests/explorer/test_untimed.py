"""The untimed abstraction of the DESTROY retries (`Config.retry_untimed`,
`explore(.., untimed=True)`; 2.6.31's retry timers, 6.x's delayed ecache worker): it
over-approximates the config (every state of the config, those timers forgotten, is a state of
the abstraction), it finds every property the config has, and the explorer's untimed searches
decide every property as the searches of the config as it is, with the same BFS-shortest
findings."""

from __future__ import annotations

from functools import cache

import pytest
from explorer_configs import assert_same_findings, forget_retry_timers, small

from helpers import safety_groups
from nfct_spec.engines.explorer import (
    UNTIMED,
    Exploration,
    Stats,
    explore,
    trace_of,
    untimed_applies,
    verdict,
)
from nfct_spec.models.config import Config, ConfigError
from nfct_spec.models.env import env_tick
from nfct_spec.models.observers import OBLIGATIONS, level_name
from nfct_spec.models.presets import suite
from nfct_spec.models.redelivery import worker_delay
from nfct_spec.models.state import NO_TIMER, State
from nfct_spec.replay import replay
from nfct_spec.spec.catalogue import BY_ID, Property

CONFIGS = [
    config
    for variant in ("2.6.31", "6.x")
    for config in (
        *suite("ci", variant),
        small(variant),
        small(variant, nf_conntrack_max=2, name="small-limit-2"),
    )
]
"""Configs whose retries matter: the ci suite (a sysctl write of the retry timeout among them)
and the small config with one and two conntracks alive at once, for both variants."""


CASES = [
    (config, level, group)
    for config in CONFIGS
    if config.name != "small-limit-2"
    for level, group in safety_groups(config)
]
"""The search groups compared with the plain search: those of every config but the largest,
whose covering (below) is checked all the same."""


def _id(case: tuple[Config, int, list[Property]]) -> str:
    return f"{case[0].variant}-{case[0].name}-{level_name(case[1])}"


@cache
def _plain(index: int) -> Exploration:
    config, level, group = CASES[index]
    return explore(config, group, level=level)


@pytest.mark.parametrize("config", CONFIGS, ids=[f"{c.variant}-{c.name}" for c in CONFIGS])
def test_the_abstraction_covers_every_state_of_the_config(config: Config) -> None:
    """Without symmetry (slots in place; what the obligations observers keep), every
    reachable state of the config, its retry timers forgotten, is reachable in the
    abstraction: the safety verdicts it proves carry over. The abstraction has states the
    config does not (a tick that comes while a retry is pending), and fewer states in all.
    (With receipts and slots in place the spaces are too large for a test; the verdict
    comparison below covers the receipts searches.)"""
    concrete = explore(config, [], level=OBLIGATIONS, symmetry=False)
    abstract = explore(config.with_(retry_untimed=True), [], level=OBLIGATIONS, symmetry=False)
    assert concrete.stats.complete and abstract.stats.complete
    timed = {forget_retry_timers(s) for s in concrete.states}
    untimed = {forget_retry_timers(s) for s in abstract.states}
    assert timed <= untimed
    assert len(abstract.states) < len(concrete.states)


@pytest.mark.parametrize("index", range(len(CASES)), ids=[_id(c) for c in CASES])
def test_untimed_search_decides_as_the_config(index: int) -> None:
    """The untimed search, its findings shown on the config as it is, gives every property
    the verdict of the plain search, with findings at the same BFS-shortest lengths that
    replay on the config; its abstract search stores no more states."""
    config, level, group = CASES[index]
    plain = _plain(index)
    untimed = explore(config, group, level=level, untimed=True)
    assert untimed.stats.abstraction == UNTIMED and untimed.config == config
    assert_same_findings(group, untimed, plain)
    assert not untimed.unshown and not untimed.spurious
    for prop_id in untimed.findings:
        report = replay(trace_of(untimed, BY_ID[prop_id]))
        assert report.ok, report.message
    if plain.stats.complete:
        assert untimed.stats.states <= plain.stats.states


def test_abstract_search_finds_what_the_config_has() -> None:
    """On its own (no second search), the abstraction finds every property the config
    finds: the config's findings are among its runs."""
    for variant in ("2.6.31", "6.x"):
        config, level, group = next(
            c for c in CASES if c[0].name == "ci.allocations" and c[0].variant == variant
        )
        plain = explore(config, group, level=level)
        abstract = explore(config.with_(retry_untimed=True), group, level=level)
        assert plain.findings and set(plain.findings) <= set(abstract.findings)


def test_retry_timers_do_not_count_down() -> None:
    """In a reachable state where a dying conntrack's retry is due (timer 0) and a hashed
    one's timeout still runs, time waits for the retry; with the abstraction a tick passes,
    leaves the retry timer as it is and counts the timeout down."""
    config = small("2.6.31", nf_conntrack_max=2)
    reached = explore(config, [], symmetry=False).states

    def wanted(state: State) -> bool:
        cts, kernel = state.kernel.cts, state.kernel
        due = any((ct := cts[s]) is not None and ct.timer == 0 for s in kernel.dying)
        running = any((ct := cts[s]) is not None and ct.timer > 0 for s in kernel.hash)
        return due and running

    state = next(s for s in reached if wanted(s))
    assert env_tick(config, state) is None
    ticked = env_tick(config.with_(retry_untimed=True), state)
    assert ticked is not None
    for slot, (before, after) in enumerate(zip(state.kernel.cts, ticked.kernel.cts, strict=True)):
        if before is None or before.timer == NO_TIMER:
            assert after == before
        elif slot in state.kernel.dying:
            assert after is not None and after.timer == before.timer
        else:
            assert after is not None and after.timer == before.timer - 1


def test_the_worker_runs_at_any_time() -> None:
    """6.x: in a reachable state where the worker is due and a conntrack's timeout still
    runs, time waits for the worker; with the abstraction a tick passes and the worker stays
    scheduled at 0. A failed DESTROY schedules it at 0."""
    config = small("6.x", nf_conntrack_max=2)
    reached = explore(config, [], symmetry=False).states

    def wanted(state: State) -> bool:
        cts = state.kernel.cts
        running = any(ct is not None and ct.timer > 0 for ct in cts)
        return state.kernel.worker == 0 and running

    state = next(s for s in reached if wanted(s))
    assert env_tick(config, state) is None
    ticked = env_tick(config.with_(retry_untimed=True), state)
    assert ticked is not None and ticked.kernel.worker == 0
    assert worker_delay(config, "first") == config.worker_first_delay
    assert worker_delay(config.with_(retry_untimed=True), "first") == 0
    assert worker_delay(config.with_(retry_untimed=True), "retry") == 0


@pytest.mark.parametrize(
    ("changes", "wrong"),
    [({"variant": "2.6.30"}, "retry_untimed"), ({"granularity": "smp"}, "retry_untimed")],
)
def test_the_abstraction_is_for_atomic_retries_only(changes: dict[str, object], wrong: str) -> None:
    with pytest.raises(ConfigError, match=f"field '{wrong}'"):
        small("2.6.31").with_(retry_untimed=True, **changes)


def test_untimed_leaves_other_configs_as_they_are() -> None:
    """A 2.6.30 config retries nothing: `untimed` searches it as it is."""
    config = small("2.6.30")
    group = [BY_ID["table-bound"]]
    assert not untimed_applies(config)
    searched_untimed = explore(config, group, untimed=True)
    assert searched_untimed.stats.abstraction is None
    assert searched_untimed.stats.states == explore(config, group).stats.states


def test_untimed_and_por_do_not_mix() -> None:
    with pytest.raises(ValueError, match="untimed"):
        explore(small("2.6.31"), [BY_ID["table-bound"]], untimed=True, por=True)


def test_verdicts_of_spurious_and_unshown_findings() -> None:
    """A finding of the abstraction that the exhausted search of the config does not have is
    no finding (the config's scope is given); one it does not reach in its budget is
    unknown."""
    config = small("2.6.31")
    prop = BY_ID["one-place"]
    shown = Stats(states=7, transitions=9, depth=3, complete=True)
    stats = Stats(states=5, transitions=6, depth=2, complete=True, abstraction=UNTIMED, shown=shown)
    checked = frozenset({prop.id})
    exploration = Exploration(config, stats, checked=checked, spurious=checked)
    found, scope = verdict(prop, exploration)
    assert found == "exhausted" and scope.startswith("7 states")
    exploration = Exploration(config, stats, checked=checked, unshown=checked)
    found, scope = verdict(prop, exploration)
    assert found == "unknown" and UNTIMED in scope and "budget" in scope
