"""The search of `may-duplicate` keeps the NEW a listener read of an instance only while a NEW
of that instance can still reach it (`observers.DUPS`, `canonical.forget_read_news`); the
search of `new-before-destroy` keeps every NEW read (`observers.NEWS`). Both decide as the
search that keeps every NEW read, in no more states."""

from __future__ import annotations

import pytest
from explorer_configs import assert_same_findings, small, twin_listeners, with_unreliable

from nfct_spec.engines.explorer import explore, search_groups
from nfct_spec.models.bits import IPCT_DESTROY, IPCT_NEW
from nfct_spec.models.canonical import Canonicaliser, forget_read_news
from nfct_spec.models.observers import DUPS, NEWS, OBLIGATIONS, RECEIPTS, Ghost, Record, Seen
from nfct_spec.models.presets import suite
from nfct_spec.models.state import Conntrack, Message, State, evolve, initial_state
from nfct_spec.spec.catalogue import BY_ID, CATALOGUE

RECEIPTS_ONLY = OBLIGATIONS | RECEIPTS
MAY_DUPLICATE = BY_ID["may-duplicate"]


@pytest.mark.parametrize("variant", ["2.6.30", "2.6.31", "6.x"])
def test_may_duplicate_is_decided_as_with_every_new_read(variant: str) -> None:
    """On a one-listener config (no witness: the search runs to its end), with two listeners
    that differ only by name, and with a listener without BE beside the reliable one (the
    shapes of the witness: a re-send reaches the socket that took the failed message)."""
    witnessed = 0
    for config in (small(variant), twin_listeners(variant), with_unreliable(variant, flows=1)):
        dups = explore(config, [MAY_DUPLICATE], level=RECEIPTS_ONLY | DUPS)
        # With NEWS beside DUPS nothing read is forgotten (what the search kept before DUPS).
        news = explore(config, [MAY_DUPLICATE], level=RECEIPTS_ONLY | NEWS | DUPS)
        # (A search for a witness stops at it.)
        for search in (dups, news):
            assert search.stats.complete or "may-duplicate" in search.findings
        assert dups.stats.states <= news.stats.states
        assert_same_findings([MAY_DUPLICATE], dups, news)
        witnessed += "may-duplicate" in dups.findings
        if len(config.listeners) == 1:
            assert dups.stats.states < news.stats.states, config.name
    assert witnessed == (0 if variant == "2.6.30" else 2)


@pytest.mark.parametrize("variant", ["2.6.31", "6.x"])
def test_may_duplicate_is_decided_on_the_ci_suite_as_with_every_new_read(variant: str) -> None:
    """The same comparison on every member of the `ci` suite (its listeners member witnesses
    `may-duplicate`; the others run to their end)."""
    witnessed = 0
    for config in suite("ci", variant):
        dups = explore(config, [MAY_DUPLICATE], level=RECEIPTS_ONLY | DUPS)
        news = explore(config, [MAY_DUPLICATE], level=RECEIPTS_ONLY | NEWS | DUPS)
        assert dups.stats.states <= news.stats.states, config.name
        assert_same_findings([MAY_DUPLICATE], dups, news)
        witnessed += "may-duplicate" in dups.findings
    assert witnessed == 1


def test_the_two_news_properties_are_searched_apart() -> None:
    """`may-duplicate` by the search with DUPS, `new-before-destroy` by the one with NEWS."""
    config = small("6.x")
    groups = dict(search_groups([p for p in CATALOGUE if p.expected_for(config) != "n/a"]))
    assert [p.id for p in groups[RECEIPTS_ONLY | DUPS]] == ["may-duplicate"]
    assert [p.id for p in groups[RECEIPTS_ONLY | NEWS]] == ["new-before-destroy"]


def _state(cache: int, missed: int, queued: int) -> State:
    """A live conntrack whose one listener read its NEW, with NEW cached or missed or a
    message carrying `queued` bits of it queued."""
    config = small("2.6.31")
    level = RECEIPTS_ONLY | DUPS
    state = initial_state(config, level)
    kernel = state.kernel
    ct = Conntrack(flow=0, ecache=True, cache=cache, missed=missed)
    queue = (Message(slot=0, flow=0, bits=queued, uid=0),) if queued else ()
    sockets = (evolve(kernel.sockets[0], queue=queue),)
    kernel = evolve(kernel, cts=(ct, None), hash=(0,), ct_count=1, sockets=sockets)
    seen = Seen(owed=True, got=IPCT_NEW)
    ghost = Ghost(level=level, next_uid=1, records=(Record(uid=0, slot=0, flow=0, seen=(seen,)),))
    return State(kernel, ghost)


@pytest.mark.parametrize(
    ("cache", "missed", "queued", "kept"),
    [
        (0, 0, 0, False),
        (0, 0, IPCT_DESTROY, False),
        (IPCT_NEW, 0, 0, True),
        (0, IPCT_NEW, 0, True),
        (0, 0, IPCT_NEW, True),
    ],
    ids=["nothing", "destroy-queued", "cached", "missed", "queued"],
)
def test_a_read_new_is_kept_while_a_new_can_still_come(
    cache: int, missed: int, queued: int, kept: bool
) -> None:
    state = _state(cache, missed, queued)
    (record,) = forget_read_news(state.kernel, state.ghost).records
    assert bool(record.seen[0].got & IPCT_NEW) == kept
    # The search with NEWS keeps it whatever comes (`new-before-destroy` reads it at every
    # DESTROY).
    config = small("2.6.31")
    with_news = Canonicaliser(config, RECEIPTS_ONLY | NEWS, slots=False, flows=False)
    news_state = state._replace(ghost=state.ghost._replace(level=RECEIPTS_ONLY | NEWS))
    (record,) = with_news(news_state).ghost.records
    assert record.seen[0].got & IPCT_NEW
