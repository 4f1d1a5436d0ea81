"""Symmetry over slots and flows holds at granularity smp: renaming carries the calls in
progress and the reference counts with the slots."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st
from smp_configs import era, reachable

from nfct_spec.models.canonical import Canonicaliser, relabel
from nfct_spec.models.config import Config
from nfct_spec.models.observers import OBLIGATIONS, RECEIPTS
from nfct_spec.models.registry import successors
from nfct_spec.models.state import State, initial_state

CHOICES = st.lists(st.integers(min_value=0, max_value=1000), max_size=30)
CONFIG = era("smp-delete-guard-flush").with_(flows=2, slots=2, name="smp-two")


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


def _swap(n: int) -> dict[int, int]:
    return {i: n - 1 - i for i in range(n)}


def _commutes(state: State, slots: dict[int, int], flows: dict[int, int]) -> bool:
    canonical = Canonicaliser(CONFIG, OBLIGATIONS | RECEIPTS)
    renamed = relabel(state, slots, flows)
    after = {canonical(post) for _, post in successors(CONFIG, state)}
    after_renamed = {canonical(post) for _, post in successors(CONFIG, renamed)}
    return after == after_renamed and canonical(renamed) == canonical(state)


def test_renaming_commutes_with_every_step_of_two_calls_in_progress() -> None:
    """Breadth first, so that states with a call on each slot are met early."""
    states = [
        s
        for s in reachable(CONFIG, 3000)
        if len({c.slot for c in s.kernel.calls if c.slot >= 0}) == 2
    ]
    assert len(states) >= 20
    for state in states:
        assert _commutes(state, _swap(CONFIG.slots), _swap(CONFIG.flows))


@given(CHOICES, st.randoms(use_true_random=False))
def test_renaming_slots_and_flows_commutes_with_every_step(
    choices: list[int], rnd: random.Random
) -> None:
    canonical = Canonicaliser(CONFIG, OBLIGATIONS | RECEIPTS)
    for state in _walk(CONFIG, choices):
        slots, flows = _swap(CONFIG.slots), _swap(CONFIG.flows)
        if rnd.random() < 0.5:
            flows = {f: f for f in range(CONFIG.flows)}
        renamed = relabel(state, slots, flows)
        if state.kernel.calls:
            assert {c.slot for c in renamed.kernel.calls} == {
                slots[c.slot] if c.slot >= 0 else -1 for c in state.kernel.calls
            }
        after = {canonical(post) for _, post in successors(CONFIG, state)}
        after_renamed = {canonical(post) for _, post in successors(CONFIG, renamed)}
        assert after == after_renamed
        assert canonical(renamed) == canonical(state)
