"""Pinned state counts: a regression test of the model and of the reductions (symmetry and
the sk_drops slice).

The presets (`tiny`, `ci`) are too large to exhaust within a test (see the explorer report), so
the counts are pinned for small configs that cover every variant, flow symmetry and the
retry-timeout write.
"""

from __future__ import annotations

import pytest
from explorer_configs import small

from nfct_spec.engines.explorer import explore
from nfct_spec.engines.lasso import build_graph
from nfct_spec.spec.catalogue import CATALOGUE

PINNED = [
    # (variant, flows, extra, reduced states, transitions, depth, unreduced states)
    ("2.6.31", 1, {}, 1483, 3533, 16, 1939),
    ("2.6.31", 2, {}, 3487, 8651, 16, 9175),
    ("2.6.30", 2, {}, 716, 2512, 14, 1431),
    ("6.x", 2, {}, 5287, 11923, 22, 15733),
    ("2.6.31", 1, {"sysctl_writes": (("events_retry_timeout", 0),)}, 3206, 8489, 17, 4172),
]


@pytest.mark.parametrize(
    ("variant", "flows", "extra", "states", "transitions", "depth", "full"), PINNED
)
def test_small_configs_have_their_pinned_state_counts(
    variant: str,
    flows: int,
    extra: dict[str, object],
    states: int,
    transitions: int,
    depth: int,
    full: int,
) -> None:
    config = small(variant, flows=flows, **extra)
    reduced = explore(config, CATALOGUE)
    assert reduced.stats.complete
    assert (reduced.stats.states, reduced.stats.transitions, reduced.stats.depth) == (
        states,
        transitions,
        depth,
    )
    unreduced = explore(config, CATALOGUE, symmetry=False)
    assert unreduced.stats.states == full
    assert len(build_graph(config).states) == full


def test_a_budget_stops_the_search_and_marks_it_incomplete() -> None:
    exploration = explore(small("2.6.31"), CATALOGUE, max_states=100)
    assert exploration.stats.states == 100
    assert not exploration.stats.complete
