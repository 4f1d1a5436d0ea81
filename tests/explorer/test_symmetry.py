"""Symmetry reduction: canonical forms are the same for symmetric states, and the reduction
changes no verdict."""

from __future__ import annotations

import random

from explorer_configs import small, twin_listeners
from hypothesis import given
from hypothesis import strategies as st

from nfct_spec.checking import finding_in_state, finding_on_step, searched
from nfct_spec.engines.explorer import explore, verdict
from nfct_spec.models.canonical import (
    Canonicaliser,
    forget_drops,
    permute_listeners,
    relabel_flows,
)
from nfct_spec.models.config import Config
from nfct_spec.models.registry import successors
from nfct_spec.models.state import State, initial_state
from nfct_spec.spec.catalogue import CATALOGUE


def _walk(config: Config, choices: list[int]) -> list[State]:
    state = initial_state(config)
    seen = [state]
    for choice in choices:
        options = list(successors(config, state))
        if not options:
            break
        state = options[choice % len(options)][1]
        seen.append(state)
    return seen


@given(st.lists(st.integers(min_value=0, max_value=1000), max_size=25), st.randoms())
def test_permuting_flows_does_not_change_the_canonical_form(
    choices: list[int], rnd: random.Random
) -> None:
    config = small("2.6.31", flows=3, max_conntracks=3)
    canonical = Canonicaliser(config)
    for state in _walk(config, choices):
        image = list(range(config.flows))
        rnd.shuffle(image)
        permuted = relabel_flows(state, dict(enumerate(image)))
        assert canonical(permuted) == canonical(state)


@given(st.lists(st.integers(min_value=0, max_value=1000), max_size=25))
def test_swapping_identical_listeners_does_not_change_the_canonical_form(
    choices: list[int],
) -> None:
    config = twin_listeners("2.6.31")
    canonical = Canonicaliser(config)
    for state in _walk(config, choices):
        assert canonical(permute_listeners(state, (1, 0))) == canonical(state)


def test_listeners_that_differ_in_options_are_not_merged() -> None:
    config = small("2.6.31")
    assert not Canonicaliser(config, flows=False).orders


def test_symmetry_reduction_changes_no_verdict_and_no_shortest_length() -> None:
    config = small("2.6.31")
    reduced = explore(config, CATALOGUE)
    full = explore(config, CATALOGUE, symmetry=False)
    assert reduced.stats.states < full.stats.states
    for prop in CATALOGUE:
        if prop.kind == "liveness" or prop.expected_for(config) == "n/a":
            continue
        assert verdict(prop, reduced)[0] == verdict(prop, full)[0], prop.id
    for prop_id, finding in reduced.findings.items():
        other = full.findings[prop_id]
        assert len(reduced.path_to(finding.target)) == len(full.path_to(other.target)), prop_id


@given(st.lists(st.integers(min_value=0, max_value=1000), max_size=30))
def test_forgetting_sk_drops_changes_no_successor_and_no_finding(choices: list[int]) -> None:
    """The slice is exact: the successors of a state and of its sliced form agree once
    sliced, step by step, and every property judges both the same way."""
    config = small("2.6.31", flows=2, max_conntracks=3)
    props = [p for p in CATALOGUE if p.kind != "liveness" and searched(p, config)]
    for state in _walk(config, choices):
        sliced = forget_drops(state)
        mine = [(step, forget_drops(post)) for step, post in successors(config, state)]
        theirs = [(step, forget_drops(post)) for step, post in successors(config, sliced)]
        assert mine == theirs
        for prop in props:
            if prop.on_transitions:
                for (step, post), (_, cut) in zip(
                    successors(config, state), successors(config, sliced), strict=True
                ):
                    assert finding_on_step(prop, config, state, step, post) == finding_on_step(
                        prop, config, sliced, step, cut
                    ), prop.id
            else:
                assert finding_in_state(prop, config, state) == finding_in_state(
                    prop, config, sliced
                ), prop.id
