"""The 6.x worker's batches (`ecache_batch`) and the review era that took dying_lock twice at a
batch end (`worker_relocks_twice`), step by step against ecache_work_evict_list() of Linux 5.19
to 6.18:

    if (nf_conntrack_event(IPCT_DESTROY, ct)) { ret = STATE_CONGESTED; break; }
    ...
    if (time_after(stop, jiffies)) { ret = STATE_RESTART; break; }
    if (sent++ > 16) { spin_unlock_bh(&dying_lock); cond_resched(); goto next; }

with `next: sent = 0; spin_lock_bh(&dying_lock);` (the review version took the lock once more
before `goto next`)."""

from __future__ import annotations

import json

import pytest

from helpers import run, step
from nfct_spec.models.config import (
    ECACHE_BATCH,
    Config,
    ConfigError,
    ListenerConfig,
    config_from_json,
)
from nfct_spec.models.registry import apply, successors
from nfct_spec.models.state import DEADLOCK_DYING_LOCK, State, evolve, is_deadlock
from nfct_spec.spec.catalogue import BY_ID
from nfct_spec.spec.properties import deadlock_free, no_crash

ENTRIES = 3
"""Conntracks on the redelivery list when the worker runs."""

WIDE = ListenerConfig(
    "conntrackd", ("new", "destroy"), broadcast_error=True, no_enobufs=True, capacity=ENTRIES
)
"""A reliable listener whose queue holds every DESTROY of one run of the worker."""


def config(**changes: object) -> Config:
    """6.x with the worker's posted time fix (so that a run walks past its first delivery)."""
    base = Config(
        variant="6.x",
        nf_conntrack_max=0,
        flows=ENTRIES,
        slots=ENTRIES,
        listeners=(WIDE,),
        event_bits=("NEW", "DESTROY"),
        ecache_work_fixed=True,
    )
    return base.with_(**changes)


def due(cfg: Config) -> State:
    """ENTRIES conntracks whose NEWs fill the queue; every deletion fails and parks its
    conntrack on the redelivery list; the listener reads the NEWs; the worker becomes due."""
    steps = [
        s
        for flow in range(ENTRIES)
        for s in (
            step("nf_conntrack_in", flow=flow, packet="new", slot=flow),
            step("__nf_conntrack_confirm", slot=flow),
        )
    ]
    steps += [
        step("ctnetlink_del_conntrack", flow=f, requester="conntrack") for f in range(ENTRIES)
    ]
    steps += [step("env_recv", listener="conntrackd")] * ENTRIES
    steps += [step("env_tick")] * cfg.worker_first_delay
    state = run(cfg, *steps)
    assert len(state.kernel.dying) == ENTRIES and state.kernel.worker == 0
    return state


def work(cfg: Config, state: State) -> State:
    after = apply(cfg, state, step("ecache_work"))
    assert after is not None
    return after


def test_the_kernels_batch_is_18_deliveries_per_hold_of_dying_lock() -> None:
    """`if (sent++ > 16)` tests the count before the increment, after each delivered entry."""
    sent = 0
    delivered = 0
    while True:
        delivered += 1
        test, sent = sent > 16, sent + 1
        if test:
            break
    assert ECACHE_BATCH == delivered == 18 and config().ecache_batch == 18


@pytest.mark.parametrize("batch", [1, 2, ENTRIES])
def test_after_a_batch_the_released_worker_relocks_and_walks_on(batch: int) -> None:
    """As released the batch end changes nothing the model shows: the run delivers every
    entry and frees it, as it does when the list is shorter than the kernel's batch."""
    cfg = config(ecache_batch=batch)
    after = work(cfg, due(cfg))
    assert not after.kernel.crashed
    assert after.kernel.dying == () and after.kernel.worker == -1
    assert all(ct is None for ct in after.kernel.cts)
    assert len(after.kernel.sockets[0].queue) == ENTRIES
    unbatched = config()
    assert after == work(unbatched, due(unbatched))


@pytest.mark.parametrize("batch", [1, 2, ENTRIES])
def test_the_review_worker_deadlocks_at_the_end_of_its_first_batch(batch: int) -> None:
    """The review version takes dying_lock again before `goto next`, and `next:` takes it once
    more: the model stops in the state the run started from, named as a deadlock (also when
    the batch ended with the list's last entry: the jump comes first)."""
    cfg = config(ecache_batch=batch, worker_relocks_twice=True)
    before = due(cfg)
    after = work(cfg, before)
    assert after.kernel.crashed == DEADLOCK_DYING_LOCK and is_deadlock(after.kernel.crashed)
    assert "cnet->ecache.dying_lock" in DEADLOCK_DYING_LOCK
    assert "ecache_work_evict_list()" in DEADLOCK_DYING_LOCK
    assert after == evolve(
        before, kernel=evolve(before.kernel, worker=-1, crashed=after.kernel.crashed)
    )
    assert list(successors(cfg, after)) == []
    assert not deadlock_free(cfg, after) and no_crash(cfg, after)


def test_a_list_shorter_than_the_batch_never_reaches_the_relock() -> None:
    cfg = config(ecache_batch=ENTRIES + 1, worker_relocks_twice=True)
    after = work(cfg, due(cfg))
    assert not after.kernel.crashed and after.kernel.dying == ()


def test_with_the_inverted_time_test_the_review_worker_restarts_before_its_batch_test() -> None:
    """As shipped, `time_after(stop, jiffies)` is true at the first delivered entry of a run
    that takes no time: STATE_RESTART comes before the batch test, even for a batch of one."""
    cfg = config(ecache_batch=1, worker_relocks_twice=True, ecache_work_fixed=False)
    state = due(cfg)
    for left in range(ENTRIES - 1, -1, -1):
        state = work(cfg, state)
        assert not state.kernel.crashed and len(state.kernel.dying) == left
        assert state.kernel.worker == 0, "STATE_RESTART: queued again at once"
    state = work(cfg, state)
    assert not state.kernel.crashed and state.kernel.worker == -1, "STATE_DONE on an empty list"
    assert BY_ID["deadlock-free"].expected_for(cfg) == "n/a"
    assert BY_ID["deadlock-free"].expected_for(cfg.with_(ecache_work_fixed=True)) == "violated"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"variant": "2.6.31", "worker_relocks_twice": True}, "worker_relocks_twice"),
        ({"variant": "2.6.30", "ecache_batch": 2}, "ecache_batch"),
        ({"ecache_batch": 0}, "ecache_batch"),
        ({"ecache_batch": ECACHE_BATCH + 1}, "ecache_batch"),
        ({"worker_relocks_twice": 1}, "worker_relocks_twice"),
    ],
)
def test_a_bad_worker_field_is_refused_in_one_line_naming_it(
    changes: dict[str, object], field: str
) -> None:
    data = {**config().to_json(), **changes}
    with pytest.raises(ConfigError, match=f"^field '{field}': [^\n]+$"):
        config_from_json(data)


def test_the_worker_fields_are_left_out_of_the_json_at_their_defaults_and_read_back() -> None:
    assert not {"ecache_batch", "worker_relocks_twice"} & set(config().to_json())
    era = config(ecache_batch=2, worker_relocks_twice=True)
    data = era.to_json()
    assert (data["ecache_batch"], data["worker_relocks_twice"]) == (2, True)
    assert config_from_json(json.loads(json.dumps(data))) == era
