"""CPU-level steps (granularity smp): the kernel functions where another CPU can come in.

With `Config.granularity` "smp" the functions below are no longer one step each. Every call in
progress is a `Call` in `Kernel.calls` (function, conntrack slot, program point), and each step
below advances one call by one program point, so that the steps of another CPU, of a timer
softirq or of a packet can come in between. Citations are to Linux 2.6.31
(net/netfilter/nf_conntrack_core.c, nf_conntrack_netlink.c, kernel/timer.c) unless stated:

- `ctnetlink_del_conntrack()`: nf_conntrack_find_get() takes a reference; the DESTROY is
  reported; on failure the conntrack is unhashed, put on the dying list and its retry timer
  armed; on success DYING is set and nf_ct_kill() runs, which is
  `if (del_timer(&ct->timeout)) ct->timeout.function(ct)`; the reference is put.
- `death_by_timeout()`, the timer handler: expiry takes the timer from pending to running,
  then the handler tests DYING, reports DESTROY, and either unhashes the conntrack and puts it
  on the dying list with a retry, or sets DYING, unhashes it and drops the hash's reference.
- `nf_conntrack_flush_report()`: get_next_corpse() walks the hash under nf_conntrack_lock and
  calls kill_report(), which reports DESTROY and sets DYING if that succeeded; it takes a
  reference and unlocks; nf_ct_iterate_cleanup() then runs
  `if (del_timer(&ct->timeout)) death_by_timeout(ct)` and puts the reference.

A timer is idle, pending (`Conntrack.timer` >= 0) or running (idle, with a handler call in
progress); del_timer() returns whether it was pending. `Kernel.refs` is the reference count:
the hash (or the dying list) owns one, each lookup takes one, and the put that drops the last
frees the conntrack. In 2.6.31 the dying list's retry timer *is* ct->timeout re-initialised
with death_by_event(): which handler a pending ct->timeout runs is read from the list the
conntrack is on.

Eras (`Config` flags, each named after what changed upstream):
`delete_takes_timer` ("netfilter: ctnetlink: fix race between delete and timeout expiration",
2012): ctnetlink_del_conntrack() starts with `if (del_timer(&ct->timeout))` and reports only
then; `iterator_takes_timer` ("netfilter: nf_conntrack: don't send destroy events from
iterator", 3.12): the iterator's callback only selects, and the DESTROY is sent by the deletion
body after a successful del_timer(), with the requester's port id; `retry_timer_separate`
("netfilter: nf_conntrack: fix racy timer handling with reliable events", 2012): the retry of a
dying conntrack runs on a timer of its event cache extension, so ct->timeout stays idle there;
`retry_by_worker` (3.17 to 4.8): no retry timer at all, the ecache work walks the dying list
(`ecache_work_evict_list`) and skips entries with DYING, which is set only after a delivered
DESTROY; `delete_test_and_set_dying` (the guard of "netfilter: conntrack: get rid of conntrack
timer", 4.9): every deletion body starts with test_and_set_bit(IPS_DYING_BIT);
`ecache_destroy_state` ("netfilter: don't rely on DYING bit to detect when destroy event was
sent", 4.9): the send no longer skips DYING and the work re-sends the DESTROY_FAIL entries.

What the model of these steps leaves out: nf_conntrack_lock is modelled only where the flush
iterator holds it across kill_report() (steps that take it wait, and so does every atomic
kernel step); RCU grace periods and SLAB_DESTROY_BY_RCU lookups of a freed object; the
per-CPU statistics; packets of an existing conntrack are still one step (their races with a
deletion are not split); the retry handler death_by_event() and early_drop() stay one step
each. A fault the kernel turns into memory corruption (unlinking an unlinked node, arming a
pending timer, a put nobody held) stops the model in a crashed state naming it.
"""

from __future__ import annotations

