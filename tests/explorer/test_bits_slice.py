"""The receipts slices: a search with receipts but without BITS keeps, of each queued message and
of what a listener read or had dropped, only the NEW and DESTROY bits, and forgets the bits
raised per instance (only `may-coalesce` reads the others, and it is searched with every bit);
one without ORDER forgets the order of deaths and the `later` flags (only `may-reorder` reads
them, and it is searched with them)."""

from __future__ import annotations

import pytest
from explorer_configs import assert_same_findings, small, two_alive

from nfct_spec.engines.explorer import explore, search_groups
from nfct_spec.models.observers import BITS, IDS, OBLIGATIONS, ORDER, RECEIPTS
from nfct_spec.spec.catalogue import BY_ID, CATALOGUE

RECEIPTS_ONLY = OBLIGATIONS | RECEIPTS


@pytest.mark.parametrize("kept", [BITS, ORDER], ids=["bits", "order"])
@pytest.mark.parametrize("variant", ["2.6.30", "2.6.31", "6.x"])
def test_the_slice_changes_no_verdict_and_no_shortest_length(variant: str, kept: int) -> None:
    """The receipts search, and the same search keeping what the slice forgets (for the order
    of deaths on a config where two conntracks live at once, so that it can matter)."""
    config = two_alive(variant) if kept == ORDER else small(variant)
    props = [p for p in CATALOGUE if p.kind != "liveness" and p.expected_for(config) != "n/a"]
    group = dict(search_groups(props))[RECEIPTS_ONLY]
    sliced = explore(config, group, level=RECEIPTS_ONLY)
    whole = explore(config, group, level=RECEIPTS_ONLY | kept)
    assert sliced.stats.complete and whole.stats.complete
    if kept == ORDER and variant == "2.6.30":
        # 2.6.30 sends each DESTROY once, as the conntrack dies, so here the order of deaths
        # is already told by the queue.
        assert sliced.stats.states == whole.stats.states
    else:
        assert sliced.stats.states < whole.stats.states
    assert sliced.findings, "the config witnesses receipts findings"
    assert_same_findings(group, sliced, whole)


def test_may_coalesce_is_searched_with_every_bit() -> None:
    config = small("2.6.31")
    groups = dict(search_groups([p for p in CATALOGUE if p.expected_for(config) != "n/a"]))
    assert [p.id for p in groups[RECEIPTS_ONLY | BITS]] == ["may-coalesce"]
    assert all(p.observes & BITS == 0 for p in groups[RECEIPTS_ONLY])
    assert all(p.observes & BITS == 0 for p in groups[RECEIPTS_ONLY | IDS])
    found = explore(config, [BY_ID["may-coalesce"]])
    assert found.level == RECEIPTS_ONLY | BITS
    assert "may-coalesce" in found.findings


def test_may_reorder_is_searched_with_the_order_of_deaths() -> None:
    config = small("2.6.31")
    groups = dict(search_groups([p for p in CATALOGUE if p.expected_for(config) != "n/a"]))
    assert [p.id for p in groups[RECEIPTS_ONLY | ORDER]] == ["may-reorder"]
    assert all(
        p.observes & ORDER == 0
        for level, g in groups.items()
        for p in g
        if level != RECEIPTS_ONLY | ORDER
    )
    found = explore(config, [BY_ID["may-reorder"]])
    assert found.level & ORDER
    assert "may-reorder" in found.findings


def test_a_search_that_cannot_see_what_a_property_reads_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot check may-coalesce"):
        explore(small("2.6.31"), [BY_ID["may-coalesce"]], level=RECEIPTS_ONLY)
