"""The explorer's `ci` suite: small configs that are exhausted and that together confirm every
expected verdict, and the rules that turn the members' verdicts into one per property."""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from helpers import figures
from nfct_spec.engines.explorer import (
    Exploration,
    explore,
    finding_depth,
    search_groups,
    trace_of,
)
from nfct_spec.engines.hypothesis_engine import Collection, machine_class
from nfct_spec.engines.suite import MemberVerdict, combine, safety_member
from nfct_spec.models.config import Config, ConfigError
from nfct_spec.models.observers import level_name
from nfct_spec.models.presets import suite
from nfct_spec.models.registry import Step
from nfct_spec.models.state import State
from nfct_spec.replay import replay
from nfct_spec.results import PASSING
from nfct_spec.spec.catalogue import BY_ID, CATALOGUE, Property

PINNED = [
    (
        row["variant"],
        row["config"],
        row["observers"],
        row["states"],
        row["transitions"],
        row["depth"],
    )
    for row in figures("ci-suite")["rows"]
    if row["transitions"] is not None
]
"""(variant, member, observers, reduced states, transitions, depth) of every search, from the
figures record: written by `python scripts/bench_explorer.py --suite-only`, which re-pins
them (the liveness rows are pinned by the lasso tests)."""


def _groups(config: Config) -> list[tuple[int, list[Property]]]:
    props = [p for p in CATALOGUE if p.kind != "liveness" and p.expected_for(config) != "n/a"]
    return search_groups(props)


@cache
def _explored(variant: str) -> tuple[tuple[Exploration, ...], ...]:
    """Per member, its searches (one per group of observers, as `nfct-spec explore` runs)."""
    return tuple(
        tuple(explore(config, group, level=level) for level, group in _groups(config))
        for config in suite("ci", variant)
    )


def _member(variant: str, name: str) -> tuple[Exploration, ...]:
    (searches,) = [m for m in _explored(variant) if m[0].config.name == name]
    return searches


@pytest.mark.parametrize(("variant", "name", "observers", "states", "transitions", "depth"), PINNED)
def test_every_search_of_every_member_has_its_pinned_state_count(
    variant: str, name: str, observers: str, states: int, transitions: int, depth: int
) -> None:
    (exploration,) = [e for e in _member(variant, name) if level_name(e.level) == observers]
    stats = exploration.stats
    # Every search is exhausted, or stopped once each property it checks had its finding (the
    # id-reuse and every-bit searches check one witness each).
    assert stats.complete or set(exploration.findings) == exploration.checked
    assert (stats.states, stats.transitions, stats.depth) == (states, transitions, depth)


def test_the_pinned_members_are_the_members_of_the_suite() -> None:
    members = [(c.variant, c.name) for v in ("2.6.30", "2.6.31", "6.x") for c in suite("ci", v)]
    assert sorted({(variant, name) for variant, name, *_ in PINNED}) == sorted(members)


@pytest.mark.parametrize("variant", ["2.6.30", "2.6.31", "6.x"])
def test_the_suite_confirms_every_expected_safety_verdict(variant: str) -> None:
    for prop in CATALOGUE:
        if prop.kind == "liveness":
            continue
        members = []
        for searches in _explored(variant):
            checked = [e for e in searches if prop.id in e.checked]
            members.append(safety_member(prop, checked[0]) if checked else None)
        combined = combine("ci.*", members)
        if combined is None:
            continue
        assert combined.verdict in PASSING[combined.expected], (variant, prop.id, combined)
        assert combined.verdict != "unknown"


@pytest.mark.parametrize("variant", ["2.6.30", "2.6.31"])
def test_every_finding_of_the_suite_is_bfs_shortest_and_replays(variant: str) -> None:
    for exploration in (e for searches in _explored(variant) for e in searches):
        for prop_id in exploration.findings:
            trace = trace_of(exploration, BY_ID[prop_id])
            assert len(trace.steps) == finding_depth(exploration, prop_id)
            assert replay(trace).ok, (exploration.config.name, prop_id)


def test_an_unknown_suite_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown suite"):
        suite("huge")


def _verdict(config: Config, verdict: str, expected: str, depth: int = 0) -> MemberVerdict:
    complete = not (verdict == "unknown" and expected == "holds")
    scope = "7 states" if complete else "budget hit: 7 states"
    return MemberVerdict(config, verdict, expected, scope, 7, complete, depth)


A, B, C = suite("ci", "2.6.31")[:3]