from nfct_spec.models.bits import IPCT_DESTROY
from nfct_spec.models.config import Config
from nfct_spec.models.ctnetlink import echo_of, requester_ok
from nfct_spec.models.ecache import nf_conntrack_eventmask_report
from nfct_spec.models.lists import (
    arm_retry_timer,
    nf_conntrack_ecache_work,
    nf_conntrack_free,
    nf_ct_dying_list_add,
    nf_ct_put,
    note_death,
)
from nfct_spec.models.state import (
    CRASH_DOUBLE_DYING,
    CRASH_DOUBLE_UNLINK,
    CRASH_TIMER_PENDING,
    NO_TIMER,
    Call,
    State,
    evolve,
    set_at,
    set_ct,
    with_kernel,
    without,
)
from nfct_spec.models.variants import variant_of

CTNETLINK = "ctnetlink_del_conntrack"
TIMER = "death_by_timeout"
FLUSH = "nf_conntrack_flush_report"

LOCKED_PCS = frozenset({"found"})
"""Program points at which a call holds nf_conntrack_lock (the flush inside get_next_corpse())."""


def lock_holder(state: State) -> int:
    """The index of the call that holds nf_conntrack_lock, or -1."""
    for index, call in enumerate(state.kernel.calls):
        if call.pc in LOCKED_PCS:
            return index
    return -1


def in_handler_body(call: Call) -> bool:
    """The call runs the body of death_by_timeout(): as the timer handler, or called after a
    successful del_timer() by nf_ct_kill() or the 2.6.31 flush iterator."""
    return call.fn == TIMER or call.inline


def _with_calls(state: State, calls: tuple[Call, ...]) -> State:
    return with_kernel(state, evolve(state.kernel, calls=tuple(sorted(calls))))


def _push(state: State, call: Call) -> State:
    return _with_calls(state, (*state.kernel.calls, call))


def _set(state: State, index: int, call: Call | None) -> State:
    """Replace call `index` by `call`, or end it (None)."""
    calls = state.kernel.calls
    rest = (*calls[:index], *calls[index + 1 :])
    return _with_calls(state, rest if call is None else (*rest, call))


def _call(config: Config, state: State, index: int, pc: str) -> Call | None:
    """Call `index` if it is at `pc` and may step (not waiting for nf_conntrack_lock held by
    another call when `pc` takes it)."""
    if config.granularity != "smp" or state.kernel.crashed:
        return None
    calls = state.kernel.calls
    if not 0 <= index < len(calls) or calls[index].pc != pc:
        return None
    return calls[index]


def _lock_free_for(state: State, index: int) -> bool:
    holder = lock_holder(state)
    return holder < 0 or holder == index


def _room(config: Config, state: State) -> bool:
    return config.granularity == "smp" and len(state.kernel.calls) < config.cpus


def _get_ref(state: State, slot: int) -> State:
    refs = state.kernel.refs
    return with_kernel(state, evolve(state.kernel, refs=set_at(refs, slot, refs[slot] + 1)))


# --- entries: a CPU starts a kernel function --------------------------------------------------


def ctnetlink_del_lookup(config: Config, state: State, flow: int, requester: str) -> State | None:
    """`conntrack -D` starts on a CPU: ctnetlink_del_conntrack() looks the tuple up with
    nf_conntrack_find_get(), which takes a reference (2.6.31).

    Enabled in smp configs when the tuple's conntrack is hashed, the requester is the tool or
    an open listener, and a CPU is free. Next: report DESTROY (2.6.31 as released) or
    del_timer() first (`delete_takes_timer`). Left out: the CTA_ID check and the RCU lookup of
    an entry being freed (a lookup finds only hashed conntracks).
    """
    if not _room(config, state) or not requester_ok(config, state, requester):
        return None
    slot = state.hashed_slot_of_flow(flow)
    if slot < 0:
        return None
    pc = "del_timer" if config.delete_takes_timer else "report"
    call = Call(
        CTNETLINK,
        slot,
        pc,
        portid=config.portid(requester),
        echo=echo_of(config, requester),
        held=True,
    )
    return _push(_get_ref(state, slot), call)


