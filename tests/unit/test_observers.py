"""The ghost's observer records (models/observers.py): what is kept of each conntrack instance,
for how long, at which level, and that the bounded records give every property the same answer
as the complete history."""

from __future__ import annotations

import random
from dataclasses import replace
from functools import cache

import pytest

from helpers import PLAIN, RELIABLE, new, new_confirmed, one_message_queues, run, step
from nfct_spec.checking import finding_on_step
from nfct_spec.engines.sampling import quiet_slice
from nfct_spec.models import observers
from nfct_spec.models.bits import IPCT_DESTROY, IPCT_NEW
from nfct_spec.models.config import Config
from nfct_spec.models.observers import (
    FRESH,
    FULL,
    HISTORY,
    IDS,
    KERNEL,
    OBLIGATIONS,
    RECEIPTS,
    Ghost,
    Record,
    Seen,
)
from nfct_spec.models.presets import preset
from nfct_spec.models.registry import Step, apply, successors
from nfct_spec.models.state import Kernel, State, evolve, initial_state
from nfct_spec.spec.catalogue import CATALOGUE
from nfct_spec.spec.fairness import obligation_broken
from nfct_spec.spec.properties import find_record

READ_D = step("env_recv", listener="conntrackd")
READ_L = step("env_recv", listener="logger")
D, L = 0, 1
"""Listener indexes: the reliable `conntrackd` and the plain `logger`."""


def config(variant: str = "2.6.31", **changes: object) -> Config:
    base = Config(
        variant=variant,
        nf_conntrack_max=0,
        flows=3,
        slots=4,
        listeners=(RELIABLE, PLAIN),
        events_retry_timeout=3,
        ct_timeout=2,
        listener_churn=True,
    )
    return base.with_(**changes)


def delete(flow: int) -> Step:
    return step("ctnetlink_del_conntrack", flow=flow, requester="conntrack")


def at(level: int, cfg: Config, *steps: Step) -> State:
    """The state after `steps`, keeping the observers of `level`."""
    return run(cfg, *steps, start=initial_state(cfg, level))


LOST_BY_LOGGER = (*new_confirmed(0, 0), READ_D, delete(0))
"""A conntrack freed with its DESTROY queued at conntrackd while the logger, full with its NEW,
dropped the DESTROY (2.6.31: a listener without BE does not fail the send)."""


# --- how long a freed instance is kept --------------------------------------------------------


def test_a_freed_conntracks_record_is_in_ghost_freed_right_after_the_step() -> None:
    cfg = config()
    before = at(FULL, cfg, new(0, 0))
    after = run(cfg, step("destroy_conntrack", slot=0), start=before)
    (freed,) = after.ghost.freed
    assert (freed.slot, freed.flow, freed.live) == (0, 0, False)
    assert freed == evolve(before.ghost.records[0], live=False), "the complete record"
    assert after.ghost.records == (), "nothing of it is queued: it is forgotten at once"


def test_a_freed_record_is_gone_after_the_next_step_whatever_the_step() -> None:
    cfg = config()
    freed = at(FULL, cfg, new(0, 0), step("destroy_conntrack", slot=0))
    assert freed.ghost.freed
    assert run(cfg, new(1, 1), start=freed).ghost.freed == ()
    for next_step, successor in successors(cfg, freed):
        assert successor.ghost.freed == (), next_step


def test_a_step_that_frees_two_conntracks_leaves_both_records() -> None:
    cfg = config("2.6.30")
    state = at(
        FULL,
        cfg,
        *new_confirmed(0, 0),
        *new_confirmed(1, 1),
        step("nf_conntrack_flush_report", requester="conntrack", order=(1, 0)),
    )
    assert sorted(r.slot for r in state.ghost.freed) == [0, 1]


