"""Current kernels (5.19 and later, e.g. 6.18): single-winner deletion, the per-namespace
redelivery list and its delayed worker, and expiry by the garbage collector.

Abstracts nf_ct_delete() and gc_worker() / nf_ct_gc_expired() (net/netfilter/
nf_conntrack_core.c) and nf_conntrack_ecache_work(), ecache_work() and
ecache_work_evict_list() (net/netfilter/nf_conntrack_ecache.c), Linux 6.18.

Time: the worker's delays are ticks from the config (`worker_first_delay` stands for HZ, the
first retry one second after a failure; `worker_retry_delay` for ECACHE_RETRY_JIFFIES, 10 ms
rounded up to jiffies). A run of the worker takes no time: the clock moves only between steps.
The worker's batches (`Config.ecache_batch` DESTROYs per hold of dying_lock) are kept, and so
is the review era that took dying_lock twice at a batch end (`Config.worker_relocks_twice`).
Left out: other CPUs taking dying_lock while the worker has dropped it between two batches, and
the RCU grace periods. Namespace exit, where the event callback goes first and the held
DESTROYs are dropped, is `env_netns_exit` (`models/env.py`).
"""

from __future__ import annotations

from nfct_spec.models.bits import IPCT_DESTROY
from nfct_spec.models.config import Config
from nfct_spec.models.ecache import nf_conntrack_eventmask_report
from nfct_spec.models.lists import nf_conntrack_free, nf_ct_delete_from_lists, note_death
from nfct_spec.models.state import (
    DEADLOCK_DYING_LOCK,
    NO_TIMER,
    State,
    evolve,
    with_ct,
    with_kernel,
)


def _schedule_on_failure(config: Config, state: State) -> State:
    """nf_conntrack_ecache_work(NFCT_ECACHE_DESTROY_FAIL): unless the work is already pending
    (delayed_work_pending()), schedule it in HZ and set ecache_dwork_pending; otherwise change
    nothing (the flag is set only together with the scheduling)."""
    kernel = state.kernel
    if kernel.worker >= 0:
        return state
    return evolve(
        state, kernel=evolve(kernel, worker=worker_delay(config, "first"), dwork_pending=True)
    )


def worker_delay(config: Config, which: str) -> int:
    """The ticks until the worker runs when it is scheduled after a failure (`first`,
    schedule_delayed_work(.., HZ)) or by its own run (`retry`, ECACHE_RETRY_JIFFIES). With the
    abstraction `Config.retry_untimed` every delay is 0: the worker may run at any time, and
    time does not wait for it (`env_tick`)."""
    if config.retry_untimed:
        return 0
    return config.worker_first_delay if which == "first" else config.worker_retry_delay


def _kick_on_success(state: State) -> State:
    """nf_conntrack_ecache_work(NFCT_ECACHE_DESTROY_SENT), called while ecache_dwork_pending:
    run the worker at once if the redelivery list is not empty, else clear the flag."""
    kernel = state.kernel
    if kernel.dying:
        return with_kernel(state, evolve(kernel, worker=0))
    return with_kernel(state, evolve(kernel, dwork_pending=False))


def nf_ct_delete(
    config: Config, state: State, slot: int, portid: int, report: bool
) -> tuple[State, bool]:
    """Delete a conntrack; True only if it was freed with its DESTROY delivered.

    test_and_set_bit(IPS_DYING_BIT) first: a second deleter loses and does nothing. Then the
    DESTROY is reported once; on failure the conntrack is unhashed and added at the head of
    the redelivery list and the worker scheduled; on success it is unhashed and freed, and a
    pending worker is kicked.
    """
    ct = state.ct(slot)
    assert ct is not None
    if ct.dying:
        return state, False
    state = note_death(state, slot)
    kernel = with_ct(state.kernel, slot, evolve(ct, dying=True, timer=NO_TIMER))
    state = with_kernel(state, kernel)
    state, ret = nf_conntrack_eventmask_report(config, state, slot, IPCT_DESTROY, portid, report)
    if ret < 0:
        state = nf_ct_delete_from_lists(state, slot)
        state = with_kernel(state, evolve(state.kernel, dying=(slot, *state.kernel.dying)))
        return _schedule_on_failure(config, state), False
    if state.kernel.dwork_pending:
        state = _kick_on_success(state)
    return nf_conntrack_free(state, slot), True


