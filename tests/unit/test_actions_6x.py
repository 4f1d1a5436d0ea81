"""The 6.x variant: single-winner deletion, the redelivery list and its worker, gc expiry."""

from __future__ import annotations

import pytest

from helpers import PLAIN, RELIABLE, ct_at, live, new, new_confirmed, packet, run, step
from nfct_spec.models.bits import IPCT_DESTROY, IPCT_NEW
from nfct_spec.models.config import Config, ListenerConfig
from nfct_spec.models.registry import Step, apply
from nfct_spec.models.state import NO_TIMER, State, initial_state


def config(**changes: object) -> Config:
    base = Config(
        variant="6.x",
        nf_conntrack_max=2,
        flows=3,
        slots=5,
        listeners=(RELIABLE, PLAIN),
        ct_timeout=2,
        worker_first_delay=2,
        worker_retry_delay=1,
    )
    return base.with_(**changes)


def delete(flow: int) -> Step:
    return step("ctnetlink_del_conntrack", flow=flow, requester="conntrack")


def test_failed_destroy_puts_the_conntrack_on_the_redelivery_list_and_schedules_the_worker() -> (
    None
):
    cfg = config()
    state = run(cfg, *new_confirmed(0, 0), delete(0))
    ct = ct_at(state, 0)
    assert state.kernel.dying == (0,) and ct.dying and ct.timer == NO_TIMER
    assert state.kernel.worker == cfg.worker_first_delay and state.kernel.dwork_pending
    assert ct.missed & IPCT_DESTROY and ct.pid == cfg.portid("conntrack")


def test_redelivery_list_is_newest_failure_first() -> None:
    cfg = config()
    state = run(cfg, *new_confirmed(0, 0), *new_confirmed(1, 1), delete(0), delete(1))
    assert state.kernel.dying == (1, 0)


def test_worker_retries_after_the_retry_delay_while_the_listener_is_full() -> None:
    cfg = config()
    state = run(cfg, *new_confirmed(0, 0), delete(0), step("env_tick"), step("env_tick"))
    assert apply(cfg, state, step("env_tick")) is None, "a due worker blocks time"
    state = run(cfg, step("ecache_work"), start=state)
    assert state.kernel.dying == (0,) and state.kernel.worker == cfg.worker_retry_delay


def test_shipped_worker_frees_one_entry_per_run_and_restarts_at_once() -> None:
    cfg = config(listeners=(RELIABLE, ListenerConfig("logger", ("new",), capacity=1)))
    state = run(
        cfg,
        *new_confirmed(0, 0),
        *new_confirmed(1, 1),
        delete(0),
        delete(1),
        step("env_recv", listener="conntrackd"),
        step("env_tick"),
        step("env_tick"),
    )
    reliable_with_room = run(cfg, step("ecache_work"), start=state)
    assert len(reliable_with_room.kernel.dying) == 1 and reliable_with_room.kernel.worker == 0


def test_fixed_worker_goes_on_until_the_first_failure() -> None:
    big = ListenerConfig("conntrackd", ("new", "update", "destroy"), True, True, 4)
    cfg = config(
        listeners=(big, ListenerConfig("logger", ("new",), capacity=1)),
        ecache_work_fixed=True,
        nf_conntrack_max=0,
    )
    state = run(cfg, *new_confirmed(0, 0), *new_confirmed(1, 1), *new_confirmed(2, 2))
    state = run(
        cfg,
        packet(0, "assure"),
        delete(0),
        delete(1),
        start=state,
    )
    assert state.kernel.dying == (1, 0)
    state = run(
        cfg,
        *[step("env_recv", listener="conntrackd")] * 4,
        step("env_tick"),
        step("env_tick"),
        step("ecache_work"),
        start=state,
    )
    assert state.kernel.dying == () and state.kernel.worker == -1


