"""A search pauses Python's cycle collector (`explorer.cycles_paused`), so nothing it runs may
leave garbage in reference cycles: that garbage would pile up until the search ends (a compiled
closure did, about 800 bytes per state)."""

from __future__ import annotations

import gc

import pytest

from nfct_spec.engines.explorer import explore
from nfct_spec.models.observers import FULL
from nfct_spec.models.presets import suite
from nfct_spec.spec.catalogue import CATALOGUE


@pytest.mark.parametrize("variant", ["2.6.30", "2.6.31", "6.x"])
def test_a_search_leaves_no_garbage_in_cycles(variant: str) -> None:
    config = next(c for c in suite("ci", variant) if c.name == "ci.expectations")
    props = [p for p in CATALOGUE if p.kind != "liveness"]
    explore(config, props, level=FULL, max_states=2000)  # caches and memos filled first
    gc.collect()
    gc.disable()
    try:
        exploration = explore(config, props, level=FULL, max_states=2000)
        assert exploration.stats.states == 2000
        assert gc.collect() == 0
    finally:
        gc.enable()
