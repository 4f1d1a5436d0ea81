"""Symmetry reduction: canonical forms are the same for symmetric states where the
representative is unique, and the reduction changes no verdict and no shortest length."""

from __future__ import annotations

import random

import pytest
from explorer_configs import assert_same_findings, small, twin_listeners, two_alive
from hypothesis import given
from hypothesis import strategies as st

from nfct_spec.checking import finding_in_state, finding_on_step, searched
from nfct_spec.engines import explorer
from nfct_spec.engines.explorer import explore, search_groups
from nfct_spec.models.canonical import Canonicaliser, permute_listeners, relabel
from nfct_spec.models.config import Config
from nfct_spec.models.frozen import evolve
from nfct_spec.models.observers import DUPS, FULL, KERNEL, NEWS, OBLIGATIONS, RECEIPTS
from nfct_spec.models.registry import successors
from nfct_spec.models.state import State, initial_state
from nfct_spec.spec.catalogue import CATALOGUE

CHOICES = st.lists(st.integers(min_value=0, max_value=1000), max_size=30)


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


def _shuffled(n: int, rnd: random.Random) -> dict[int, int]:
    image = list(range(n))
    rnd.shuffle(image)
    return dict(enumerate(image))


@given(CHOICES, st.randoms(use_true_random=False), st.sampled_from([KERNEL, OBLIGATIONS, FULL]))
def test_permuting_flows_does_not_change_the_canonical_form(
    choices: list[int], rnd: random.Random, level: int
) -> None:
    """Flows are named in the order the slot order meets them, and the slot order never looks
    at a flow: the representative is unique over flow renamings at every level."""
    config = small("2.6.31", flows=3, slots=3, nf_conntrack_max=2)
    canonical = Canonicaliser(config, level)
    slots = {s: s for s in range(config.slots)}
    for state in _walk(config, choices):
        permuted = relabel(state, slots, _shuffled(config.flows, rnd))
        assert canonical(permuted) == canonical(state)


@given(CHOICES, st.randoms(use_true_random=False))
def test_permuting_slots_does_not_change_the_canonical_form_with_receipts(
    choices: list[int], rnd: random.Random
) -> None:
    """With receipts the slot order looks at everything a slot holds (its live conntrack, the
    records of its instances, their messages and places in the order of deaths, and which
    slots share a tuple), so on these walks the representative is unique over slot renamings.
    (Without receipts, or with id-reuse memory, two conntracks can still tie and the first
    slot wins: a representative, not always the same one, which the verdict test below
    covers.)"""
    config = small("2.6.31", flows=3, slots=3, nf_conntrack_max=2)
    canonical = Canonicaliser(config, OBLIGATIONS | RECEIPTS)
    flows = {f: f for f in range(config.flows)}
    for state in _walk(config, choices):
        permuted = relabel(state, _shuffled(config.slots, rnd), flows)
        assert canonical(permuted) == canonical(state)


@given(CHOICES)
def test_swapping_identical_listeners_does_not_change_the_canonical_form(
    choices: list[int],
) -> None:
    config = twin_listeners("2.6.31")
    canonical = Canonicaliser(config, OBLIGATIONS | RECEIPTS)
    for state in _walk(config, choices):
        assert canonical(permute_listeners(state, (1, 0))) == canonical(state)


@given(CHOICES, st.randoms(use_true_random=False), st.sampled_from([KERNEL, FULL]))
def test_the_representative_is_a_fixed_point_and_judged_the_same(
    choices: list[int], rnd: random.Random, level: int
) -> None:
    config = small("2.6.31", flows=3, slots=3, nf_conntrack_max=2)
    canonical = Canonicaliser(config, level)
    props = [p for p in CATALOGUE if not p.on_transitions and p.check and searched(p, config)]
    props = [p for p in props if p.observes & ~level == 0]
    flows = {f: f for f in range(config.flows)}
    for state in _walk(config, choices):
        rep = canonical(relabel(state, _shuffled(config.slots, rnd), flows))
        assert canonical(rep) == rep
        for prop in props:
            assert finding_in_state(prop, config, rep) == finding_in_state(
                prop, config, canonical(state)
            ), prop.id


def test_listeners_that_differ_in_options_are_not_merged() -> None:
    config = small("2.6.31")
    assert not Canonicaliser(config, flows=False).orders


def test_symmetry_reduction_changes_no_verdict_and_no_shortest_length() -> None:
    config = small("2.6.31")
    props = [p for p in CATALOGUE if p.kind != "liveness" and p.expected_for(config) != "n/a"]
    for level, group in search_groups(props):
        if level != OBLIGATIONS:
            # With receipts, records are numbered by creation; only the canonical form numbers
            # them afresh, so without it the search never ends (the numbers count up for ever).
            # The slot symmetry of those searches is tested above state by state.
            continue
        reduced = explore(config, group, level=level)
        full = explore(config, group, level=level, symmetry=False)
        assert reduced.stats.states < full.stats.states
        assert_same_findings(group, reduced, full)


def _without_drops(state: State) -> State:
    kernel = state.kernel
    sockets = tuple(evolve(s, drops=0) for s in kernel.sockets)
    return State(evolve(kernel, sockets=sockets), state.ghost)


@given(CHOICES)
def test_forgetting_sk_drops_changes_no_successor_and_no_finding(choices: list[int]) -> None:
    """The slice is exact: the successors of a state and of its sliced form agree once
    sliced, step by step, and every property judges both the same way."""
    config = small("2.6.31", flows=2, slots=3)
    props = [p for p in CATALOGUE if p.kind != "liveness" and searched(p, config)]
    for state in _walk(config, choices):
        sliced = _without_drops(state)
        mine = [(step, _without_drops(post)) for step, post in successors(config, state)]
        theirs = [(step, _without_drops(post)) for step, post in successors(config, sliced)]
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


@pytest.mark.parametrize("variant", ["2.6.30", "2.6.31", "6.x"])
def test_ordering_slots_by_what_they_hold_changes_no_receipts_verdict(
    variant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The receipts searches order slots by what they hold (`slot_keys`), not by when their
    instances were created. Against the same search with the slots left where they are (flows
    and instance numbers still renamed), on a config where two conntracks live at once: the
    same verdicts, findings and shortest lengths, in fewer states."""
    config = two_alive(variant)
    props = [p for p in CATALOGUE if p.kind != "liveness" and p.expected_for(config) != "n/a"]
    level = OBLIGATIONS | RECEIPTS | NEWS | DUPS
    groups = dict(search_groups(props))
    group = [
        *groups[OBLIGATIONS | RECEIPTS],
        *groups[OBLIGATIONS | RECEIPTS | DUPS],
        *groups[OBLIGATIONS | RECEIPTS | NEWS],
    ]
    reduced = explore(config, group, level=level)

    def slots_kept(config: Config, level: int, **options: bool) -> Canonicaliser:
        return Canonicaliser(config, level, flows=True, listeners=True, slots=False)

    monkeypatch.setattr(explorer, "Canonicaliser", slots_kept)
    kept = explore(config, group, level=level)
    assert reduced.stats.complete and kept.stats.complete
    assert reduced.stats.states < kept.stats.states
    assert reduced.findings, "the config witnesses receipts findings"
    assert_same_findings(group, reduced, kept)