def test_with_receipts_a_freed_instance_with_a_queued_message_stays_tracked_stripped() -> None:
    cfg = config()
    state = at(FULL, cfg, *LOST_BY_LOGGER)
    (complete,) = state.ghost.freed
    assert complete.reporting and complete.died
    assert complete.seen[D].has_destroy and complete.seen[L].dropped == IPCT_DESTROY
    kept = find_record(state, complete.uid)
    assert kept is not None and not kept.live
    assert (kept.pending, kept.reporting, kept.died) == (0, False, False)
    assert kept.seen[D] == Seen(owed=True, got=IPCT_NEW), "the obligations are settled"
    assert kept.seen[L] == Seen(owed=True), "what a later read can still be checked against"
    assert kept.generated == complete.generated, "may-coalesce reads what was generated"
    assert complete.uid in state.ghost.deaths


def test_a_stripped_instance_is_forgotten_once_its_last_queued_message_is_read() -> None:
    cfg = config()
    state = at(FULL, cfg, *LOST_BY_LOGGER, READ_D)
    uid = state.kernel.sockets[L].queue[0].uid
    kept = find_record(state, uid)
    assert kept is not None and kept.seen[D] == FRESH, "conntrackd holds nothing of it now"
    state = run(cfg, READ_L, start=state)
    assert state.kernel.sockets[L].queue, "the first read returns ENOBUFS"
    assert find_record(state, uid) is not None
    state = run(cfg, READ_L, start=state)
    assert find_record(state, uid) is None and uid not in state.ghost.deaths
    assert state.ghost.records == ()


def test_closing_the_last_socket_that_holds_a_message_forgets_the_instance() -> None:
    cfg = config()
    state = at(FULL, cfg, *LOST_BY_LOGGER, READ_D)
    state = run(cfg, step("env_listener_close", listener="logger"), start=state)
    assert state.ghost.records == () and state.ghost.deaths == ()


def test_without_receipts_a_freed_instance_is_forgotten_at_once_even_with_queued_messages() -> None:
    cfg = config()
    state = at(OBLIGATIONS, cfg, *LOST_BY_LOGGER)
    assert state.kernel.sockets[L].queue and state.ghost.freed
    assert state.ghost.records == ()


def test_below_receipts_an_instances_uid_is_its_slot() -> None:
    cfg = config()
    state = at(OBLIGATIONS, cfg, new(0, 2), new(1, 0))
    assert [(r.uid, r.slot) for r in state.ghost.records] == [(0, 0), (2, 2)]
    assert state.ghost.next_uid == 0


def test_with_receipts_uids_number_the_instances_in_creation_order() -> None:
    cfg = config()
    state = at(FULL, cfg, new(0, 2), new(1, 0))
    assert [(r.uid, r.slot) for r in state.ghost.records] == [(0, 2), (1, 0)]
    assert state.ghost.next_uid == 2


# --- relation flags ---------------------------------------------------------------------------


def test_reading_a_destroy_marks_every_conntrack_that_died_earlier_as_later() -> None:
    """The may-reorder observer: conntrack 0 dies first, conntrack 1 second, and conntrackd
    reads 1's DESTROY (its retry fired first) while 0's is still owed."""
    cfg = one_message_queues(preset("ci", "2.6.31"))
    state = at(
        FULL,
        cfg,
        *new_confirmed(0, 0),
        *new_confirmed(1, 1),
        delete(0),
        delete(1),
        READ_D,
        step("death_by_event", slot=1),
    )
    first, second = state.ghost.records
    assert state.ghost.deaths == (first.uid, second.uid)
    assert not first.seen[D].later
    state = run(cfg, READ_D, start=state)
    (first,) = state.ghost.records
    assert first.seen[D].later and not first.seen[L].later


def test_reading_a_destroy_in_death_order_sets_no_later_flag() -> None:
    cfg = one_message_queues(preset("ci", "2.6.31"))
    state = at(
        FULL,
        cfg,
        *new_confirmed(0, 0),
        *new_confirmed(1, 1),
        delete(0),
        delete(1),
        READ_D,
        step("death_by_event", slot=0),
        READ_D,
    )
    assert not any(r.seen[D].later for r in state.ghost.records)


REUSE = (*new_confirmed(0, 0), READ_D, READ_L, delete(0), READ_D, READ_L)
"""Conntrack 0 of flow 0 reported NEW and DESTROY to both listeners and was freed."""