def death_by_timeout_expire(config: Config, state: State, slot: int) -> State | None:
    """ct->timeout expires on some CPU: the timer goes from pending to running and
    death_by_timeout() starts (run_timer_softirq(), 2.6.31).

    Enabled in smp configs for a confirmed conntrack that is not on the dying list (there the
    same timer runs death_by_event()) whose timer reached 0, when a CPU is free. The handler
    holds no reference of its own: it runs on the one the hash owns. Left out: the timer
    base's lock and the jiffies at which it runs (a timer at 0 is due).
    """
    ct = state.ct(slot)
    if not _room(config, state) or ct is None or ct.timer != 0:
        return None
    if slot in state.kernel.dying or slot in state.kernel.unconfirmed:
        return None
    state = set_ct(state, slot, evolve(ct, timer=NO_TIMER))
    return _push(state, Call(TIMER, slot, "test_dying"))


def flush_start(config: Config, state: State, requester: str) -> State | None:
    """`conntrack -F` starts on a CPU: nf_conntrack_flush_report() enters
    nf_ct_iterate_cleanup() (2.6.31).

    Enabled in smp configs that allow flushes, when some conntrack is hashed, the requester is
    the tool or an open listener, and a CPU is free.
    """
    if not config.flush or not _room(config, state) or not state.kernel.hash:
        return None
    if not requester_ok(config, state, requester):
        return None
    call = Call(FLUSH, -1, "next_corpse", config.portid(requester), echo_of(config, requester))
    return _push(state, call)


def flush_next_corpse(config: Config, state: State, call: int, slot: int) -> State | None:
    """get_next_corpse() finds hashed conntrack `slot` under nf_conntrack_lock (2.6.31).

    Enabled for a flush between entries, for any hashed conntrack (the bucket order is not
    modelled; an entry whose handler is running is still hashed and is found again), when no
    other call holds the lock. 2.6.31 as released: the callback kill_report() reports DESTROY
    with the requester's port id while the lock is held; the next step sets DYING if that
    succeeded, takes the reference and unlocks. With `iterator_takes_timer` (3.12) the
    callback only selects: the reference is taken and the lock dropped in this step.
    """
    current = _call(config, state, call, "next_corpse")
    if current is None or slot not in state.kernel.hash or not _lock_free_for(state, call):
        return None
    if config.iterator_takes_timer:
        return _set(
            _get_ref(state, slot), call, evolve(current, slot=slot, pc="del_timer", held=True)
        )
    state = note_death(state, slot)
    state, ret = nf_conntrack_eventmask_report(
        config, state, slot, IPCT_DESTROY, current.portid, current.echo
    )
    return _set(state, call, evolve(current, slot=slot, pc="found", failed=ret < 0))


def flush_found(config: Config, state: State, call: int) -> State | None:
    """kill_report() sets DYING if its DESTROY was delivered ("avoid the delivery of the
    destroy event in death_by_timeout()"); get_next_corpse() takes a reference and drops
    nf_conntrack_lock (2.6.31 as released).

    Enabled for a flush call that is inside get_next_corpse().
    """
    current = _call(config, state, call, "found")
    if current is None:
        return None
    if not current.failed:
        state = _set_dying(state, current.slot)
    state = _get_ref(state, current.slot)
    return _set(state, call, evolve(current, pc="del_timer", held=True, failed=False))


def flush_done(config: Config, state: State, call: int) -> State | None:
    """get_next_corpse() finds no hashed conntrack: it sets DYING on every unconfirmed one
    (2.6.31) and the flush returns.

    Enabled for a flush between entries when the hash is empty and no other call holds
    nf_conntrack_lock.
    """
    current = _call(config, state, call, "next_corpse")
    if current is None or state.kernel.hash or not _lock_free_for(state, call):
        return None
    if variant_of(config.variant).flush_marks_unconfirmed:
        for slot in state.kernel.unconfirmed:
            state = _set_dying(state, slot)
    return _set(state, call, None)


# --- steps of a call in progress --------------------------------------------------------------


