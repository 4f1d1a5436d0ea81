"""Pinned state counts: a regression test of the model and of the reductions (symmetry and
the sk_drops slice).

The presets (`tiny`, `ci`) are too large to exhaust within a test (see the explorer report), so
the counts are pinned for small configs that cover every variant, flow symmetry and the
retry-timeout write. The counts and configs come from the figures record (block
`pinned-counts`); after a model change that changes them, re-pin with `python
scripts/pin_counts.py` and regenerate the README (`nfct-spec doc --update-readme README.md`).
"""

from __future__ import annotations

from typing import Any

import pytest
from explorer_configs import small

from helpers import explore_pinned, figures
from nfct_spec.engines.explorer import explore
from nfct_spec.engines.lasso import build_graph
from nfct_spec.engines.lasso_sym import build_quotient
from nfct_spec.models.config import config_from_json
from nfct_spec.models.observers import OBLIGATIONS, RECEIPTS
from nfct_spec.spec.catalogue import CATALOGUE

PINNED = figures("pinned-counts")["rows"]
"""Written by scripts/pin_counts.py: each row has its config, its reduced states,
transitions and depth, its states without reductions, with receipts, and its liveness graph's
states and transitions."""


@pytest.mark.parametrize("row", PINNED, ids=[row["label"] for row in PINNED])
def test_small_configs_have_their_pinned_state_counts(row: dict[str, Any]) -> None:
    config = config_from_json(row["config"])
    unreduced = explore_pinned(config, row)
    assert unreduced.stats.states == row["unreduced_states"]
    assert len(build_graph(config).states) == row["unreduced_states"]
    receipts = explore(config, [], level=OBLIGATIONS | RECEIPTS)
    assert receipts.stats.complete and receipts.stats.states == row["receipts_states"]
    quotient = build_quotient(config)
    assert quotient.complete
    assert (len(quotient.states), quotient.transitions) == (
        row["liveness_states"],
        row["liveness_transitions"],
    )


def test_the_pinned_configs_are_the_small_test_config_on_every_variant() -> None:
    configs = [config_from_json(row["config"]) for row in PINNED]
    assert {c.variant for c in configs} == {"2.6.30", "2.6.31", "6.x"}
    for config in configs:
        assert config.with_(sysctl_writes=()) == small(config.variant, flows=config.flows)


def test_a_budget_stops_the_search_and_marks_it_incomplete() -> None:
    exploration = explore(small("2.6.31"), CATALOGUE, max_states=100)
    assert exploration.stats.states == 100
    assert not exploration.stats.complete
