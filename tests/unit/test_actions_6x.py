"""The 6.x variant: single-winner deletion, the redelivery list and its worker, gc expiry."""

from __future__ import annotations

from helpers import PLAIN, RELIABLE, new_confirmed, run, step
from nfct_spec.models.bits import IPCT_DESTROY, IPCT_NEW
from nfct_spec.models.config import Config, ListenerConfig
from nfct_spec.models.registry import apply
from nfct_spec.models.state import NO_TIMER, initial_state


def config(**changes: object) -> Config:
    base = Config(
        variant="6.x",
        nf_conntrack_max=2,
        flows=3,
        max_conntracks=5,
        listeners=(RELIABLE, PLAIN),
        ct_timeout=2,
        worker_first_delay=2,
        worker_retry_delay=1,
    )
    return base.with_(**changes)


def delete(flow: int) -> object:
    return step("ctnetlink_del_conntrack", flow=flow, requester="conntrack")


def test_failed_destroy_puts_the_conntrack_on_the_redelivery_list_and_schedules_the_worker() -> (
    None
):
    cfg = config()
    state = run(cfg, *new_confirmed(0, 0), delete(0))
    (ct,) = state.kernel.cts
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
        step("nf_conntrack_in", flow=0, packet="assure"),
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
        step("nf_conntrack_in", flow=0, packet="new"),
        *new_confirmed(2, 1),
        step("nf_conntrack_in", flow=1, packet="new"),
        step("early_drop", victim=1),
    )
    assert state.kernel.dying == (1,) and state.kernel.count == 2 <= cfg.nf_conntrack_max
    assert len(state.kernel.unconfirmed) == 1, "the new packet was dropped"


def test_expiry_does_not_block_time_and_the_gc_reaps_later() -> None:
    cfg = config()
    state = run(
        cfg,
        *new_confirmed(0, 0),
        step("env_recv", listener="conntrackd"),
        step("env_recv", listener="logger"),
        step("env_tick"),
        step("env_tick"),
    )
    assert state.kernel.cts[0].timer == 0
    assert apply(cfg, state, step("nf_conntrack_in", flow=0, packet="plain")) is None
    reaped = run(cfg, step("gc_worker", uid=0), start=state)
    assert reaped.kernel.cts == ()


def test_a_new_packet_of_an_expired_tuple_reaps_it_and_creates_a_new_conntrack() -> None:
    cfg = config()
    state = run(
        cfg,
        *new_confirmed(0, 0),
        step("env_recv", listener="conntrackd"),
        step("env_recv", listener="logger"),
        step("env_tick"),
        step("env_tick"),
        step("nf_conntrack_in", flow=0, packet="new"),
    )
    assert [ct.uid for ct in state.kernel.cts] == [1]
    assert state.kernel.sockets[0].queue[0].bits & IPCT_DESTROY


def test_every_packet_retries_the_missed_events() -> None:
    cfg = config()
    state = run(
        cfg,
        *new_confirmed(0, 0),
        *new_confirmed(1, 1),
        step("env_recv", listener="conntrackd"),
        step("nf_conntrack_in", flow=1, packet="plain"),
    )
    assert state.ct(1).missed == 0  # type: ignore[union-attr]
    assert state.kernel.sockets[0].queue[0].bits == IPCT_NEW


def test_auto_mode_gives_an_event_cache_only_if_a_listener_exists_at_creation() -> None:
    cfg = config(nf_conntrack_events=2, listener_churn=True)
    closed = run(
        cfg,
        step("env_listener_close", listener="conntrackd"),
        step("env_listener_close", listener="logger"),
        step("nf_conntrack_in", flow=0, packet="new"),
    )
    assert closed.kernel.cts[0].ecache is False
    opened = run(cfg, step("nf_conntrack_in", flow=0, packet="new"))
    assert opened.kernel.cts[0].ecache is True


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