def test_a_member_that_contradicts_its_expectation_decides_the_verdict() -> None:
    combined = combine(
        "ci.*",
        [_verdict(A, "violated", "violated", 3), _verdict(B, "violated", "holds", 5)],
    )
    assert combined is not None
    assert (combined.verdict, combined.expected, combined.config) == (
        "violated",
        "holds",
        B.name,
    )


def test_the_shortest_finding_is_chosen_and_the_others_are_accounted_for() -> None:
    combined = combine(
        "ci.*",
        [
            _verdict(A, "witnessed", "witness", 6),
            _verdict(B, "witnessed", "witness", 4),
            _verdict(C, "unknown", "witness"),
        ],
    )
    assert combined is not None
    assert (combined.verdict, combined.config) == ("witnessed", B.name)
    assert "1 show it too" in combined.scope and "1 too small for it" in combined.scope


def test_an_expected_finding_no_member_shows_is_unknown_and_says_too_small() -> None:
    combined = combine(
        "ci.*", [_verdict(A, "unknown", "witness"), _verdict(B, "exhausted", "no-witness")]
    )
    assert combined is not None
    assert (combined.verdict, combined.config) == ("unknown", "ci.*")
    assert "too small" in combined.scope


def test_a_property_exhausted_everywhere_is_exhausted_with_the_states_summed() -> None:
    combined = combine(
        "ci.*", [_verdict(A, "exhausted", "holds"), _verdict(B, "exhausted", "holds")]
    )
    assert combined is not None
    assert combined.verdict == "exhausted"
    assert combined.scope.startswith("every state of 2 configs, 14 in all")


def test_a_budget_hit_in_one_member_makes_a_holds_property_unknown() -> None:
    combined = combine("ci.*", [_verdict(A, "exhausted", "holds"), _verdict(B, "unknown", "holds")])
    assert combined is not None
    assert combined.verdict == "unknown" and "budget hit" in combined.scope


def test_an_expected_finding_behind_a_budget_hit_names_the_config() -> None:
    cut = MemberVerdict(A, "unknown", "witness", "budget hit: 7 states", 7, False)
    combined = combine("ci.*", [cut, _verdict(B, "unknown", "witness")])
    assert combined is not None
    assert (combined.verdict, combined.scope) == ("unknown", f"budget hit in {A.name}")


def test_a_property_not_applicable_anywhere_gets_no_verdict() -> None:
    assert combine("ci.*", [None, None]) is None


@pytest.mark.parametrize(
    ("variant", "name"),
    [("2.6.31", "ci.sysctl"), ("2.6.30", "ci.listeners"), ("6.x", "ci.expectations")],
)
def test_every_state_the_hypothesis_engine_visits_is_in_the_explored_set(
    variant: str, name: str
) -> None:
    """Cross-engine consistency on suite members, with the real state machine of `check`."""
    exploration = _member(variant, name)[0]
    config = exploration.config
    seen: list[State] = []
    # One property that holds, so that the run never stops early with everything found.
    base = machine_class(config, (BY_ID["count-exact"],), Collection())

    class Recording(base):  # type: ignore[valid-type, misc]
        def __init__(self) -> None:
            super().__init__()
            seen.append(self.state)

        def advance(self, step: Step, successor: State) -> None:
            super().advance(step, successor)
            seen.append(successor)

    run_state_machine_as_test(
        Recording,
        settings=settings(max_examples=60, stateful_step_count=30, derandomize=True, deadline=None),
    )
    assert len(seen) > 500
    missing = [s for s in seen if not exploration.contains(s)]
    assert not missing, missing[0]


FAULTS = next(c for c in suite("ci", "6.x") if c.name == "ci.faults")


def test_a_member_built_to_show_a_finding_refutes_it_when_exhausted_without_it() -> None:
    members = [_verdict(A, "unknown", "witness"), _verdict(FAULTS, "unknown", "witness")]
    combined = combine("ci.*", members, "auto-mode-late-listener")
    assert combined is not None
    assert (combined.verdict, combined.expected, combined.config) == (
        "exhausted",
        "witness",
        "ci.faults",
    )
    assert "built to show it" in combined.scope
    # Another property of the same member, or the same member cut by its budget: unknown.
    assert combine("ci.*", members, "may-reorder").verdict == "unknown"  # type: ignore[union-attr]
    cut = MemberVerdict(FAULTS, "unknown", "witness", "budget hit: 7 states", 7, False)
    combined = combine("ci.*", [cut], "auto-mode-late-listener")
    assert combined is not None and combined.verdict == "unknown"