def del_timer(config: Config, state: State, call: int) -> State | None:
    """del_timer(&ct->timeout) (kernel/timer.c, 2.6.31): if the timer was pending it is now
    idle and the caller owns the deletion; otherwise its handler runs or ran elsewhere.

    Enabled for a call at its del_timer(): ctnetlink_del_conntrack() first (with
    `delete_takes_timer`) or in nf_ct_kill() after DYING (as released), the flush iterator
    after get_next_corpse(). On success: with `delete_takes_timer` or `iterator_takes_timer`
    the caller's own deletion body follows (report with its port id); nf_ct_kill() calls
    ct->timeout.function, which is death_by_timeout() for a hashed conntrack and
    death_by_event() on the dying list (run here in one step); the 2.6.31 iterator calls
    death_by_timeout() by name whatever the timer was armed for. On failure: put. With
    `retry_timer_separate` the retry of a dying conntrack is not ct->timeout, so del_timer()
    fails on it.
    """
    current = _call(config, state, call, "del_timer")
    if current is None:
        return None
    slot = current.slot
    ct = state.ct(slot)
    assert ct is not None
    separate = config.retry_timer_separate and slot in state.kernel.dying
    if ct.timer == NO_TIMER or separate:
        # With a separate retry timer, a dying conntrack's ct->timeout is idle (its owner
        # took it before the dying list) and `timer` is the event cache's retry timer.
        return _set(state, call, evolve(current, pc="put"))
    state = set_ct(state, slot, evolve(ct, timer=NO_TIMER))
    takes = config.delete_takes_timer if current.fn == CTNETLINK else config.iterator_takes_timer
    if takes:
        body = "test_dying" if config.delete_test_and_set_dying else "report"
        return _set(state, call, evolve(current, pc=body))
    if current.fn == CTNETLINK and slot in state.kernel.dying:
        return _set(_death_by_event_inline(config, state, slot), call, evolve(current, pc="put"))
    return _set(state, call, evolve(current, pc="test_dying", inline=True))


def _death_by_event_inline(config: Config, state: State, slot: int) -> State:
    """death_by_event() run by nf_ct_kill() after it cancelled the retry: DESTROY again (the
    remembered pid), on failure the retry re-armed, on success DYING set, the conntrack taken
    off the dying list and the list's reference dropped."""
    state, ret = nf_conntrack_eventmask_report(config, state, slot, IPCT_DESTROY, 0, False)
    if ret < 0:
        return arm_retry_timer(state, slot)
    state = _set_dying(state, slot)
    return nf_conntrack_free(state, slot)


def test_dying(config: Config, state: State, call: int) -> State | None:
    """death_by_timeout() tests IPS_DYING_BIT (2.6.31): clear, it reports DESTROY; set (a
    deleter already delivered it), it goes on to set DYING and unhash. 3.17 to 4.8
    nf_ct_delete() has the same test (`if (nf_ct_is_dying(ct)) goto delete;`).

    With `delete_test_and_set_dying` this is nf_ct_delete()'s first line in the kernels
    without a conntrack timer, `if (test_and_set_bit(IPS_DYING_BIT, &ct->status)) return
    false;`: clear, DYING is set now and the DESTROY reported next; set, the call gives up
    (puts its own reference, if it holds one). Every deletion body starts here then, also
    after a successful del_timer() (the model keeps the timer, so the guard is in addition).

    Enabled for a call at the start of the death_by_timeout() or nf_ct_delete() body.
    """
    current = _call(config, state, call, "test_dying")
    if current is None:
        return None
    ct = state.ct(current.slot)
    assert ct is not None
    if config.delete_test_and_set_dying:
        if ct.dying:
            # nf_ct_delete() returns false: another CPU owns the deletion.
            return _set(state, call, evolve(current, pc="put") if current.held else None)
        return _set(_set_dying(state, current.slot), call, evolve(current, pc="report"))
    return _set(state, call, evolve(current, pc="set_dying" if ct.dying else "report"))


