"""Cross-engine consistency: every state a Hypothesis run visits is in the explorer's
reachable set for the same config, with and without symmetry reduction."""

from __future__ import annotations

from explorer_configs import small
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import run, step
from nfct_spec.engines.explorer import Exploration, explore
from nfct_spec.models.registry import successors
from nfct_spec.models.state import initial_state
from nfct_spec.spec.catalogue import CATALOGUE

CONFIG = small("2.6.31")
REDUCED: Exploration = explore(CONFIG, CATALOGUE)
FULL: Exploration = explore(CONFIG, CATALOGUE, symmetry=False)


@settings(max_examples=100)
@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
def test_every_state_of_a_random_run_is_in_the_explored_set(choices: list[int]) -> None:
    state = initial_state(CONFIG)
    for choice in choices:
        assert REDUCED.contains(state)
        assert FULL.contains(state)
        options = list(successors(CONFIG, state))
        if not options:
            break
        state = options[choice % len(options)][1]
    assert REDUCED.contains(state) and FULL.contains(state)


def test_a_state_beyond_the_allocation_bound_is_not_in_the_explored_set() -> None:
    other = small("2.6.31", max_conntracks=3)
    new = step("nf_conntrack_in", flow=0, packet="new")
    state = run(
        other, new, step("destroy_conntrack", uid=0), new, step("destroy_conntrack", uid=1), new
    )
    assert not REDUCED.contains(state)
    assert not FULL.contains(state)