def test_a_successful_destroy_elsewhere_kicks_the_pending_worker() -> None:
    cfg = config(nf_conntrack_max=0)
    state = run(
        cfg,
        *new_confirmed(0, 0),
        *new_confirmed(1, 1),
        delete(0),
        step("env_recv", listener="conntrackd"),
        delete(1),
    )
    assert state.kernel.dying == (0,) and state.kernel.worker == 0


def test_early_drop_counts_a_victim_only_if_its_destroy_was_delivered() -> None:
    cfg = config()
    state = run(
        cfg,
        new(0, 0),
        *new_confirmed(2, 1),
        new(1, 2),
        step("early_drop", victim=1),
    )
    assert state.kernel.dying == (1,) and state.kernel.ct_count == 2 <= cfg.nf_conntrack_max
    assert state.kernel.unconfirmed == (0,), "the new packet was dropped"
    assert list(live(state)) == [0, 1] and state.kernel.alloc_slot == -1


def expired(cfg: Config) -> State:
    """A conntrack of flow 0 in slot 0 whose timeout ran out, both listeners empty."""
    return run(
        cfg,
        *new_confirmed(0, 0),
        step("env_recv", listener="conntrackd"),
        step("env_recv", listener="logger"),
        step("env_tick"),
        step("env_tick"),
    )


def test_expiry_does_not_block_time_and_the_gc_reaps_later() -> None:
    cfg = config()
    state = expired(cfg)
    assert ct_at(state, 0).timer == 0
    assert apply(cfg, state, packet(0, "plain")) is None
    reaped = run(cfg, step("gc_worker", slot=0), start=state)
    assert live(reaped) == {}


@pytest.mark.parametrize("slot", [0, 1])
def test_a_new_packet_of_an_expired_tuple_reaps_it_and_creates_a_new_conntrack(slot: int) -> None:
    """nf_ct_gc_expired() on lookup frees the expired conntrack; the new one may get its memory
    (the slab reuses the object at once) or any other free object."""
    cfg = config()
    state = run(cfg, new(0, slot), start=expired(cfg))
    assert list(live(state)) == [slot] and state.kernel.unconfirmed == (slot,)
    assert ct_at(state, slot).flow == 0 and ct_at(state, slot).timer == NO_TIMER
    destroy = state.kernel.sockets[0].queue[0]
    assert destroy.bits & IPCT_DESTROY and (destroy.slot, destroy.flow) == (0, 0)


def test_every_packet_retries_the_missed_events() -> None:
    cfg = config()
    state = run(
        cfg,
        *new_confirmed(0, 0),
        *new_confirmed(1, 1),
        step("env_recv", listener="conntrackd"),
        packet(1, "plain"),
    )
    assert ct_at(state, 1).missed == 0
    assert state.kernel.sockets[0].queue[0].bits == IPCT_NEW


def test_auto_mode_gives_an_event_cache_only_if_a_listener_exists_at_creation() -> None:
    cfg = config(nf_conntrack_events=2, listener_churn=True)
    closed = run(
        cfg,
        step("env_listener_close", listener="conntrackd"),
        step("env_listener_close", listener="logger"),
        new(0, 0),
    )
    assert ct_at(closed, 0).ecache is False
    opened = run(cfg, new(0, 0))
    assert ct_at(opened, 0).ecache is True


def test_a_message_that_cannot_be_built_fails_when_a_listener_set_no_enobufs() -> None:
    cfg = config(faults=("build_failure",))
    state = run(
        cfg,
        *new_confirmed(0, 0),
        step("env_recv", listener="conntrackd"),
        step("env_recv", listener="logger"),
        step("env_fault_arm"),
        delete(0),
    )
    assert state.kernel.dying == (0,)


def test_6x_has_no_retry_timeout_sysctl() -> None:
    cfg = config(sysctl_writes=(("events_retry_timeout", 0),))
    assert (
        apply(
            cfg, initial_state(cfg), step("env_sysctl_write", name="events_retry_timeout", value=0)
        )
        is None
    )