def report_destroy(config: Config, state: State, call: int) -> State | None:
    """nf_conntrack_event_report(IPCT_DESTROY, ct, pid, report) (2.6.31): send the DESTROY;
    the send itself still refuses a conntrack that is DYING (and then returns success).

    Enabled for a call at its report: ctnetlink_del_conntrack() (its requester's port id and
    echo), the death_by_timeout() body (port id 0), the deletion body after a successful
    del_timer() in the later eras. Next: on failure unhash (then the dying list); on success
    set DYING. With `retry_by_worker` (3.17 to 4.8) a delivered DESTROY first runs
    nf_conntrack_ecache_work(), which kicks a pending worker; with
    `delete_test_and_set_dying` DYING is already set and the unhash follows.
    """
    current = _call(config, state, call, "report")
    if current is None:
        return None
    state = note_death(state, current.slot)
    # death_by_timeout() reports with port id 0 and no echo, also when called inline.
    portid, echo = (0, False) if current.inline else (current.portid, current.echo)
    state, ret = nf_conntrack_eventmask_report(
        config, state, current.slot, IPCT_DESTROY, portid, echo
    )
    failed = ret < 0
    if failed:
        return _set(state, call, evolve(current, pc="unlink", failed=True))
    state = nf_conntrack_ecache_work(config, state)
    after = "unlink" if config.delete_test_and_set_dying else "set_dying"
    return _set(state, call, evolve(current, pc=after, failed=False))


def set_dying(config: Config, state: State, call: int) -> State | None:
    """set_bit(IPS_DYING_BIT, &ct->status) after a delivered DESTROY (2.6.31): later senders
    are refused. ctnetlink_del_conntrack() as released then calls nf_ct_kill(); every other
    body unhashes.

    Enabled for a call whose DESTROY was delivered (or found DYING already set).
    """
    current = _call(config, state, call, "set_dying")
    if current is None:
        return None
    state = _set_dying(state, current.slot)
    kill = current.fn == CTNETLINK and not config.delete_takes_timer and not current.inline
    return _set(state, call, evolve(current, pc="del_timer" if kill else "unlink"))


def _set_dying(state: State, slot: int) -> State:
    ct = state.ct(slot)
    assert ct is not None
    return set_ct(state, slot, evolve(ct, dying=True))


def unlink(config: Config, state: State, call: int) -> State | None:
    """nf_ct_delete_from_lists() (2.6.31): clean_from_lists() deletes both tuple nodes from the
    hash under nf_conntrack_lock. A conntrack that is no longer hashed has a poisoned node:
    the kernel oopses (the model crashes, `CRASH_DOUBLE_UNLINK`).

    Enabled for a call at its unhash, when no other call holds nf_conntrack_lock. Next: the
    dying list after a failed DESTROY, else the put of the hash's reference.
    """
    current = _call(config, state, call, "unlink")
    if current is None or not _lock_free_for(state, call):
        return None
    slot = current.slot
    kernel = state.kernel
    if slot not in kernel.hash:
        return with_kernel(state, evolve(kernel, crashed=CRASH_DOUBLE_UNLINK))
    state = with_kernel(state, evolve(kernel, hash=without(kernel.hash, slot)))
    return _set(state, call, evolve(current, pc="insert_dying" if current.failed else "put_base"))


def insert_dying(config: Config, state: State, call: int) -> State | None:
    """nf_ct_insert_dying_list() (2.6.31): add to the dying list under nf_conntrack_lock, then
    setup_timer(&ct->timeout, death_by_event) and add_timer() with the random retry delay.
    If ct->timeout is still pending (nobody took it) the timer wheel still links it: the model
    crashes (`CRASH_TIMER_PENDING`), as it does for a node already on the dying list.

    Enabled for a call whose DESTROY failed, after the unhash, when no other call holds
    nf_conntrack_lock. The list keeps the hash's reference; a lookup's reference is put next.
    With `retry_by_worker` (3.17 to 4.8) no timer is armed: the ecache work is scheduled
    instead (`nf_ct_dying_list_add`).
    """
    current = _call(config, state, call, "insert_dying")
    if current is None or not _lock_free_for(state, call):
        return None
    slot = current.slot
    ct = state.ct(slot)
    assert ct is not None
    kernel = state.kernel
    if slot in kernel.dying:
        return with_kernel(state, evolve(kernel, crashed=CRASH_DOUBLE_DYING))
    if ct.timer != NO_TIMER:
        return with_kernel(state, evolve(kernel, crashed=CRASH_TIMER_PENDING))
    state = nf_ct_dying_list_add(config, state, slot)
    return _set(state, call, _after_put(current) if not current.held else evolve(current, pc="put"))