def test_a_conntrack_in_the_memory_of_a_read_one_with_the_same_tuple_starts_with_reuse() -> None:
    cfg = config()
    freed = at(FULL, cfg, *REUSE)
    assert freed.ghost.previous[0] == (0, 0b11) and freed.ghost.records == ()
    same = run(cfg, new(0, 0), start=freed).record(0)
    assert same is not None and same.seen[D].reuse and same.seen[L].reuse


@pytest.mark.parametrize(("flow", "slot"), [(1, 0), (0, 1)])
def test_another_tuple_or_another_slot_is_no_reuse(flow: int, slot: int) -> None:
    record = run(config(), new(flow, slot), start=at(FULL, config(), *REUSE)).record(slot)
    assert record is not None and not record.seen[D].reuse and not record.seen[L].reuse


def test_reading_the_freed_conntrack_after_the_next_one_is_allocated_marks_the_next_as_reuse() -> (
    None
):
    """The logger reads the freed conntrack's NEW only once the next conntrack of its tuple
    was allocated in its memory."""
    cfg = config()
    state = at(FULL, cfg, *LOST_BY_LOGGER, READ_D, new(0, 0), READ_L)
    fresh = state.record(0)
    assert fresh is not None and fresh.seen[D].reuse and not fresh.seen[L].reuse
    state = run(cfg, READ_L, start=state)
    fresh = state.record(0)
    assert fresh is not None and fresh.seen[L].reuse


def test_reuse_is_observed_only_at_the_ids_level() -> None:
    cfg = config()
    level = FULL & ~IDS
    state = at(level, cfg, *REUSE, new(0, 0))
    assert state.ghost.previous == ()
    fresh = state.record(0)
    assert fresh is not None and not any(s.reuse for s in fresh.seen)


def test_reading_a_newer_instance_with_the_same_tuple_and_id_marks_the_older_as_newer() -> None:
    """With the complete history kept, the logger reads conntrack A's NEW and DESTROY, then the
    NEW of B, allocated in A's memory for the same flow: A learns that a newer one was read."""
    cfg = config("2.6.30", listeners=(RELIABLE, replace(PLAIN, capacity=3)))
    state = at(FULL | HISTORY, cfg, *new_confirmed(0, 0), delete(0), *new_confirmed(0, 0))
    a, b = state.ghost.records
    assert (a.slot, a.flow) == (b.slot, b.flow) and a.uid < b.uid and not a.live
    state = run(cfg, READ_L, READ_L, READ_L, start=state)
    a, b = state.ghost.records
    assert a.seen[L].newer and not a.seen[D].newer
    assert b.seen[L].reuse and not b.seen[L].newer


def test_newer_is_set_on_a_tracked_older_instance_by_the_read_hook() -> None:
    """observers.read() on its own: the older instance still has a message queued at the
    reader, which then reads a message of the newer one."""
    ghost = Ghost(level=FULL, previous=((-1, 0),))
    ghost = observers.allocated(ghost, 0, 0, [True])
    ghost = observers.freed(ghost, 0, [frozenset({0})])
    ghost = observers.settle(observers.allocated(ghost, 0, 0, [True]))
    ghost = observers.read(ghost, 0, 1, IPCT_NEW)
    older, newer = ghost.records
    assert older.seen[0].newer and not newer.seen[0].newer
    assert newer.seen[0].got == IPCT_NEW and not newer.seen[0].reuse, "it read nothing of A"


# --- listeners that come and go ---------------------------------------------------------------


def test_a_listener_that_reopens_starts_with_a_fresh_seen_for_every_conntrack() -> None:
    cfg = config()
    state = at(FULL, cfg, *new_confirmed(0, 0), READ_L)
    record = state.record(0)
    assert record is not None and record.seen[L] == Seen(owed=True, got=IPCT_NEW)
    state = run(
        cfg,
        step("env_listener_close", listener="logger"),
        step("env_listener_open", listener="logger"),
        start=state,
    )
    reopened = state.record(0)
    assert reopened is not None and reopened.seen[L] == FRESH
    assert reopened.seen[D] == record.seen[D], "the other listener keeps what it saw"


