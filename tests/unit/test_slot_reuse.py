"""Memory slots are reused: a run may allocate many more conntracks than there are slots, and
stays within them; the free slots an allocation is offered are one fresh slot plus every
free slot that something still names."""

from __future__ import annotations

import pytest

from helpers import PLAIN, RELIABLE, confirm, live, new, new_confirmed, run, step
from nfct_spec.models.canonical import Canonicaliser
from nfct_spec.models.config import Config, ListenerConfig
from nfct_spec.models.observers import FULL, IDS, KERNEL, OBLIGATIONS, RECEIPTS
from nfct_spec.models.registry import BY_NAME, Step, apply, enabled_steps, free_slots
from nfct_spec.models.state import State, initial_state
from nfct_spec.spec.properties import count_exact, one_place, table_bound

READ_D = step("env_recv", listener="conntrackd")
READ_L = step("env_recv", listener="logger")


def config(variant: str = "2.6.31", **changes: object) -> Config:
    base = Config(
        variant=variant,
        nf_conntrack_max=2,
        flows=3,
        slots=2,
        listeners=(RELIABLE, PLAIN),
        events_retry_timeout=2,
        ct_timeout=1,
    )
    return base.with_(**changes)


def delete(flow: int) -> Step:
    return step("ctnetlink_del_conntrack", flow=flow, requester="conntrack")


def lifetime(flow: int, slot: int) -> tuple[Step, ...]:
    """A conntrack is created in `slot`, reports NEW, is deleted and reports DESTROY, and both
    listeners read everything: the slot is free again and nothing names it."""
    return (*new_confirmed(flow, slot), READ_D, READ_L, delete(flow), READ_D, READ_L)


@pytest.mark.parametrize("variant", ["2.6.30", "2.6.31", "6.x"])
@pytest.mark.parametrize("level", [KERNEL, OBLIGATIONS, FULL])
def test_many_more_conntracks_than_slots_over_a_run_stay_within_the_slots(
    variant: str, level: int
) -> None:
    """One conntrack lives in slot 1 all along while slot 0 is allocated, freed and
    allocated again, forty times, for the same flow and for others."""
    cfg = config(variant)
    state = run(cfg, *new_confirmed(2, 1), READ_D, READ_L, start=initial_state(cfg, level))
    canonical = Canonicaliser(cfg, level)
    after_each: set[State] = set()
    allocations = 1
    for cycle in range(40):
        for s in lifetime(cycle % 2, 0):
            state = run(cfg, s, start=state)
            assert len(state.kernel.cts) == cfg.slots
            assert state.kernel.ct_count <= cfg.slots
            assert count_exact(cfg, state) and one_place(cfg, state) and table_bound(cfg, state)
        allocations += 1
        assert list(live(state)) == [1], "the long-lived conntrack is still there"
        after_each.add(canonical(state))
    assert allocations > 10 * cfg.slots
    assert len(after_each) == 1, "every cycle ends in the same state, up to renaming"


def test_the_freed_slot_is_offered_again_and_its_id_reused() -> None:
    cfg = config()
    state = run(cfg, *lifetime(0, 0), start=initial_state(cfg, KERNEL))
    new_flow_0 = [s for s, _ in enabled_steps(cfg, state, BY_NAME["nf_conntrack_in"])]
    assert step("nf_conntrack_in", flow=0, packet="new", slot=0) in new_flow_0
    again = run(cfg, new(0, 0), confirm(0), start=state)
    assert [(m.slot, m.flow) for m in again.kernel.sockets[0].queue] == [(0, 0)]


def test_with_every_slot_in_use_no_new_conntrack_is_offered() -> None:
    cfg = config(nf_conntrack_max=0)
    state = run(cfg, new(0, 0), new(1, 1), start=initial_state(cfg, KERNEL))
    assert free_slots(state) == []
    offered = [s for s, _ in enabled_steps(cfg, state, BY_NAME["nf_conntrack_in"])]
    assert not [s for s in offered if s.kwargs["packet"] == "new"]


# --- free_slots -------------------------------------------------------------------------------


