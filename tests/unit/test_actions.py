"""One test per kernel behaviour the actions model, named as the behaviour."""

from __future__ import annotations

from dataclasses import replace

import pytest

from helpers import PLAIN, RELIABLE, confirm, ct_at, live, new, new_confirmed, packet, run, step
from nfct_spec.models.bits import IPCT_DESTROY, IPCT_NEW, IPCT_STATUS
from nfct_spec.models.config import Config
from nfct_spec.models.registry import StepError, apply
from nfct_spec.models.state import CRASH_MOD_ZERO, NO_TIMER, initial_state


def config(variant: str = "2.6.31", **changes: object) -> Config:
    base = Config(
        variant=variant,
        nf_conntrack_max=2,
        flows=3,
        slots=5,
        listeners=(RELIABLE, PLAIN),
        events_retry_timeout=3,
        ct_timeout=2,
    )
    return base.with_(**changes)


def test_new_flow_is_allocated_on_the_unconfirmed_list_with_new_cached() -> None:
    state = run(config(), new(0, 0))
    ct = ct_at(state, 0)
    assert live(state) == {0: ct} and state.kernel.ct_count == 1
    assert state.kernel.unconfirmed == (0,)
    assert ct.flow == 0 and ct.cache == IPCT_NEW and ct.timer == NO_TIMER


def test_new_flow_gets_whichever_free_memory_slot_the_slab_hands_out() -> None:
    cfg = config()
    state = run(cfg, new(1, 3))
    assert list(live(state)) == [3] and state.kernel.unconfirmed == (3,)
    assert apply(cfg, state, new(2, 3)) is None, "slot 3 is in use"


def test_confirm_hashes_the_conntrack_starts_its_timer_and_sends_new() -> None:
    state = run(config(), *new_confirmed(0, 0))
    ct = ct_at(state, 0)
    assert state.kernel.hash == (0,) and not state.kernel.unconfirmed
    assert ct.timer == 2 and ct.cache == 0
    assert [m.bits for s in state.kernel.sockets for m in s.queue] == [IPCT_NEW, IPCT_NEW]


def test_failed_destroy_moves_ct_to_dying_list() -> None:
    cfg = config()
    state = run(
        cfg, *new_confirmed(0, 0), step("ctnetlink_del_conntrack", flow=0, requester="conntrack")
    )
    ct = ct_at(state, 0)
    assert state.kernel.dying == (0,) and not state.kernel.hash
    assert state.kernel.ct_count == 1
    assert ct.pid == cfg.portid("conntrack") and ct.timer == cfg.events_retry_timeout - 1


def test_failed_destroy_frees_the_conntrack_in_2_6_30() -> None:
    state = run(
        config("2.6.30"),
        *new_confirmed(0, 0),
        step("ctnetlink_del_conntrack", flow=0, requester="conntrack"),
    )
    assert live(state) == {} and state.kernel.ct_count == 0


def test_death_by_event_retries_while_the_queue_is_full_and_frees_on_success() -> None:
    cfg = config()
    dying = run(
        cfg, *new_confirmed(0, 0), step("ctnetlink_del_conntrack", flow=0, requester="conntrack")
    )
    again = run(cfg, step("death_by_event", slot=0), start=dying)
    assert again.kernel.dying == (0,) and again.ct(0) is not None
    drained = run(
        cfg, step("env_recv", listener="conntrackd"), step("death_by_event", slot=0), start=again
    )
    assert live(drained) == {} and drained.kernel.ct_count == 0
    assert drained.kernel.sockets[0].queue[-1].bits & IPCT_DESTROY


def test_retry_timeout_zero_crashes_at_the_next_failed_destroy() -> None:
    cfg = config(events_retry_timeout=0)
    state = run(
        cfg, *new_confirmed(0, 0), step("ctnetlink_del_conntrack", flow=0, requester="conntrack")
    )
    assert state.kernel.crashed == CRASH_MOD_ZERO
    assert state.kernel.dying == (0,) and state.ct(0) is not None
    assert apply(cfg, state, step("env_recv", listener="conntrackd")) is None


def test_timer_expiry_runs_death_by_timeout_only_at_zero() -> None:
    cfg = config()
    state = run(cfg, *new_confirmed(0, 0), step("env_recv", listener="conntrackd"))
    assert apply(cfg, state, step("death_by_timeout", slot=0)) is None
    state = run(cfg, step("env_tick"), step("env_tick"), start=state)
    assert apply(cfg, state, step("env_tick")) is None, "an expired timer blocks time"
    state = run(cfg, step("death_by_timeout", slot=0), start=state)
    assert live(state) == {}


def test_early_drop_victim_whose_destroy_fails_stays_counted() -> None:
    cfg = config()
    state = run(
        cfg,
        new(0, 0),
        new(2, 1),
        confirm(1),
        new(1, 2),
    )
    assert state.kernel.alloc_pending == 1 and state.kernel.alloc_slot == 2
    assert state.kernel.ct_count == 3 and list(live(state)) == [0, 1]
    assert apply(cfg, state, step("env_recv", listener="logger")) is None
    state = run(cfg, step("early_drop", victim=1), start=state)
    assert state.kernel.dying == (1,) and state.kernel.ct_count == 3 > cfg.nf_conntrack_max
    assert state.kernel.unconfirmed == (0, 2) and ct_at(state, 2).flow == 1


