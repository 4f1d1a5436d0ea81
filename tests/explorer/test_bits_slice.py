"""The receipts slices: a search with receipts keeps, of each queued message and of what a
listener read, only the DESTROY bit, and the NEW bit too with NEWS (only `new-before-destroy`
and `may-duplicate` read it, and they are searched with it); it forgets the bits raised per
instance and the other bits (only `may-coalesce` reads them, and it is searched with every bit);
one without ORDER forgets the order of deaths and the `later` flags (only `may-reorder` reads
them, and it is searched with them). At every level, what a listener had dropped is kept only
for listeners without NETLINK_BROADCAST_ERROR, and only the DESTROY bit of it (only
`may-lose-without-be` reads it)."""

from __future__ import annotations

import pytest
from explorer_configs import assert_same_findings, small, two_alive, with_unreliable

from nfct_spec.engines.explorer import explore, search_groups
from nfct_spec.models.bits import IPCT_DESTROY, IPCT_NEW
from nfct_spec.models.canonical import project_ghost
from nfct_spec.models.config import Config
from nfct_spec.models.observers import (
    BITS,
    FULL,
    IDS,
    NEWS,
    OBLIGATIONS,
    ORDER,
    RECEIPTS,
    Ghost,
    Record,
    Seen,
)
from nfct_spec.spec.catalogue import BY_ID, CATALOGUE, Property

RECEIPTS_ONLY = OBLIGATIONS | RECEIPTS
WITH_NEWS = RECEIPTS_ONLY | NEWS


def _receipts_groups(config: Config) -> list[Property]:
    """The properties of the receipts search and of the receipts search with NEWS."""
    props = [p for p in CATALOGUE if p.kind != "liveness" and p.expected_for(config) != "n/a"]
    groups = dict(search_groups(props))
    return [*groups[RECEIPTS_ONLY], *groups[WITH_NEWS]]


@pytest.mark.parametrize("kept", [BITS, ORDER], ids=["bits", "order"])
@pytest.mark.parametrize("variant", ["2.6.30", "2.6.31", "6.x"])
def test_the_slice_changes_no_verdict_and_no_shortest_length(variant: str, kept: int) -> None:
    """The receipts search with NEWS, and the same search keeping what the slice forgets (for
    the order of deaths on a config where two conntracks live at once, so that it can
    matter)."""
    config = two_alive(variant) if kept == ORDER else small(variant)
    group = _receipts_groups(config)
    sliced = explore(config, group, level=WITH_NEWS)
    whole = explore(config, group, level=WITH_NEWS | kept)
    assert sliced.stats.complete and whole.stats.complete
    # (For 2.6.30 and the order of deaths the two differ only because the search with NEWS
    # alone also forgets freed instances sooner: 2.6.30 sends each DESTROY once, as the
    # conntrack dies, so there the order of deaths is already told by the queue.)
    assert sliced.stats.states < whole.stats.states
    assert sliced.findings, "the config witnesses receipts findings"
    assert_same_findings(group, sliced, whole)


@pytest.mark.parametrize("variant", ["2.6.30", "2.6.31", "6.x"])
def test_forgetting_the_new_bit_changes_no_verdict_of_the_receipts_search(variant: str) -> None:
    """The receipts search without NEWS decides its properties as the same search with NEWS,
    in fewer states; on a config with a listener without BE too, so that a receipts finding
    (`may-lose-without-be`) is compared, and what that listener dropped is kept (with one
    flow: it shows that finding too, and with two the search with NEWS has 285,523 states on
    2.6.31, 50 s of the suite)."""
    for config in (small(variant), with_unreliable(variant, flows=1)):
        props = [p for p in CATALOGUE if p.kind != "liveness" and p.expected_for(config) != "n/a"]
        group = dict(search_groups(props))[RECEIPTS_ONLY]
        sliced = explore(config, group, level=RECEIPTS_ONLY)
        whole = explore(config, group, level=WITH_NEWS)
        assert sliced.stats.complete and whole.stats.complete
        assert sliced.stats.states < whole.stats.states
        assert_same_findings(group, sliced, whole)
        if len(config.listeners) == 2 and variant != "2.6.30":
            assert "may-lose-without-be" in sliced.findings


def test_dropped_is_kept_only_for_listeners_without_be() -> None:
    """The canonical form keeps the DESTROY bit of what a listener without BE dropped, and
    nothing of what a BE listener dropped, at every level with receipts."""
    both = Seen(owed=True, dropped=IPCT_NEW | IPCT_DESTROY)
    record = Record(uid=0, slot=0, flow=0, seen=(both, both))
    ghost = Ghost(level=FULL, next_uid=1, records=(record,))
    for level in (RECEIPTS_ONLY, WITH_NEWS, FULL):
        (projected,) = project_ghost(ghost, level, (False, True)).records
        assert [s.dropped for s in projected.seen] == [0, IPCT_DESTROY]


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
