"""One test per kernel behaviour the actions model, named as the behaviour."""

from __future__ import annotations

from dataclasses import replace

import pytest

from helpers import PLAIN, RELIABLE, new_confirmed, run, step
from nfct_spec.models.bits import IPCT_DESTROY, IPCT_NEW, IPCT_STATUS
from nfct_spec.models.config import Config
from nfct_spec.models.registry import apply
from nfct_spec.models.state import CRASH_MOD_ZERO, NO_TIMER, initial_state


def config(variant: str = "2.6.31", **changes: object) -> Config:
    base = Config(
        variant=variant,
        nf_conntrack_max=2,
        flows=3,
        max_conntracks=5,
        listeners=(RELIABLE, PLAIN),
        events_retry_timeout=3,
        ct_timeout=2,
    )
    return base.with_(**changes)


def test_new_flow_is_allocated_on_the_unconfirmed_list_with_new_cached() -> None:
    state = run(config(), step("nf_conntrack_in", flow=0, packet="new"))
    (ct,) = state.kernel.cts
    assert state.kernel.unconfirmed == (0,) and state.kernel.count == 1
    assert ct.cache == IPCT_NEW and ct.timer == NO_TIMER


def test_confirm_hashes_the_conntrack_starts_its_timer_and_sends_new() -> None:
    state = run(config(), *new_confirmed(0, 0))
    (ct,) = state.kernel.cts
    assert state.kernel.hash == (0,) and not state.kernel.unconfirmed
    assert ct.timer == 2 and ct.cache == 0
    assert [m.bits for s in state.kernel.sockets for m in s.queue] == [IPCT_NEW, IPCT_NEW]


def test_failed_destroy_moves_ct_to_dying_list() -> None:
    cfg = config()
    state = run(
        cfg, *new_confirmed(0, 0), step("ctnetlink_del_conntrack", flow=0, requester="conntrack")
    )
    (ct,) = state.kernel.cts
    assert state.kernel.dying == (0,) and not state.kernel.hash
    assert state.kernel.count == 1
    assert ct.pid == cfg.portid("conntrack") and ct.timer == cfg.events_retry_timeout - 1


def test_failed_destroy_frees_the_conntrack_in_2_6_30() -> None:
    state = run(
        config("2.6.30"),
        *new_confirmed(0, 0),
        step("ctnetlink_del_conntrack", flow=0, requester="conntrack"),
    )
    assert state.kernel.cts == () and state.kernel.count == 0


def test_death_by_event_retries_while_the_queue_is_full_and_frees_on_success() -> None:
    cfg = config()
    dying = run(
        cfg, *new_confirmed(0, 0), step("ctnetlink_del_conntrack", flow=0, requester="conntrack")
    )
    again = run(cfg, step("death_by_event", uid=0), start=dying)
    assert again.kernel.dying == (0,) and again.ct(0) is not None
    drained = run(
        cfg, step("env_recv", listener="conntrackd"), step("death_by_event", uid=0), start=again
    )
    assert drained.kernel.cts == () and drained.kernel.count == 0
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
    assert apply(cfg, state, step("death_by_timeout", uid=0)) is None
    state = run(cfg, step("env_tick"), step("env_tick"), start=state)
    assert apply(cfg, state, step("env_tick")) is None, "an expired timer blocks time"
    state = run(cfg, step("death_by_timeout", uid=0), start=state)
    assert state.kernel.cts == ()


def test_early_drop_victim_whose_destroy_fails_stays_counted() -> None:
    cfg = config()
    state = run(
        cfg,
        step("nf_conntrack_in", flow=0, packet="new"),
        step("nf_conntrack_in", flow=2, packet="new"),
        step("__nf_conntrack_confirm", uid=1),
        step("nf_conntrack_in", flow=1, packet="new"),
    )
    assert state.kernel.alloc_pending == 1 and state.kernel.count == 3
    assert apply(cfg, state, step("env_recv", listener="logger")) is None
    state = run(cfg, step("early_drop", victim=1), start=state)
    assert state.kernel.dying == (1,) and state.kernel.count == 3 > cfg.nf_conntrack_max
    assert len(state.kernel.unconfirmed) == 2


def test_early_drop_without_a_victim_drops_the_packet() -> None:
    cfg = config(nf_conntrack_max=1)
    state = run(
        cfg,
        step("nf_conntrack_in", flow=0, packet="new"),
        step("nf_conntrack_in", flow=1, packet="new"),
        step("early_drop", victim=-1),
    )
    assert state.kernel.count == 1 and len(state.kernel.cts) == 1
    assert state.kernel.alloc_pending == -1


def test_assured_conntracks_are_not_early_dropped() -> None:
    cfg = config(nf_conntrack_max=1)
    state = run(
        cfg,
        *new_confirmed(0, 0),
        step("nf_conntrack_in", flow=0, packet="assure"),
        step("nf_conntrack_in", flow=1, packet="new"),
    )
    assert apply(cfg, state, step("early_drop", victim=0)) is None