def test_early_drop_without_a_victim_drops_the_packet() -> None:
    cfg = config(nf_conntrack_max=1)
    state = run(
        cfg,
        new(0, 0),
        new(1, 1),
        step("early_drop", victim=-1),
    )
    assert state.kernel.ct_count == 1 and list(live(state)) == [0]
    assert state.kernel.alloc_pending == -1 and state.kernel.alloc_slot == -1


def test_assured_conntracks_are_not_early_dropped() -> None:
    cfg = config(nf_conntrack_max=1)
    state = run(
        cfg,
        *new_confirmed(0, 0),
        packet(0, "assure"),
        new(1, 1),
    )
    assert apply(cfg, state, step("early_drop", victim=0)) is None


def test_missed_bits_wait_for_a_packet_that_caches_an_event() -> None:
    cfg = config()
    state = run(cfg, *new_confirmed(0, 0), *new_confirmed(1, 1))
    assert ct_at(state, 1).missed == IPCT_NEW
    state = run(
        cfg,
        step("env_recv", listener="conntrackd"),
        packet(1, "plain"),
        start=state,
    )
    assert ct_at(state, 1).missed == IPCT_NEW
    assert not state.kernel.sockets[0].queue, "a plain packet does not retry missed events"


def test_missed_bits_are_sent_with_the_next_event() -> None:
    cfg = config()
    state = run(
        cfg,
        *new_confirmed(0, 0),
        *new_confirmed(1, 1),
        step("env_recv", listener="conntrackd"),
        packet(1, "assure"),
    )
    assert ct_at(state, 1).missed == 0
    assert state.kernel.sockets[0].queue[0].bits == IPCT_NEW | IPCT_STATUS


def test_remembered_pid_skips_missed_bits_in_the_destroy_resend() -> None:
    cfg = config()
    state = run(
        cfg,
        *new_confirmed(0, 0),
        *new_confirmed(1, 1),
        step("ctnetlink_del_conntrack", flow=1, requester="conntrack"),
    )
    ct = state.ct(1)
    assert ct is not None and ct.missed == IPCT_NEW and ct.pid == cfg.portid("conntrack")
    state = run(
        cfg, step("env_recv", listener="conntrackd"), step("death_by_event", slot=1), start=state
    )
    assert state.kernel.sockets[0].queue[0].bits == IPCT_DESTROY


def test_timeout_destroy_failure_ors_destroy_into_missed() -> None:
    cfg = config(ct_timeout=1)
    state = run(cfg, *new_confirmed(0, 0), step("env_tick"), step("death_by_timeout", slot=0))
    ct = state.ct(0)
    assert ct is not None and ct.pid == 0 and ct.missed == IPCT_DESTROY


def test_flush_gives_each_hashed_conntrack_two_attempts() -> None:
    cfg = config(listeners=(RELIABLE, replace(PLAIN, capacity=4)))
    state = run(
        cfg,
        *new_confirmed(0, 0),
        step("nf_conntrack_flush_report", requester="conntrack", order=(0,)),
    )
    assert state.kernel.dying == (0,)
    destroys = [m for m in state.kernel.sockets[1].queue if m.bits & IPCT_DESTROY]
    assert len(destroys) == 2, "kill_report() and death_by_timeout() each send once"


def test_flush_marks_unconfirmed_conntracks_dying_and_they_never_report() -> None:
    cfg = config()
    state = run(
        cfg,
        new(0, 0),
        *new_confirmed(1, 1),
        step("env_recv", listener="conntrackd"),
        step("env_recv", listener="logger"),
        step("nf_conntrack_flush_report", requester="conntrack", order=(1,)),
    )
    assert ct_at(state, 0).dying and list(live(state)) == [0]
    state = run(
        cfg,
        step("env_recv", listener="conntrackd"),
        step("env_recv", listener="logger"),
        confirm(0),
        start=state,
    )
    assert state.kernel.hash == (0,)
    assert not any(s.queue for s in state.kernel.sockets), "no NEW for a dying conntrack"


def test_congested_socket_refuses_until_its_queue_is_empty() -> None:
    plain = replace(PLAIN, capacity=2)
    cfg = config(listeners=(RELIABLE, plain), flows=3, nf_conntrack_max=0)
    state = run(cfg, *new_confirmed(0, 0), *new_confirmed(1, 1), *new_confirmed(2, 2))
    logger = state.kernel.sockets[1]
    assert logger.congested and logger.sk_err and len(logger.queue) == 2 and logger.drops == 1
    state = run(cfg, step("env_recv", listener="logger"), start=state)
    assert state.kernel.sockets[1].sk_err is False and len(state.kernel.sockets[1].queue) == 2
    state = run(
        cfg, step("env_recv", listener="logger"), step("env_recv", listener="logger"), start=state
    )
    assert not state.kernel.sockets[1].congested