def gc_worker(config: Config, state: State, slot: int) -> State | None:
    """The conntrack garbage collector finds an expired conntrack and kills it
    (nf_ct_gc_expired() -> nf_ct_kill() -> nf_ct_delete(ct, 0, 0)).

    Enabled for a hashed conntrack whose timeout has run out, at any later time: the worker
    scans the table in slices and an idle table rarely, so the DESTROY of an expiry can come
    long after it. 6.x only.
    """
    ct = state.ct(slot)
    if ct is None or slot not in state.kernel.hash or ct.timer != 0:
        return None
    state, _ = nf_ct_delete(config, state, slot, 0, False)
    return state


def ecache_work(config: Config, state: State) -> State | None:
    """The delayed ecache worker runs: re-send DESTROY along the redelivery list.

    ecache_work() -> ecache_work_evict_list() (net/netfilter/nf_conntrack_ecache.c, Linux 5.19
    to 6.18), which under dying_lock does, for each entry from the head of the list (newest
    failure first):

        if (nf_conntrack_event(IPCT_DESTROY, ct)) { ret = STATE_CONGESTED; break; }
        /* move ct to the local evicted_list */
        if (time_after(stop, jiffies)) { ret = STATE_RESTART; break; }
        if (sent++ > 16) { spin_unlock_bh(&dying_lock); cond_resched(); goto next; }

    where `next:` sets `sent = 0` and takes dying_lock. Enabled when the worker is due. At the
    first failure it stops and reschedules itself after ECACHE_RETRY_JIFFIES. As shipped, the
    time test is inverted (true while the slice of ECACHE_MAX_JIFFIES is not over), so after
    the first success it stops and is queued again at once (`ecache_work_fixed` models the
    posted fix, `time_after(jiffies, stop)`: it goes on until a failure or the end of the list,
    the slice never running out in a run that takes no time). Delivered entries are freed
    after the walk.

    The batch test comes after the time test, so only a walk that passes the time test reaches
    it: with the fix, after `ecache_batch` deliveries (`sent++ > 16`: 18). As released, the
    worker drops dying_lock there and takes it again at `next:`; the walk goes on from the head
    of the list, which (the model's run being one step, no other CPU adding an entry meanwhile)
    is its next entry. With `worker_relocks_twice` (the version under review) it took the lock
    again before `goto next`, and `next:` takes it once more: the CPU spins for ever. The model
    stops there (`DEADLOCK_DYING_LOCK`) in the state the run started from: the DESTROYs the run
    delivered before were queued to the listeners, but no step follows that could read them,
    and their conntracks sit on the worker's local evicted list, which the model does not have
    (its lists and invariants are those between kernel functions). On the live kernel the
    other CPUs go on until one needs dying_lock (the next failed DESTROY of nf_ct_delete());
    the model stops them all. With the inverted time test the batch end is reached only if
    the clock passes `stop` (ECACHE_MAX_JIFFIES, 10 ms, after the run started) before the
    first delivered entry's time test, after which that test never stops the walk again: the
    kernel can get there on a slow first delivery, a run that takes no time never does, so
    in the model the review era deadlocks only with `ecache_work_fixed`.
    """
    kernel = state.kernel
    if kernel.worker != 0:
        return None
    start = with_kernel(state, evolve(kernel, worker=-1))
    state = start
    delivered: list[int] = []
    delay = -1
    sent = 0
    for slot in kernel.dying:
        state, ret = nf_conntrack_eventmask_report(config, state, slot, IPCT_DESTROY, 0, False)
        if ret < 0:
            delay = worker_delay(config, "retry")
            break
        delivered.append(slot)
        if not config.ecache_work_fixed:
            delay = 0
            break
        sent += 1
        if sent == config.ecache_batch:
            if config.worker_relocks_twice:
                return with_kernel(start, evolve(start.kernel, crashed=DEADLOCK_DYING_LOCK))
            sent = 0
    for slot in delivered:
        state = nf_conntrack_free(state, slot)
    if delay >= 0:
        state = with_kernel(state, evolve(state.kernel, worker=delay))
    return state
