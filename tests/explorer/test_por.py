"""Partial-order reduction (`nfct_spec.engines.por`): the reduced search decides every safety
and witness property as the full search does, the findings it shows are BFS-shortest and
replay, it stores fewer states where steps commute, and it never defers a step that does not
commute with one it takes."""

from __future__ import annotations

from dataclasses import replace
from functools import cache

import pytest
from explorer_configs import small

import nfct_spec.engines.explorer as explorer_module
from nfct_spec.checking import searched
from nfct_spec.engines.explorer import (
    Exploration,
    explore,
    finding_depth,
    search_groups,
    trace_of,
    verdict,
)
from nfct_spec.engines.por import Judge, PartialOrder, _Closure
from nfct_spec.models.config import Config
from nfct_spec.models.observers import OBLIGATIONS, level_name
from nfct_spec.models.presets import RELIABLE
from nfct_spec.models.registry import Step, apply, successors
from nfct_spec.models.state import State, initial_state
from nfct_spec.replay import replay
from nfct_spec.spec.catalogue import BY_ID, CATALOGUE, Property

ROOMY = replace(RELIABLE, capacity=2)
"""The reliable listener with a two-message queue: a read then commutes with a send that
finds room either way."""


def _configs() -> list[Config]:
    """Per variant: the small test config (two flows: the findings of the small configs), and
    one flow with a two-message queue and a sysctl to write (where steps commute)."""
    configs = []
    for variant in ("2.6.30", "2.6.31", "6.x"):
        writes = () if variant == "2.6.30" else (("nf_conntrack_events", 0),)
        configs.append(small(variant))
        configs.append(
            small(variant, flows=1, listeners=(ROOMY,), sysctl_writes=writes, name="roomy")
        )
    return configs


CASES = [
    (config, level, group)
    for config in _configs()
    for level, group in search_groups(
        [p for p in CATALOGUE if p.kind != "liveness" and searched(p, config)]
    )
]


def _id(case: tuple[Config, int, list[Property]]) -> str:
    config, level, _ = case
    return f"{config.variant}-{config.name}-{level_name(level)}"


@cache
def _pair(index: int) -> tuple[Exploration, Exploration]:
    config, level, group = CASES[index]
    return explore(config, group, level=level), explore(config, group, level=level, por=True)


@pytest.mark.parametrize("index", range(len(CASES)), ids=[_id(c) for c in CASES])
def test_the_reduced_search_gives_every_verdict_and_shortest_length_of_the_full_one(
    index: int,
) -> None:
    full, reduced = _pair(index)
    _, _, group = CASES[index]
    assert reduced.stats.reduction is not None
    assert full.stats.complete or len(full.findings) == len(full.checked)
    assert reduced.stats.complete or len(reduced.findings) == len(reduced.checked)
    # What the reduced search itself found (before the unreduced search showed it again).
    assert set(reduced.findings) | reduced.unshown == set(full.findings)
    assert not reduced.unshown
    for prop in group:
        assert verdict(prop, reduced)[0] == verdict(prop, full)[0], prop.id
        if prop.id in full.findings:
            assert finding_depth(reduced, prop.id) == finding_depth(full, prop.id), prop.id
            report = replay(trace_of(reduced, prop))
            assert report.ok, report.message


def test_the_reduction_is_real_where_reads_and_sysctl_writes_commute() -> None:
    lines = []
    smaller = []
    for index, (config, level, _) in enumerate(CASES):
        full, reduced = _pair(index)
        assert reduced.stats.states <= full.stats.states
        assert reduced.stats.reduction is not None
        lines.append(
            f"{_id(CASES[index])}: {full.stats.states} states -> {reduced.stats.states} "
            f"(reduced in {reduced.stats.reduction.reduced} states, "
            f"{reduced.stats.reduction.deferred} steps deferred)"
        )
        if reduced.stats.states < full.stats.states:
            smaller.append((config.variant, config.name, level))
    print("\n".join(lines))
    for variant in ("2.6.30", "2.6.31", "6.x"):
        assert (variant, "roomy", OBLIGATIONS) in smaller, lines


def _walk(config: Config, steps: list[Step]) -> State:
    state = initial_state(config, OBLIGATIONS)
    for step in steps:
        after = apply(config, state, step)
        assert after is not None, step
        state = after
    return state


def test_a_read_that_does_not_commute_with_a_send_is_never_deferred() -> None:
    """The listener's one-message queue holds the NEW of a conntrack whose timeout has run
    out. Reading first lets its DESTROY in and frees it; the timeout first finds the queue full,
    the DESTROY fails and the conntrack waits on the dying list. Deferring the read would lose
    every state of the second kind, so the reduction keeps it."""
    config = small("2.6.31", flows=1)
    state = _walk(
        config,
        [
            Step("nf_conntrack_in", (("flow", 0), ("packet", "new"), ("slot", 0))),
            Step("__nf_conntrack_confirm", (("slot", 0),)),
            Step("env_tick"),
        ],
    )
    read = Step("env_recv", (("listener", RELIABLE.name),))
    expire = Step("death_by_timeout", (("slot", 0),))
    succ = list(successors(config, state))
    assert {read, expire} <= {step for step, _ in succ}
    read_first = apply(config, apply(config, state, read), expire)  # type: ignore[arg-type]
    expire_first = apply(config, apply(config, state, expire), read)  # type: ignore[arg-type]
    assert read_first is not None and expire_first is not None
    assert read_first.kernel.dying == () and expire_first.kernel.dying == (0,)
    order = PartialOrder(config, OBLIGATIONS)
    taken = order.reduce(state, succ, Judge(lambda s: None, lambda a, b, c: None))
    assert read in {step for step, _ in taken}
    assert taken == succ
    assert order.stats.reduced == 0


class _Careless(PartialOrder):
    """Defers the environment's steps without checking that they commute with the others."""

    def _closure(
        self,
        s: State,
        succ: list[tuple[Step, State]],
        taken: dict[Step, State],
        memo: dict[tuple[Step, Step], State | None],
    ) -> _Closure | None:
        return _Closure([], [])


def test_deferring_steps_that_do_not_commute_would_miss_a_finding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without the commutation check, a reduction would defer every read while a kernel step
    is enabled (nearly always): two DESTROYs read out of the order of the deaths
    (may-reorder, 2.6.31) need reads between the sends, and would be missed."""
    config = small("2.6.31")
    prop = BY_ID["may-reorder"]
    level = next(level for level, group in search_groups([prop]))
    checked = explore(config, [prop], level=level, por=True)
    assert verdict(prop, checked)[0] == "witnessed"
    monkeypatch.setattr(explorer_module, "PartialOrder", _Careless)
    careless = explore(config, [prop], level=level, por=True)
    assert verdict(prop, careless)[0] == "unknown"
    assert careless.stats.states < checked.stats.states
