"""Cross-engine consistency: every state a random run visits is in the explorer's reachable
set for the same config, with and without symmetry reduction; memory slots are allocated again
for ever, so the set is finite without any bound on allocations."""

from __future__ import annotations

from explorer_configs import small
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import new, run, step
from nfct_spec.engines.explorer import Exploration, explore
from nfct_spec.models.observers import OBLIGATIONS
from nfct_spec.models.registry import successors
from nfct_spec.models.state import initial_state

CONFIG = small("2.6.31")
REDUCED: Exploration = explore(CONFIG, [], level=OBLIGATIONS)
FULL: Exploration = explore(CONFIG, [], level=OBLIGATIONS, symmetry=False)


def test_the_searches_are_complete() -> None:
    assert REDUCED.stats.complete and FULL.stats.complete
    assert REDUCED.stats.states < FULL.stats.states


@settings(max_examples=100)
@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=60))
def test_every_state_of_a_random_run_is_in_the_explored_set(choices: list[int]) -> None:
    state = initial_state(CONFIG, OBLIGATIONS)
    for choice in choices:
        assert REDUCED.contains(state)
        assert FULL.contains(state)
        options = list(successors(CONFIG, state))
        if not options:
            break
        state = options[choice % len(options)][1]
    assert REDUCED.contains(state) and FULL.contains(state)


def test_a_slot_allocated_again_and_again_stays_in_the_explored_set() -> None:
    """Three conntracks of flow 0 one after the other in slot 0, each read and deleted before
    the next: the third is the same canonical state as the first (the finite model needs no
    allocation bound)."""
    kill = step("ctnetlink_del_conntrack", flow=0, requester="conntrack")
    read = step("env_recv", listener="conntrackd")
    create = (new(0, 0), step("__nf_conntrack_confirm", slot=0), read)
    once = run(CONFIG, *create, start=initial_state(CONFIG, OBLIGATIONS))
    again = run(CONFIG, kill, read, *create, start=once)
    again = run(CONFIG, kill, read, *create, start=again)
    assert REDUCED.contains(again) and FULL.contains(again)
    assert REDUCED.canonical(again) == REDUCED.canonical(once)


def test_a_state_of_a_larger_config_is_not_in_the_explored_set() -> None:
    other = small("2.6.31", flows=3, slots=3, nf_conntrack_max=3)
    state = run(other, new(0, 0), new(1, 1), new(2, 2), start=initial_state(other, OBLIGATIONS))
    assert not REDUCED.contains(state)
    assert not FULL.contains(state)