def put(config: Config, state: State, call: int) -> State | None:
    """nf_ct_put() (2.6.31): drop one reference; the last one frees the conntrack.

    Enabled for a call at a put: `put_base` drops the reference the hash owned (after a
    delivered DESTROY and the unhash), `put` the call's own lookup reference. A flush then
    goes on with the next entry; every other call returns.
    """
    calls = state.kernel.calls
    if not 0 <= call < len(calls) or calls[call].pc not in ("put", "put_base"):
        return None
    current = _call(config, state, call, calls[call].pc)
    if current is None:
        return None
    state = nf_ct_put(state, current.slot)
    if state.kernel.crashed:
        return state
    if current.pc == "put_base" and current.held:
        return _set(state, call, evolve(current, pc="put"))
    return _set(state, call, _after_put(current))


def _after_put(current: Call) -> Call | None:
    """What a call does after its last put: a flush takes the next entry, others return."""
    if current.fn == FLUSH:
        return Call(FLUSH, -1, "next_corpse", current.portid, current.echo)
    return None


# --- the redelivery worker of 3.17 to 4.8 ------------------------------------------------------


def ecache_work_evict_list(config: Config, state: State) -> State | None:
    """The ecache work runs (`retry_by_worker`): ecache_work() calls ecache_work_evict_list()
    for the dying list of every CPU (net/netfilter/nf_conntrack_ecache.c, 3.17 to 4.8).

    Enabled when the work is due. The walk, from the head under the list's lock: an entry
    with IPS_DYING_BIT set is skipped (`if (nf_ct_is_dying(ct)) continue;`: its DESTROY was
    delivered and it waits for its last reference); for the others DESTROY is sent again
    (nf_conntrack_event(), port id 0, so the remembered requester's); at the first failure
    the walk stops (STATE_CONGESTED) and the work is rescheduled in ECACHE_RETRY_WAIT
    (`worker_retry_delay`); a delivered entry gets `set_bit(IPS_DYING_BIT)` and, after the
    walk, nf_ct_put() of the reference the hash owned. If nothing failed the work is not
    rescheduled. ecache_dwork_pending is set only with a positive delay.

    With `ecache_destroy_state` ("netfilter: don't rely on DYING bit to detect when destroy
    event was sent", 4.9) the test is `e->state != NFCT_ECACHE_DESTROY_FAIL` instead, and a
    delivered entry gets NFCT_ECACHE_DESTROY_SENT. The model keeps on the dying list only the
    conntracks whose DESTROY failed (a delivered one is unlinked from every list at once, and
    its last put frees it), so there every entry is in state DESTROY_FAIL until the worker
    delivers it and takes it off: with the three-state, nothing on the model's list is
    skipped.

    Left out: the per-CPU lists (one list stands for them all, in the order the work would
    meet them), the 16-entry batch that ends a walk with STATE_RESTART (delay 0), and the
    `!nf_ct_is_confirmed()` test of 4.9 (everything on the model's dying list is confirmed).
    """
    if config.granularity != "smp" or not config.retry_by_worker or state.kernel.crashed:
        return None
    kernel = state.kernel
    if kernel.worker != 0:
        return None
    state = with_kernel(state, evolve(kernel, worker=-1))
    delivered: list[int] = []
    delay = -1
    for slot in kernel.dying:
        ct = state.ct(slot)
        assert ct is not None
        if ct.dying and not config.ecache_destroy_state:
            continue
        state, ret = nf_conntrack_eventmask_report(config, state, slot, IPCT_DESTROY, 0, False)
        if ret < 0:
            delay = config.worker_retry_delay
            break
        if not config.ecache_destroy_state:
            state = _set_dying(state, slot)
        delivered.append(slot)
    for slot in delivered:
        state = nf_conntrack_free(state, slot)
        if state.kernel.crashed:
            return state
    return with_kernel(state, evolve(state.kernel, worker=delay, dwork_pending=delay > 0))