def test_a_listener_that_reopens_has_read_nothing_in_any_slot() -> None:
    cfg = config()
    state = at(FULL, cfg, *REUSE)
    state = run(
        cfg,
        step("env_listener_close", listener="logger"),
        step("env_listener_open", listener="logger"),
        start=state,
    )
    assert state.ghost.previous[0] == (0, 0b01)
    fresh = run(cfg, new(0, 0), start=state).record(0)
    assert fresh is not None and fresh.seen[D].reuse and not fresh.seen[L].reuse


def test_a_conntrack_created_while_a_listener_is_closed_is_not_owed_to_it() -> None:
    cfg = config()
    state = at(FULL, cfg, step("env_listener_close", listener="logger"), new(0, 0))
    record = state.record(0)
    assert record is not None and record.seen[D].owed and not record.seen[L].owed


# --- levels -----------------------------------------------------------------------------------


RUN = (
    *new_confirmed(0, 0),
    *new_confirmed(1, 1),
    delete(0),
    READ_D,
    READ_L,
    step("death_by_event", slot=0),
    READ_D,
    delete(1),
    READ_D,
    READ_L,
    *new_confirmed(0, 0),
    READ_D,
    READ_L,
    step("env_tick"),
)
"""A run that frees conntracks with messages queued and allocates a freed slot again."""


def _without_uids(kernel: Kernel) -> Kernel:
    sockets = tuple(
        evolve(sock, queue=tuple(evolve(m, uid=-1) for m in sock.queue)) for sock in kernel.sockets
    )
    return evolve(kernel, sockets=sockets)


def test_at_level_kernel_nothing_is_kept_and_messages_name_no_instance() -> None:
    cfg = config()
    state = initial_state(cfg, KERNEL)
    for s in RUN:
        state = run(cfg, s, start=state)
        assert state.ghost == Ghost(level=KERNEL), s
        assert all(m.uid == -1 for sock in state.kernel.sockets for m in sock.queue), s


@pytest.mark.parametrize(
    "level", [OBLIGATIONS, RECEIPTS, IDS, OBLIGATIONS | RECEIPTS, FULL, FULL | HISTORY]
)
def test_the_observers_kept_never_change_the_kernel_state(level: int) -> None:
    cfg = config()
    bare = at(KERNEL, cfg, *RUN)
    observed = at(level, cfg, *RUN)
    assert _without_uids(observed.kernel) == bare.kernel


def test_history_never_forgets_an_instance() -> None:
    cfg = config()
    state = initial_state(cfg, FULL | HISTORY)
    freed: list[Record] = []
    for s in RUN:
        state = run(cfg, s, start=state)
        freed.extend(state.ghost.freed)
        for record in freed:
            kept = find_record(state, record.uid)
            assert kept is not None, (s, record)
            assert kept._replace(seen=()) == record._replace(seen=()), "kept whole"
            for before, now in zip(record.seen, kept.seen, strict=True):
                assert before.got & ~now.got == 0, "later reads only add what was read"
                for flag in ("newer", "later", "reuse"):
                    assert getattr(now, flag) >= getattr(before, flag), "flags are only raised"
                assert before._replace(got=0, newer=False, later=False, reuse=False) == (
                    now._replace(got=0, newer=False, later=False, reuse=False)
                )
    assert len(freed) == 2 and len(state.ghost.records) == 3
    assert state.ghost.next_uid == 3 and state.ghost.deaths == (0, 1)


def test_without_history_a_run_keeps_only_the_live_instances_once_nothing_is_queued() -> None:
    cfg = config()
    state = at(FULL, cfg, *RUN)
    assert not any(sock.queue for sock in state.kernel.sockets)
    assert [r.live for r in state.ghost.records] == [True]
    assert state.ghost.deaths == ()


# --- bounded observers against the complete history ------------------------------------------


WEIGHTS = {"env_recv": 4, "death_by_event": 2, "ecache_work": 2, "ctnetlink_del_conntrack": 2}
"""Walks favour reads, retries and deletions, which the receipts observers are about."""


