"""Namespace exit (`env_netns_exit`, `Config.netns_exit`) on each variant: what the exit loop
does to the hashed and the held conntracks, what no longer reaches the namespace afterwards,
and the expected verdicts the catalogue states for it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from helpers import RELIABLE, ct_at, new, new_confirmed, run, step
from nfct_spec.models.bits import IPCT_DESTROY, IPCT_NEW
from nfct_spec.models.config import Config, ConfigError, ListenerConfig
from nfct_spec.models.registry import BY_NAME, Step, apply, successors
from nfct_spec.models.state import State
from nfct_spec.proofs.guard import NOT_ENCODED_NETNS_EXIT, encoding_gap
from nfct_spec.spec.catalogue import BY_ID
from nfct_spec.spec.properties import destroy_before_free


def config(variant: str, **changes: object) -> Config:
    base = Config(
        variant=variant,
        nf_conntrack_max=0,
        flows=2,
        slots=3,
        listeners=(RELIABLE,),
        ct_timeout=2,
        events_retry_timeout=2,
        worker_first_delay=2,
        worker_retry_delay=1,
        netns_exit=True,
    )
    return base.with_(**changes)


def exit_(*order: int) -> Step:
    return step("env_netns_exit", order=tuple(order))


def read() -> Step:
    return step("env_recv", listener="conntrackd")


def _queued_bits(state: State) -> list[int]:
    return [m.bits for m in state.kernel.sockets[0].queue]


def _names(cfg: Config, state: State) -> set[str]:
    return {s.action for s, _ in successors(cfg, state)}


def test_6x_exit_frees_every_hashed_conntrack_without_sending_its_destroy() -> None:
    cfg = config("6.x", listeners=(replace(RELIABLE, capacity=4),))
    before = run(cfg, *new_confirmed(0, 0), *new_confirmed(1, 1))
    assert _queued_bits(before) == [IPCT_NEW, IPCT_NEW]
    after = run(cfg, exit_(0, 1), start=before)
    assert after.kernel.exiting and after.kernel.ct_count == 0
    assert after.kernel.hash == () and after.kernel.dying == ()
    assert _queued_bits(after) == [IPCT_NEW, IPCT_NEW], "the listener had room, yet no DESTROY"
    assert not destroy_before_free(cfg, before, exit_(0, 1), after)


def test_6x_held_destroy_is_dropped_when_the_worker_runs_after_the_exit() -> None:
    """The live observation: the held conntracks of a full reliable listener are freed at
    the namespace's deletion and their DESTROYs never arrive, even once the listener has
    read and has room again."""
    cfg = config("6.x")
    held = run(
        cfg,
        *new_confirmed(0, 0),
        step("ctnetlink_del_conntrack", flow=0, requester="conntrack"),
    )
    assert held.kernel.dying == (0,) and held.kernel.worker == cfg.worker_first_delay
    exited = run(cfg, exit_(), read(), step("env_tick"), step("env_tick"), start=held)
    assert exited.kernel.dying == (0,) and exited.kernel.worker == 0
    assert exited.kernel.sockets[0].queue == ()
    freed = run(cfg, step("ecache_work"), start=exited)
    assert freed.ct(0) is None and freed.kernel.ct_count == 0 and freed.kernel.dying == ()
    assert freed.kernel.sockets[0].queue == (), "no DESTROY was sent to the listener"
    assert not destroy_before_free(cfg, exited, step("ecache_work"), freed)
    # As shipped the worker restarts at once after a success; its last run finds the list
    # empty, and then nothing is left to happen in the namespace.
    assert _names(cfg, freed) == {"ecache_work"}
    assert _names(cfg, run(cfg, step("ecache_work"), start=freed)) == set()


def test_2_6_31_exit_kills_through_death_by_timeout_and_the_held_conntrack_keeps_retrying() -> None:
    cfg = config("2.6.31")
    full = run(cfg, *new_confirmed(0, 0))
    exited = run(cfg, exit_(0), start=full)
    ct = ct_at(exited, 0)
    assert exited.kernel.exiting and exited.kernel.dying == (0,) and exited.kernel.hash == ()
    assert ct.timer == cfg.events_retry_timeout - 1 and ct.missed & IPCT_DESTROY
    assert exited.kernel.ct_count == 1, "nf_conntrack_cleanup_net() loops until the count is 0"
    done = run(cfg, read(), step("death_by_event", slot=0), start=exited)
    assert done.ct(0) is None and done.kernel.ct_count == 0
    assert _queued_bits(done) == [IPCT_DESTROY]
    assert destroy_before_free(
        cfg, run(cfg, read(), start=exited), step("death_by_event", slot=0), done
    )


def test_2_6_31_exit_waits_for_a_conntrack_held_before_it() -> None:
    """nf_ct_release_dying_list() walks init_net's list, so a conntrack of the exiting
    namespace that was already held is neither killed nor freed by the exit."""
    cfg = config("2.6.31", ct_timeout=1)
    held = run(cfg, *new_confirmed(0, 0), step("env_tick"), step("death_by_timeout", slot=0))
    assert held.kernel.dying == (0,)
    exited = run(cfg, exit_(), start=held)
    assert exited.kernel.dying == (0,) and ct_at(exited, 0) == ct_at(held, 0)
    assert exited.kernel.sockets == held.kernel.sockets


def test_2_6_30_exit_sends_destroy_best_effort_and_frees_everything() -> None:
    cfg = config("2.6.30")
    full = run(cfg, *new_confirmed(0, 0))
    exited = run(cfg, exit_(0), start=full)
    assert exited.kernel.ct_count == 0 and exited.ct(0) is None
    assert _queued_bits(exited) == [IPCT_NEW], "the DESTROY was dropped by the full socket"


@pytest.mark.parametrize("variant", ["2.6.30", "2.6.31", "6.x"])
def test_after_the_exit_no_packet_request_or_sysctl_write_reaches_the_namespace(
    variant: str,
) -> None:
    writes = (("nf_conntrack_events", 0),) if variant != "2.6.30" else ()
    cfg = config(variant, sysctl_writes=writes)
    exited = run(cfg, *new_confirmed(0, 0), read(), exit_(0))
    assert exited.kernel.exiting
    assert apply(cfg, exited, new(1, 1)) is None
    names = _names(cfg, exited)
    assert not names & {
        "nf_conntrack_in",
        "ctnetlink_del_conntrack",
        "nf_conntrack_flush_report",
        "env_sysctl_write",
        "env_netns_exit",
    }


def test_listeners_of_another_namespace_keep_reading_and_may_close() -> None:
    cfg = config("2.6.31", listener_churn=True)
    exited = run(cfg, *new_confirmed(0, 0), exit_(0))
    assert {"env_recv", "env_listener_close"} <= _names(cfg, exited)


@pytest.mark.parametrize("variant", ["2.6.30", "2.6.31"])
def test_2_6_x_requests_address_init_net_and_never_reach_the_exiting_namespace(
    variant: str,
) -> None:
    cfg = config(variant)
    state = run(cfg, *new_confirmed(0, 0))
    for requester in ("conntrack", "conntrackd"):
        assert (
            apply(cfg, state, step("ctnetlink_del_conntrack", flow=0, requester=requester)) is None
        )
        assert (
            apply(cfg, state, step("nf_conntrack_flush_report", requester=requester, order=(0,)))
            is None
        )
    assert run(cfg.with_(netns_exit=False), *new_confirmed(0, 0)) == state


def test_6x_requests_reach_it_only_from_the_tool_inside_the_namespace() -> None:
    cfg = config("6.x")
    state = run(cfg, *new_confirmed(0, 0))
    assert apply(cfg, state, step("ctnetlink_del_conntrack", flow=0, requester="conntrack"))
    assert (
        apply(cfg, state, step("ctnetlink_del_conntrack", flow=0, requester="conntrackd")) is None
    )


@pytest.mark.parametrize("variant", ["2.6.30", "2.6.31", "6.x"])
def test_the_exit_waits_for_packets_in_flight_and_happens_once(variant: str) -> None:
    cfg = config(variant)
    in_flight = run(cfg, new(0, 0))
    assert apply(cfg, in_flight, exit_()) is None, "synchronize_net() waits for the packet"
    exited = run(cfg, exit_())
    assert apply(cfg, exited, exit_()) is None
    assert apply(cfg.with_(netns_exit=False), run(cfg.with_(netns_exit=False)), exit_()) is None


@pytest.mark.parametrize("variant", ["2.6.30", "2.6.31"])
def test_the_exit_order_is_an_argument_in_2_6_x_only(variant: str) -> None:
    cfg = config(variant)
    both = run(cfg, *new_confirmed(0, 0), read(), *new_confirmed(1, 1))
    orders = {s.kwargs["order"] for s, _ in successors(cfg, both) if s.action == "env_netns_exit"}
    assert orders == {(0, 1), (1, 0)}
    cfg6 = config("6.x")
    both6 = run(cfg6, *new_confirmed(0, 0), read(), *new_confirmed(1, 1))
    orders6 = {
        s.kwargs["order"] for s, _ in successors(cfg6, both6) if s.action == "env_netns_exit"
    }
    assert orders6 == {(0, 1)}
    assert apply(cfg, both, exit_(0)) is None, "the order names every hashed conntrack"


def test_the_exit_action_is_atomic_only_and_the_option_rejects_smp() -> None:
    assert BY_NAME["env_netns_exit"].granularities == frozenset({"atomic"})
    with pytest.raises(ConfigError, match="netns_exit"):
        Config(
            variant="2.6.31",
            granularity="smp",
            listeners=(RELIABLE,),
            netns_exit=True,
        )


def test_the_option_is_left_out_of_the_json_when_off() -> None:
    cfg = config("6.x")
    assert cfg.to_json()["netns_exit"] is True
    assert "netns_exit" not in cfg.with_(netns_exit=False).to_json()


def test_z3_declares_configs_with_namespace_exit_not_encoded() -> None:
    assert encoding_gap(config("6.x")) == NOT_ENCODED_NETNS_EXIT
    assert encoding_gap(config("6.x", netns_exit=False)) is None


@pytest.mark.parametrize(
    ("variant", "prop_id", "verdict"),
    [
        ("6.x", "destroy-before-free", "violated"),
        ("6.x", "destroy-eventually", "violated"),
        ("6.x", "expiry-eventually", "violated"),
        ("2.6.31", "destroy-before-free", "holds"),
        ("2.6.31", "destroy-eventually", "holds"),
        ("2.6.30", "destroy-before-free", "violated"),
        ("2.6.30", "destroy-eventually", "violated"),
    ],
)
def test_the_catalogue_states_the_verdicts_under_namespace_exit(
    variant: str, prop_id: str, verdict: str
) -> None:
    prop = BY_ID[prop_id]
    assert prop.expected_for(config(variant)) == verdict
    if variant == "6.x":
        assert prop.expected_for(config(variant, netns_exit=False)) == "holds"
        assert "nf_conntrack_unregister_notifier" in prop.reason_for(config(variant))
    if variant == "2.6.31":
        assert "init_net" in prop.reason_for(config(variant))


def test_a_build_failure_still_breaks_destroy_before_free_in_2_6_31_under_exit() -> None:
    """The namespace-exit override of 2.6.31 comes after the ones that break the property."""
    cfg = config("2.6.31", faults=("build_failure",))
    assert BY_ID["destroy-before-free"].expected_for(cfg) == "violated"


def test_a_plain_listener_is_not_needed_for_the_6x_loss() -> None:
    reliable_only = (ListenerConfig("conntrackd", ("new", "destroy"), True, False, 2),)
    cfg = config("6.x", listeners=reliable_only)
    before = run(cfg, *new_confirmed(0, 0))
    after = run(cfg, exit_(0), start=before)
    assert after.ct(0) is None and _queued_bits(after) == [IPCT_NEW]
    assert not destroy_before_free(cfg, before, exit_(0), after)