def test_no_enobufs_socket_is_never_congested() -> None:
    cfg = config(nf_conntrack_max=0)
    state = run(cfg, *new_confirmed(0, 0), *new_confirmed(1, 1))
    sock = state.kernel.sockets[0]
    assert sock.drops == 1 and not sock.congested and not sock.sk_err


def test_echo_failure_fails_the_send_so_other_listeners_get_duplicates() -> None:
    cfg = config()
    state = run(
        cfg,
        *new_confirmed(0, 0),
        step("env_recv", listener="logger"),
        step("ctnetlink_del_conntrack", flow=0, requester="conntrackd"),
    )
    assert state.kernel.dying == (0,), "the echo to the full requester socket failed"
    assert state.kernel.sockets[1].queue[0].bits & IPCT_DESTROY


def test_nobody_listening_counts_as_delivered() -> None:
    cfg = config(listener_churn=True)
    state = run(
        cfg,
        step("env_listener_close", listener="conntrackd"),
        step("env_listener_close", listener="logger"),
        *new_confirmed(0, 0),
        step("ctnetlink_del_conntrack", flow=0, requester="conntrack"),
    )
    assert live(state) == {}


def test_build_failure_counts_as_delivered_and_sets_enobufs() -> None:
    cfg = config(faults=("build_failure",))
    state = run(
        cfg,
        *new_confirmed(0, 0),
        step("env_recv", listener="conntrackd"),
        step("env_recv", listener="logger"),
        step("env_fault_arm"),
        step("ctnetlink_del_conntrack", flow=0, requester="conntrack"),
    )
    assert live(state) == {}
    assert all(s.sk_err and not s.queue for s in state.kernel.sockets)


def test_expectation_event_is_lost_even_with_broadcast_error() -> None:
    cfg = config(
        expectations=True, listeners=(replace(RELIABLE, groups=(*RELIABLE.groups, "expect")), PLAIN)
    )
    state = run(cfg, *new_confirmed(0, 0), step("nf_ct_expect_related", flow=0))
    assert state.ghost.exp_lost and ct_at(state, 0).missed == 0


def test_conntrack_created_with_events_off_has_no_event_cache() -> None:
    cfg = config(sysctl_writes=(("nf_conntrack_events", 0),))
    state = run(
        cfg, step("env_sysctl_write", name="nf_conntrack_events", value=0), *new_confirmed(0, 0)
    )
    assert ct_at(state, 0).ecache is False
    assert not any(s.queue for s in state.kernel.sockets)


def test_2_6_30_has_no_events_sysctl() -> None:
    cfg = config("2.6.30", sysctl_writes=(("nf_conntrack_events", 0),))
    write = step("env_sysctl_write", name="nf_conntrack_events", value=0)
    with pytest.raises(StepError, match=r"does not exist in variant 2\.6\.30"):
        apply(cfg, initial_state(cfg), write)


def test_a_dying_conntrack_does_not_block_a_new_one_of_its_tuple() -> None:
    cfg = config()
    dying = run(
        cfg, *new_confirmed(0, 0), step("ctnetlink_del_conntrack", flow=0, requester="conntrack")
    )
    assert apply(cfg, dying, new(0, 0)) is None, "the dying conntrack still holds its memory"
    state = run(cfg, new(0, 1), start=dying)
    old, fresh = ct_at(state, 0), ct_at(state, 1)
    assert old.flow == fresh.flow == 0 and state.kernel.dying == (0,)
    assert state.kernel.unconfirmed == (1,), "a different slot, so a different id"


def test_conntrack_ids_are_reused_after_the_free() -> None:
    """The freed object's memory goes to the next conntrack: the logger reads a NEW and then
    another NEW with the same tuple and the same id, from two different conntracks."""
    cfg = config("2.6.30")
    state = run(cfg, *new_confirmed(0, 0))
    first = state.kernel.sockets[1].queue[0]
    state = run(
        cfg,
        step("env_recv", listener="logger"),
        step("ctnetlink_del_conntrack", flow=0, requester="conntrack"),
        step("env_recv", listener="logger"),
        *new_confirmed(0, 0),
        start=state,
    )
    second = state.kernel.sockets[1].queue[0]
    assert second.bits == first.bits == IPCT_NEW
    assert (second.slot, second.flow) == (first.slot, first.flow) == (0, 0)
    assert second.uid != first.uid, "two conntrack instances"


@pytest.mark.parametrize("variant", ["2.6.30", "2.6.31"])
def test_unconfirmed_conntrack_dropped_before_confirm_is_freed_silently(variant: str) -> None:
    cfg = config(variant)
    state = run(cfg, new(0, 0), step("destroy_conntrack", slot=0))
    assert state.kernel.ct_count == 0 and live(state) == {}
    assert not any(s.queue for s in state.kernel.sockets)