def big(variant: str = "2.6.31", **changes: object) -> Config:
    return config(variant, **{"slots": 5, "nf_conntrack_max": 0, **changes})


@pytest.mark.parametrize("level", [KERNEL, OBLIGATIONS, FULL])
def test_in_the_initial_state_one_free_slot_stands_for_all(level: int) -> None:
    assert free_slots(initial_state(big(), level)) == [0]


@pytest.mark.parametrize("level", [KERNEL, OBLIGATIONS])
def test_allocated_slots_are_never_offered_and_the_lowest_unnamed_one_is(level: int) -> None:
    cfg = big()
    state = run(cfg, new(0, 0), new(1, 3), start=initial_state(cfg, level))
    assert free_slots(state) == [1]


@pytest.mark.parametrize("level", [KERNEL, OBLIGATIONS, RECEIPTS])
def test_a_free_slot_that_a_queued_message_still_names_is_offered_as_well(level: int) -> None:
    """2.6.30 frees the conntrack in slot 3 although both listeners still hold its NEW: a new
    conntrack in slot 3 would reuse the id that message carries, one elsewhere would not."""
    cfg = big("2.6.30")
    state = run(cfg, *new_confirmed(0, 3), delete(0), start=initial_state(cfg, level))
    assert state.ct(3) is None and state.kernel.sockets[0].queue[0].slot == 3
    assert free_slots(state) == [0, 3]
    state = run(cfg, step("env_recv", listener="conntrackd"), start=state)
    assert free_slots(state) == [0, 3], "the logger still holds the NEW"
    state = run(cfg, READ_L, READ_L, start=state)
    assert not any(s.queue for s in state.kernel.sockets)
    assert free_slots(state) == [0], "nothing names slot 3 any more"


def test_every_free_slot_a_message_names_is_offered_with_one_fresh_slot() -> None:
    cfg = big("2.6.30", listeners=(RELIABLE, ListenerConfig("logger", ("new",), capacity=3)))
    state = run(
        cfg,
        *new_confirmed(0, 4),
        *new_confirmed(1, 2),
        new(2, 0),
        delete(0),
        delete(1),
        start=initial_state(cfg, KERNEL),
    )
    assert list(live(state)) == [0]
    assert {m.slot for m in state.kernel.sockets[1].queue} == {4, 2}
    assert free_slots(state) == [1, 2, 4]


def test_the_slot_reserved_by_a_waiting_allocation_is_not_offered() -> None:
    cfg = big(nf_conntrack_max=1)
    state = run(cfg, *new_confirmed(0, 0), new(1, 1), start=initial_state(cfg, KERNEL))
    assert state.kernel.alloc_slot == 1
    assert free_slots(state) == [2]


def test_at_the_ids_level_a_slot_remembered_for_its_last_conntrack_is_offered() -> None:
    """Once a listener read a conntrack of slot 3, a new conntrack of the same tuple in slot 3
    is one it cannot tell apart: the slot stays distinguishable after every message is read."""
    cfg = big()
    state = run(cfg, *lifetime(0, 3), start=initial_state(cfg, IDS | RECEIPTS | OBLIGATIONS))
    assert not any(s.queue for s in state.kernel.sockets)
    assert state.ghost.previous[3] == (0, 0b11)
    assert free_slots(state) == [0, 3]
    below = run(cfg, *lifetime(0, 3), start=initial_state(cfg, RECEIPTS | OBLIGATIONS))
    assert free_slots(below) == [0]


def test_the_new_packet_domain_is_the_free_slots_for_a_flow_without_a_conntrack() -> None:
    cfg = big("2.6.30")
    state = run(cfg, *new_confirmed(0, 3), delete(0), start=initial_state(cfg, KERNEL))
    offered = [
        s.kwargs["slot"]
        for s, _ in enabled_steps(cfg, state, BY_NAME["nf_conntrack_in"])
        if s.kwargs["flow"] == 1
    ]
    assert offered == free_slots(state) == [0, 3]
    for slot in offered:
        assert isinstance(slot, int)
        successor = apply(cfg, state, new(1, slot))
        assert successor is not None and successor.kernel.unconfirmed == (slot,)