def _config(variant: str, quiet: bool) -> Config:
    config = preset("ci", variant)
    return quiet_slice(config) if quiet else config


@cache
def _walks(
    variant: str, quiet: bool, runs: int = 20, length: int = 40
) -> tuple[tuple[Step, ...], ...]:
    """Random runs on the `ci` preset or its quiet slice (the same every time), as steps."""
    cfg = _config(variant, quiet)
    rng = random.Random(f"observers-{variant}-{quiet}")
    out = []
    for _ in range(runs):
        state = initial_state(cfg, FULL | HISTORY)
        steps: list[Step] = []
        for _ in range(length):
            by_action: dict[str, list[Step]] = {}
            for option, _successor in successors(cfg, state):
                by_action.setdefault(option.action, []).append(option)
            if not by_action:
                break
            names = sorted(by_action)
            name = rng.choices(names, [WEIGHTS.get(n, 1) for n in names])[0]
            chosen = rng.choice(by_action[name])
            steps.append(chosen)
            successor = apply(cfg, state, chosen)
            assert successor is not None
            state = successor
        out.append(tuple(steps))
    return tuple(out)


PROPS = [p for p in CATALOGUE if p.kind != "liveness" and p.check is not None]


@pytest.mark.parametrize("quiet", [False, True], ids=["ci", "quiet"])
@pytest.mark.parametrize("variant", ["2.6.30", "2.6.31", "6.x"])
def test_every_property_reads_the_same_on_bounded_observers_as_on_the_complete_history(
    variant: str, quiet: bool
) -> None:
    """Each property is evaluated on the observers it declares (as a search of it alone keeps
    them), on all of them, and on the complete history: the findings agree on every step, and
    so does the liveness obligation checked on every step of a drain."""
    cfg = _config(variant, quiet)
    levels = sorted({FULL, *(p.observes for p in PROPS), OBLIGATIONS})
    for steps in _walks(variant, quiet):
        history = initial_state(cfg, FULL | HISTORY)
        bounded = {level: initial_state(cfg, level) for level in levels}
        for s in steps:
            post_history = apply(cfg, history, s)
            assert post_history is not None
            post = {}
            for level, pre in bounded.items():
                successor = apply(cfg, pre, s)
                assert successor is not None, f"{s} not enabled at level {level}"
                post[level] = successor
            for prop in PROPS:
                expected = finding_on_step(prop, cfg, history, s, post_history)
                for level in (FULL, prop.observes):
                    got = finding_on_step(prop, cfg, bounded[level], s, post[level])
                    assert got == expected, (prop.id, level, steps, s)
            expected_broken = obligation_broken(cfg, history, s, post_history)
            assert obligation_broken(cfg, bounded[OBLIGATIONS], s, post[OBLIGATIONS]) == (
                expected_broken
            ), (steps, s)
            history, bounded = post_history, post


@pytest.mark.parametrize("variant", ["2.6.31", "6.x"])
def test_the_walks_reuse_memory_and_show_what_listeners_read(variant: str) -> None:
    """The comparison above is only worth something if the walks free and reallocate slots
    and reach the findings that the receipts and ids observers decide."""
    cfg = _config(variant, quiet=True)
    frees = reuses = 0
    found: set[str] = set()
    for steps in _walks(variant, quiet=True):
        state = initial_state(cfg)
        used: set[int] = set()
        for s in steps:
            successor = apply(cfg, state, s)
            assert successor is not None
            frees += len(successor.ghost.freed)
            if s.action == "nf_conntrack_in" and s.kwargs["packet"] == "new":
                slot = s.kwargs["slot"]
                assert isinstance(slot, int)
                reuses += slot in used
                used.add(slot)
            found.update(p.id for p in PROPS if finding_on_step(p, cfg, state, s, successor))
            state = successor
    assert frees >= 20 and reuses >= 10, (frees, reuses)
    assert {"may-duplicate", "may-reorder", "id-reuse", "new-before-destroy"} <= found
