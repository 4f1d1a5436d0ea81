"""The smp eras of 3.17 and later: the dying list's worker, the DYING bit as "DESTROY
delivered", the test_and_set_bit() guard of the timer removal and the 4.9 three-state.

3.17 to 4.8 (nf_conntrack_core.c nf_ct_delete(), nf_conntrack_ecache.c
ecache_work_evict_list()): a failed DESTROY leaves the conntrack on the dying list with DYING
clear and schedules the work; the work re-sends DESTROY to the entries without DYING
(`if (nf_ct_is_dying(ct)) continue;`) and sets DYING once delivered; the send itself skips a
DYING conntrack (`nf_ct_is_confirmed(ct) && !nf_ct_is_dying(ct)`, returning 0).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from smp_configs import CONFIGS, era

from helpers import run, step
from nfct_spec.cli import main
from nfct_spec.models.bits import IPCT_DESTROY
from nfct_spec.models.registry import Step, apply
from nfct_spec.models.state import NO_TIMER, State, evolve, with_ct

EXPIRY_FAILS = (
    step("nf_conntrack_in", flow=0, packet="new", slot=0),
    step("__nf_conntrack_confirm", slot=0),
    step("env_tick"),
    step("death_by_timeout_expire", slot=0),
    step("test_bit_dying", call=0),
    step("nf_conntrack_event_report", call=0),
    step("nf_ct_delete_from_lists", call=0),
    step("nf_ct_insert_dying_list", call=0),
)
"""The NEW fills conntrackd's one-message queue; the timeout fires; its DESTROY fails and the
conntrack goes to the dying list."""

WORKER_RUNS = (
    step("env_recv", listener="conntrackd"),
    step("env_recv", listener="conntrackd"),
    step("env_tick"),
    step("env_tick"),
    step("ecache_work_evict_list"),
)
"""conntrackd reads ENOBUFS, then the NEW; HZ (two ticks) passes; the work runs."""


def _run(name: str, steps: tuple[Step, ...], start: State | None = None) -> State:
    return run(era(name), *steps, start=start)


def _with_dying_bit(state: State, slot: int) -> State:
    ct = state.ct(slot)
    assert ct is not None
    return evolve(state, kernel=with_ct(state.kernel, slot, evolve(ct, dying=True)))


def test_a_failed_destroy_waits_on_the_dying_list_with_the_work_scheduled_and_no_timer() -> None:
    """nf_ct_delete() failure path: nf_ct_delete_from_lists() puts it on the dying list and
    nf_conntrack_ecache_delayed_work() schedules the work in HZ (ecache_dwork_pending set)."""
    config = era("smp-dying-worker")
    state = _run("smp-dying-worker", EXPIRY_FAILS)
    ct = state.ct(0)
    assert ct is not None and not ct.dying and ct.timer == NO_TIMER
    assert state.kernel.dying == (0,) and state.kernel.calls == ()
    assert (state.kernel.worker, state.kernel.dwork_pending) == (config.worker_first_delay, True)
    assert apply(config, state, step("death_by_event", slot=0)) is None


def test_the_work_resends_the_destroy_and_frees_the_conntrack() -> None:
    """ecache_work_evict_list(): the send succeeds, DYING is set, the hash's reference put;
    nothing failed, so the work is not rescheduled."""
    state = _run("smp-dying-worker", EXPIRY_FAILS + WORKER_RUNS)
    assert state.ct(0) is None and state.kernel.dying == () and state.kernel.ct_count == 0
    assert (state.kernel.worker, state.kernel.dwork_pending) == (-1, False)
    (queue,) = [s.queue for s in state.kernel.sockets]
    assert [m.slot for m in queue] == [0]


def test_the_work_stops_at_a_failure_and_retries_after_ecache_retry_wait() -> None:
    config = era("smp-dying-worker")
    start = _run("smp-dying-worker", (*EXPIRY_FAILS, step("env_tick"), step("env_tick")))
    state = _run("smp-dying-worker", (step("ecache_work_evict_list"),), start)
    assert state.kernel.dying == (0,)
    assert (state.kernel.worker, state.kernel.dwork_pending) == (config.worker_retry_delay, True)


def test_the_3_17_work_skips_a_dying_list_entry_with_dying_set() -> None:
    """`if (nf_ct_is_dying(ct)) continue;`: an entry with DYING is taken for one whose DESTROY
    was delivered; nothing failed, so the work is not rescheduled and the entry stays."""
    start = _with_dying_bit(_run("smp-dying-worker", EXPIRY_FAILS + WORKER_RUNS[:-1]), 0)
    state = _run("smp-dying-worker", WORKER_RUNS[-1:], start)
    assert state.kernel.dying == (0,) and state.ct(0) is not None
    assert state.kernel.worker == -1
    assert all(not s.queue for s in state.kernel.sockets)


def test_the_three_state_work_resends_whatever_the_dying_bit() -> None:
    """4.9: `if (!e || e->state != NFCT_ECACHE_DESTROY_FAIL) continue;` and the send tests
    only nf_ct_is_confirmed(): an entry the model keeps on the dying list failed its DESTROY,
    so it is sent again although DYING is set."""
    start = _with_dying_bit(
        _run("smp-dying-worker-ecache-state", EXPIRY_FAILS + WORKER_RUNS[:-1]), 0
    )
    state = _run("smp-dying-worker-ecache-state", WORKER_RUNS[-1:], start)
    assert state.kernel.dying == () and state.ct(0) is None
    (queue,) = [s.queue for s in state.kernel.sockets]
    assert [m.slot for m in queue] == [0]


def test_the_test_and_set_guard_sets_dying_before_the_report_and_the_send_skips_it() -> None:
    """`if (test_and_set_bit(IPS_DYING_BIT, &ct->status)) return false;` first, then the
    3.17 send finds DYING set and returns 0: nf_ct_delete() unhashes and frees the conntrack
    as if its DESTROY had been delivered, and none was sent."""
    config = era("smp-dying-worker-test-and-set")
    state = _run("smp-dying-worker-test-and-set", EXPIRY_FAILS[:5])
    ct = state.ct(0)
    assert ct is not None and ct.dying
    (call,) = state.kernel.calls
    assert call.pc == "report"
    state = _run("smp-dying-worker-test-and-set", (EXPIRY_FAILS[5],), state)
    (call,) = state.kernel.calls
    assert (call.pc, call.failed) == ("unlink", False)
    state = _run(
        "smp-dying-worker-test-and-set",
        (step("nf_ct_delete_from_lists", call=0), step("nf_ct_put", call=0)),
        state,
    )
    assert state.ct(0) is None and state.kernel.dying == ()
    (queue,) = [s.queue for s in state.kernel.sockets]
    assert len(queue) == 1 and not queue[0].bits & IPCT_DESTROY  # the NEW only
    assert apply(config, state, step("ecache_work_evict_list")) is None


def test_with_the_three_state_the_guarded_destroy_is_sent_and_its_failure_redelivered() -> None:
    """4.9 with the guard: DYING set first, the send no longer skips it and fails on the full
    queue; the entry goes on the dying list in state DESTROY_FAIL and the work sends it."""
    state = _run("smp-dying-worker-ecache-state", EXPIRY_FAILS)
    ct = state.ct(0)
    assert ct is not None and ct.dying and state.kernel.dying == (0,)
    state = _run("smp-dying-worker-ecache-state", WORKER_RUNS, state)
    assert state.ct(0) is None and state.kernel.dying == ()
    (queue,) = [s.queue for s in state.kernel.sockets]
    assert [m.slot for m in queue] == [0]


def test_a_delivered_destroy_kicks_a_pending_work() -> None:
    """nf_conntrack_ecache_work() after a delivered DESTROY: with ecache_dwork_pending set the
    work runs at once (mod_delayed_work(.., 0)) and the flag is cleared. Two conntracks: the
    second one's NEW and the first one's DESTROY fail on the full queue, the listener reads
    ENOBUFS and the first NEW, the second one's DESTROY is delivered."""
    config = era("smp-dying-worker").with_(flows=2, slots=2)
    steps = (
        step("nf_conntrack_in", flow=0, packet="new", slot=0),
        step("__nf_conntrack_confirm", slot=0),
        step("nf_conntrack_in", flow=1, packet="new", slot=1),
        step("__nf_conntrack_confirm", slot=1),
        step("env_tick"),
        step("death_by_timeout_expire", slot=0),
        step("test_bit_dying", call=0),
        step("nf_conntrack_event_report", call=0),
        step("nf_ct_delete_from_lists", call=0),
        step("nf_ct_insert_dying_list", call=0),
        step("env_recv", listener="conntrackd"),
        step("env_recv", listener="conntrackd"),
        step("death_by_timeout_expire", slot=1),
        step("test_bit_dying", call=0),
    )
    state = run(config, *steps)
    assert state.kernel.dying == (0,) and state.kernel.dwork_pending
    assert state.kernel.worker == config.worker_first_delay
    after = apply(config, state, step("nf_conntrack_event_report", call=0))
    assert after is not None
    assert (after.kernel.worker, after.kernel.dwork_pending) == (0, False)


def test_explore_finds_the_freed_conntrack_without_destroy_and_replay_replays_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`explore --config` on the guard without the three-state exits 0 (the violation is the
    expected verdict) and writes the BFS-shortest trace, which `replay` replays; with the
    three-state, and as released, the property is exhausted and no trace is written."""
    out = tmp_path / "out"
    config = str(CONFIGS / "smp-dying-worker-test-and-set.json")
    args = ["explore", "--config", config, "--property", "destroy-before-free"]
    assert main([*args, "--out", str(out)]) == 0
    trace = out / "traces-explorer" / "2.6.31" / "destroy-before-free.json"
    capsys.readouterr()
    assert main(["replay", str(trace)]) == 0
    assert "destroy-before-free violated at step 8" in capsys.readouterr().out
    for name in ("smp-dying-worker-ecache-state", "smp-dying-worker"):
        other = tmp_path / name
        path = str(CONFIGS / f"{name}.json")
        assert (
            main(
                [
                    "explore",
                    "--config",
                    path,
                    "--property",
                    "destroy-before-free",
                    "--out",
                    str(other),
                ]
            )
            == 0
        )
        assert not (other / "traces-explorer" / "2.6.31" / "destroy-before-free.json").exists()