def test_missed_bits_wait_for_a_packet_that_caches_an_event() -> None:
    cfg = config()
    state = run(cfg, *new_confirmed(0, 0), *new_confirmed(1, 1))
    assert state.ct(1) is not None and state.ct(1).missed == IPCT_NEW  # type: ignore[union-attr]
    state = run(
        cfg,
        step("env_recv", listener="conntrackd"),
        step("nf_conntrack_in", flow=1, packet="plain"),
        start=state,
    )
    assert state.ct(1).missed == IPCT_NEW  # type: ignore[union-attr]
    assert not state.kernel.sockets[0].queue, "a plain packet does not retry missed events"


def test_missed_bits_are_sent_with_the_next_event() -> None:
    cfg = config()
    state = run(
        cfg,
        *new_confirmed(0, 0),
        *new_confirmed(1, 1),
        step("env_recv", listener="conntrackd"),
        step("nf_conntrack_in", flow=1, packet="assure"),
    )
    assert state.ct(1).missed == 0  # type: ignore[union-attr]
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
        cfg, step("env_recv", listener="conntrackd"), step("death_by_event", uid=1), start=state
    )
    assert state.kernel.sockets[0].queue[0].bits == IPCT_DESTROY


def test_timeout_destroy_failure_ors_destroy_into_missed() -> None:
    cfg = config(ct_timeout=1)
    state = run(cfg, *new_confirmed(0, 0), step("env_tick"), step("death_by_timeout", uid=0))
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
        step("nf_conntrack_in", flow=0, packet="new"),
        *new_confirmed(1, 1),
        step("env_recv", listener="conntrackd"),
        step("env_recv", listener="logger"),
        step("nf_conntrack_flush_report", requester="conntrack", order=(1,)),
    )
    assert state.ct(0) is not None and state.ct(0).dying  # type: ignore[union-attr]
    state = run(
        cfg,
        step("env_recv", listener="conntrackd"),
        step("env_recv", listener="logger"),
        step("__nf_conntrack_confirm", uid=0),
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
    assert state.kernel.cts == ()


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
    assert state.kernel.cts == ()
    assert all(s.sk_err and not s.queue for s in state.kernel.sockets)


def test_expectation_event_is_lost_even_with_broadcast_error() -> None:
    cfg = config(
        expectations=True, listeners=(replace(RELIABLE, groups=(*RELIABLE.groups, "expect")), PLAIN)
    )
    state = run(cfg, *new_confirmed(0, 0), step("nf_ct_expect_related", flow=0))
    assert state.ghost.exp_lost and state.ct(0) is not None
    assert state.ct(0).missed == 0  # type: ignore[union-attr]


def test_conntrack_created_with_events_off_has_no_event_cache() -> None:
    cfg = config(sysctl_writes=(("nf_conntrack_events", 0),))
    state = run(
        cfg, step("env_sysctl_write", name="nf_conntrack_events", value=0), *new_confirmed(0, 0)
    )
    assert state.ct(0).ecache is False  # type: ignore[union-attr]
    assert not any(s.queue for s in state.kernel.sockets)


def test_2_6_30_has_no_events_sysctl() -> None:
    cfg = config("2.6.30", sysctl_writes=(("nf_conntrack_events", 0),))
    assert (
        apply(
            cfg, initial_state(cfg), step("env_sysctl_write", name="nf_conntrack_events", value=0)
        )
        is None
    )


def test_a_dying_conntrack_does_not_block_a_new_one_of_its_tuple() -> None:
    cfg = config()
    state = run(
        cfg,
        *new_confirmed(0, 0),
        step("ctnetlink_del_conntrack", flow=0, requester="conntrack"),
        step("nf_conntrack_in", flow=0, packet="new"),
    )
    old, new = state.kernel.cts
    assert old.flow == new.flow == 0 and old.ctid != new.ctid


def test_conntrack_ids_are_reused_after_the_free() -> None:
    cfg = config("2.6.30")
    state = run(
        cfg,
        *new_confirmed(0, 0),
        step("ctnetlink_del_conntrack", flow=0, requester="conntrack"),
        step("nf_conntrack_in", flow=0, packet="new"),
    )
    assert state.kernel.cts[0].ctid == 0 and state.ghost.identity == ((0, 0), (0, 0))


@pytest.mark.parametrize("variant", ["2.6.30", "2.6.31"])
def test_unconfirmed_conntrack_dropped_before_confirm_is_freed_silently(variant: str) -> None:
    cfg = config(variant)
    state = run(
        cfg, step("nf_conntrack_in", flow=0, packet="new"), step("destroy_conntrack", uid=0)
    )
    assert state.kernel.count == 0 and not any(s.queue for s in state.kernel.sockets)
