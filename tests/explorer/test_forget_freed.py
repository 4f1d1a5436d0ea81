"""Forgetting freed instances that no property can still fail on (`forget_harmless_freed`): at
the receipts level, alone or with NEWS, a freed instance whose queued messages cannot make
`nothing-after-destroy` or `identity-unique` fail (with NEWS, nor `may-duplicate` or
`new-before-destroy`) is forgotten and its messages made anonymous. Compared with the same
search without it: the same verdicts and findings, in fewer states; and, on hand-built states,
the records that a read can still make fail are kept."""

from __future__ import annotations

import pytest
from explorer_configs import (
    assert_same_findings,
    refilling,
    small,
    two_alive,
    with_unreliable,
)

from nfct_spec.engines import explorer
from nfct_spec.engines.explorer import explore, search_groups
from nfct_spec.models.bits import IPCT_DESTROY, IPCT_NEW, IPCT_STATUS
from nfct_spec.models.canonical import ANONYMOUS, Canonicaliser, forget_harmless_freed
from nfct_spec.models.config import Config
from nfct_spec.models.observers import (
    NEWS,
    OBLIGATIONS,
    RECEIPTS,
    Ghost,
    Record,
    Seen,
)
from nfct_spec.models.state import Kernel, Message, Socket, initial_state
from nfct_spec.spec.catalogue import CATALOGUE

LEVEL = OBLIGATIONS | RECEIPTS


def _configs(variant: str, level: int) -> list[Config]:
    """Small configs, with one or two listeners (one without BE, with one flow: with two, the
    2.6.31 receipts searches alone took 17 s of the suite more); for the receipts search alone
    also two conntracks alive at once and a queue refilled by expectations (the search with
    NEWS keeps more, and is run on the first two only, to keep the suite short)."""
    configs = [small(variant), with_unreliable(variant, flows=1)]
    if level & NEWS:
        return configs
    return [*configs, two_alive(variant), refilling(variant)]


def _keeping(config: Config, level: int, **options: bool) -> Canonicaliser:
    return Canonicaliser(config, level, **options, forget_freed=False)


@pytest.mark.parametrize("level", [LEVEL, LEVEL | NEWS], ids=["receipts", "news"])
@pytest.mark.parametrize("variant", ["2.6.30", "2.6.31", "6.x"])
def test_forgetting_changes_no_verdict_of_the_receipts_searches(
    variant: str, level: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    fewer = 0
    for config in _configs(variant, level):
        props = [p for p in CATALOGUE if p.kind != "liveness" and p.expected_for(config) != "n/a"]
        group = dict(search_groups(props))[level]
        if level & NEWS:
            # Searched to the end, not stopped at the last finding, so that every state counts.
            group = [*group, *dict(search_groups(props))[LEVEL]]
        forgetting = explore(config, group, level=level)
        with monkeypatch.context() as patch:
            patch.setattr(explorer, "Canonicaliser", _keeping)
            keeping = explore(config, group, level=level)
        assert forgetting.stats.complete and keeping.stats.complete
        assert forgetting.stats.states <= keeping.stats.states
        fewer += forgetting.stats.states < keeping.stats.states
        assert_same_findings(group, forgetting, keeping)
    assert fewer, "some config frees instances with messages still queued"


def _state(queue: tuple[Message, ...], seen: Seen, live: bool = False) -> tuple[Kernel, Ghost]:
    config = small("2.6.31")
    kernel = initial_state(config, LEVEL).kernel
    sock = Socket(open=True, queue=queue)
    record = Record(uid=0, slot=0, flow=0, live=live, seen=(seen,))
    return kernel._replace(sockets=(sock,)), Ghost(level=LEVEL, next_uid=1, records=(record,))


DESTROY = Message(slot=0, flow=0, bits=IPCT_DESTROY, uid=0)
UPDATE = Message(slot=0, flow=0, bits=IPCT_STATUS, uid=0)
NEW = Message(slot=0, flow=0, bits=IPCT_NEW, uid=0)


@pytest.mark.parametrize(
    ("queue", "seen", "kept", "kept_with_news"),
    [
        ((DESTROY,), Seen(owed=True), False, True),
        ((DESTROY,), Seen(owed=True, got=IPCT_NEW), False, False),
        ((DESTROY,), Seen(owed=False), False, False),
        ((NEW, DESTROY), Seen(owed=True), False, False),
        ((NEW, DESTROY), Seen(owed=True, got=IPCT_NEW), False, True),
        ((UPDATE, DESTROY), Seen(owed=True, got=IPCT_NEW), False, False),
        ((DESTROY, UPDATE), Seen(owed=True, got=IPCT_NEW), True, True),
        ((UPDATE,), Seen(owed=True, got=IPCT_NEW | IPCT_DESTROY), True, True),
        ((DESTROY,), Seen(owed=True, got=IPCT_NEW | IPCT_DESTROY), False, True),
        ((DESTROY,), Seen(owed=True, got=IPCT_NEW, newer=True), True, True),
    ],
    ids=[
        "destroy-without-new",
        "destroy",
        "destroy-not-owed",
        "new-destroy",
        "new-again",
        "update-destroy",
        "destroy-update",
        "read-destroy-update",
        "destroy-again",
        "newer",
    ],
)
def test_a_freed_instance_is_kept_while_a_read_can_still_fail(
    queue: tuple[Message, ...], seen: Seen, kept: bool, kept_with_news: bool
) -> None:
    kernel, ghost = _state(queue, seen)
    after_kernel, after_ghost = forget_harmless_freed(kernel, ghost)
    assert bool(forget_harmless_freed(kernel, ghost, news=True)[1].records) == kept_with_news
    assert bool(after_ghost.records) == kept
    if kept:
        assert (after_kernel, after_ghost) == (kernel, ghost)
    else:
        assert after_kernel.sockets[0].queue == (ANONYMOUS,) * len(queue)


def test_live_instances_and_other_levels_are_left_alone() -> None:
    kernel, ghost = _state((NEW, DESTROY), Seen(owed=True), live=True)
    assert forget_harmless_freed(kernel, ghost) == (kernel, ghost)
    kernel, ghost = _state((DESTROY,), Seen(owed=True))
    config = small("2.6.31")
    with_news = Canonicaliser(config, LEVEL | NEWS, slots=False, flows=False)
    state = initial_state(config, LEVEL | NEWS)
    state = state._replace(kernel=kernel, ghost=ghost._replace(level=LEVEL | NEWS))
    assert with_news(state).ghost.records, "with NEWS its DESTROY read without NEW fails"
    receipts = Canonicaliser(config, LEVEL, slots=False, flows=False)
    assert not receipts(state._replace(ghost=ghost)).ghost.records
