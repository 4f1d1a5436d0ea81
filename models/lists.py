"""Moving a conntrack between the kernel's lists, freeing it, and arming its retry timer.

Abstracts clean_from_lists() / nf_ct_delete_from_lists(), nf_ct_insert_dying_list(),
destroy_conntrack() and nf_conntrack_free() (net/netfilter/nf_conntrack_core.c, 2.6.31). A
conntrack's memory (its slot, and so its id) is released and `net->ct.count` decremented when
the last reference goes; the model drops references only where the kernel's final nf_ct_put()
would. The slot can then be allocated again, as the slab reuses the object.
"""

from __future__ import annotations

from nfct_spec.models import observers
from nfct_spec.models.config import Config
from nfct_spec.models.state import (
    CRASH_FREED_LINKED,
    CRASH_MOD_ZERO,
    CRASH_USE_AFTER_FREE,
    CT_DYING,
    CT_TIMER,
    K_DYING,
    NO_TIMER,
    State,
    evolve,
    new_state,
    set_at,
    set_ct,
    set_field,
    with_ct,
    with_kernel,
    without,
)


def nf_ct_delete_from_lists(state: State, slot: int) -> State:
    """Unlink from the hash table (and the unconfirmed list); the conntrack stays allocated."""
    kernel = state.kernel
    kernel = evolve(
        kernel, hash=without(kernel.hash, slot), unconfirmed=without(kernel.unconfirmed, slot)
    )
    return with_kernel(state, kernel)


def nf_conntrack_free(state: State, slot: int) -> State:
    """The last reference is gone: unlink from every list, free the slot, decrement the count.

    Granularity smp: this is the owner's reference (the one the hash or the dying list held);
    while an in-progress call still holds one of its own, the conntrack is only unlinked and
    that call's nf_ct_put() frees it (`nf_ct_put`). Freeing a conntrack that a call in
    progress still works on without a reference of its own (a running timer handler uses the
    hash's) is a use after free: the model crashes.
    """
    kernel = state.kernel
    if kernel.refs and kernel.refs[slot] > 1:
        kernel = evolve(
            kernel,
            hash=without(kernel.hash, slot),
            unconfirmed=without(kernel.unconfirmed, slot),
            dying=without(kernel.dying, slot),
            refs=set_at(kernel.refs, slot, kernel.refs[slot] - 1),
        )
        return with_kernel(state, kernel)
    if kernel.refs:
        if any(c.slot == slot and c.pc not in ("put", "put_base") for c in kernel.calls):
            return with_kernel(state, evolve(kernel, crashed=CRASH_USE_AFTER_FREE))
        kernel = evolve(kernel, refs=set_at(kernel.refs, slot, 0))
    kernel = evolve(
        kernel,
        cts=(*kernel.cts[:slot], None, *kernel.cts[slot + 1 :]),
        hash=without(kernel.hash, slot),
        unconfirmed=without(kernel.unconfirmed, slot),
        dying=without(kernel.dying, slot),
        ct_count=kernel.ct_count - 1,
    )
    ghost = state.ghost
    if ghost.level:
        referenced = observers.referenced_uids([s.queue for s in kernel.sockets])
        ghost = observers.freed(ghost, slot, referenced)
    return new_state(kernel, ghost)


def nf_ct_put(state: State, slot: int) -> State:
    """nf_ct_put() (granularity smp): drop one reference; the last one frees the conntrack
    (destroy_conntrack(), nf_conntrack_free()). A put of a freed conntrack, or a last put while
    a list still links it, crashes the model (use after free)."""
    kernel = state.kernel
    ct = state.ct(slot)
    if ct is None or not kernel.refs or kernel.refs[slot] <= 0:
        return with_kernel(state, evolve(kernel, crashed=CRASH_USE_AFTER_FREE))
    if kernel.refs[slot] > 1:
        refs = set_at(kernel.refs, slot, kernel.refs[slot] - 1)
        return with_kernel(state, evolve(kernel, refs=refs))
    if slot in kernel.hash or slot in kernel.dying or slot in kernel.unconfirmed:
        return with_kernel(state, evolve(kernel, crashed=CRASH_FREED_LINKED))
    return nf_conntrack_free(state, slot)


def nf_ct_insert_dying_list(state: State, slot: int) -> State:
    """Add at the head of the dying list and arm the retry timer (`death_by_event`).

    The timer expires after random32() % nf_conntrack_events_retry_timeout jiffies; the model
    keeps the upper bound (timeout - 1) and lets `death_by_event` fire at any tick up to it,
    which gives the same set of firing times without a random argument. A timeout of 0 is a
    division by zero in the kernel: the model enters the crashed state with the conntrack on the
    dying list and no timer.
    """
    kernel = set_field(state.kernel, K_DYING, (slot, *state.kernel.dying))
    state = with_kernel(state, kernel)
    return arm_retry_timer(state, slot)


def nf_ct_dying_list_add(config: Config, state: State, slot: int) -> State:
    """A conntrack whose DESTROY failed goes on the dying list and something will retry it.

    2.6.31 (and the smp eras before 3.17): `nf_ct_insert_dying_list`, a retry timer per
    conntrack. With `retry_by_worker` (3.17 to 4.8, nf_ct_delete()): nf_ct_delete_from_lists()
    adds it at the head of the (per-CPU) dying list and nf_conntrack_ecache_delayed_work()
    schedules the ecache work in HZ unless it is already pending, setting
    ecache_dwork_pending. The model's one list stands for the per-CPU lists (the worker walks
    them all), and it does both in one step: a worker run in between would only find the
    entry earlier.
    """
    if not config.retry_by_worker:
        return nf_ct_insert_dying_list(state, slot)
    kernel = set_field(state.kernel, K_DYING, (slot, *state.kernel.dying))
    if kernel.worker < 0:
        kernel = evolve(kernel, worker=config.worker_first_delay, dwork_pending=True)
    return with_kernel(state, kernel)


def nf_conntrack_ecache_work(config: Config, state: State) -> State:
    """After a delivered DESTROY (`retry_by_worker`, 3.17 to 4.8 nf_ct_delete()):
    nf_conntrack_ecache_work() runs a pending worker at once (mod_delayed_work(.., 0)) if
    ecache_dwork_pending is set, and clears the flag. Nothing otherwise."""
    kernel = state.kernel
    if not config.retry_by_worker or not kernel.dwork_pending:
        return state
    return with_kernel(state, evolve(kernel, worker=0, dwork_pending=False))


def arm_retry_timer(state: State, slot: int) -> State:
    """Set `ct->timeout` to the retry bound, or crash when the retry timeout is 0."""
    ct = state.ct(slot)
    assert ct is not None
    if state.kernel.events_retry_timeout <= 0:
        kernel = with_ct(state.kernel, slot, set_field(ct, CT_TIMER, NO_TIMER))
        return with_kernel(state, evolve(kernel, crashed=CRASH_MOD_ZERO))
    ct = set_field(ct, CT_TIMER, state.kernel.events_retry_timeout - 1)
    return set_ct(state, slot, ct)


def note_death(state: State, slot: int) -> State:
    """Ghost: the conntrack starts to die; a DESTROY event is raised for it (once)."""
    ct = state.ct(slot)
    if ct is None or not state.ghost.level:
        return state
    return new_state(state.kernel, observers.died(state.ghost, slot, ct.ecache))


def set_dying_bit(state: State, slot: int) -> State:
    """set_bit(IPS_DYING_BIT, &ct->status): no more events will be sent for it."""
    ct = state.ct(slot)
    assert ct is not None
    return set_ct(state, slot, set_field(ct, CT_DYING, True))
