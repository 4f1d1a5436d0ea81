"""Kernel actions of the conntrack core: packets, confirmation, expiry, early drop, retries.

Each public function is one action of the registry: it takes the config, a state and explicit
arguments, and returns the successor state or None when the action is not enabled with those
arguments. Citations are to net/netfilter/nf_conntrack_core.c of Linux 2.6.31 unless stated
otherwise; where 2.6.30 or 6.x (Linux 6.18) differ, the docstring says how and the variant
flags (`models/variants.py`) select it. The 6.x-only actions are in `models/redelivery.py`.
"""

from __future__ import annotations

from nfct_spec.models import observers
from nfct_spec.models.bits import IPCT_DESTROY, IPCT_NEW, IPCT_PROTOINFO, IPCT_STATUS
from nfct_spec.models.config import Config
from nfct_spec.models.ecache import (
    nf_conntrack_event_cache,
    nf_conntrack_eventmask_report,
    nf_ct_deliver_cached_events,
)
from nfct_spec.models.lists import (
    arm_retry_timer,
    nf_conntrack_ecache_work,
    nf_conntrack_free,
    nf_ct_delete_from_lists,
    nf_ct_dying_list_add,
    note_death,
    set_dying_bit,
)
from nfct_spec.models.netlink import ctnetlink_expect_event
from nfct_spec.models.redelivery import nf_ct_delete
from nfct_spec.models.state import (
    CRASH_DEADLOCK_CONNTRACK_LOCK,
    CT_ASSURED,
    CT_TIMER,
    EXPECT_MESSAGE,
    K_CT_COUNT,
    NO_TIMER,
    Conntrack,
    State,
    evolve,
    insert_sorted,
    new_state,
    set_at,
    set_ct,
    set_field,
    set_fields,
    with_ct,
    with_kernel,
    without,
)
from nfct_spec.models.variants import variant_of

PACKETS: tuple[str, ...] = ("new", "plain", "assure", "protoinfo")
"""What a packet does to its conntrack: create it, only refresh it, make it ASSURED (raising
IPCT_STATUS), or change its protocol state (raising IPCT_PROTOINFO)."""


def death_by_timeout(config: Config, state: State, slot: int) -> State | None:
    """The conntrack's timeout timer expires (or early_drop, flush or nf_ct_kill steal it).

    Enabled as a timer handler for a hashed conntrack whose timer reached 0.

    2.6.31 (dd7669a92c): unless the DYING bit is set, send DESTROY; if that fails, unlink from
    the hash, put the conntrack on the dying list and arm the retry timer; otherwise set DYING,
    unlink and drop the last reference (freed, count decremented). 2.6.30: DESTROY is sent from
    destroy_conntrack() and its result ignored: the conntrack is always freed.

    Left out: the reference a packet in flight would hold (packets on existing conntracks are
    atomic in this model), and the helper and expectation clean-up.
    """
    ct = state.ct(slot)
    if ct is None or slot not in state.kernel.hash or ct.timer != 0:
        return None
    return death_by_timeout_now(config, state, slot)


def death_by_timeout_now(config: Config, state: State, slot: int) -> State:
    """death_by_timeout() run at once on a hashed conntrack whose timer was stolen
    (del_timer() succeeded), as early_drop, the flush iterator and nf_ct_kill() do.

    In the smp eras of 3.17 and later this is nf_ct_delete() (`nf_ct_dying_list_add`: the
    worker instead of a retry timer; after a delivered DESTROY `nf_conntrack_ecache_work`
    kicks a pending worker), and with `delete_test_and_set_dying` DYING is set first."""
    ct = state.ct(slot)
    assert ct is not None
    state = note_death(state, slot)
    state = set_ct(state, slot, set_field(ct, CT_TIMER, NO_TIMER))
    if config.delete_test_and_set_dying:
        # nf_ct_delete() with the guard of the timer removal: DYING before the report.
        state = set_dying_bit(state, slot)
    if not ct.dying:
        state, ret = nf_conntrack_eventmask_report(config, state, slot, IPCT_DESTROY, 0, False)
        if ret < 0 and variant_of(config.variant).reliable:
            state = nf_ct_delete_from_lists(state, slot)
            return nf_ct_dying_list_add(config, state, slot)
        state = nf_conntrack_ecache_work(config, state)
    state = set_dying_bit(state, slot)
    return nf_conntrack_free(state, slot)


def death_by_event(config: Config, state: State, slot: int) -> State | None:
    """The retry timer of a conntrack on the dying list fires: send DESTROY again.

    Enabled for a dying-list conntrack whose retry timer is pending, at any tick up to its
    bound (the random delay). 2.6.31 only. On failure re-arm the timer the same way (a retry
    timeout of 0 crashes); on success set DYING, unlink from the dying list, drop the last
    reference. The remembered requester pid is used and `missed` is then not added.
    """
    ct = state.ct(slot)
    if ct is None or slot not in state.kernel.dying or ct.timer == NO_TIMER:
        return None
    state = set_ct(state, slot, set_field(ct, CT_TIMER, NO_TIMER))
    state, ret = nf_conntrack_eventmask_report(config, state, slot, IPCT_DESTROY, 0, False)
    if ret < 0:
        return arm_retry_timer(state, slot)
    state = set_dying_bit(state, slot)
    return nf_conntrack_free(state, slot)


def nf_ct_release_dying_list(config: Config, state: State) -> State | None:
    """Another namespace exits: its nf_conntrack_cleanup_net() calls
    nf_ct_release_dying_list(), which in 2.6.31 walks `init_net.ct.dying`, the modelled
    namespace's list, under spin_lock_bh(&nf_conntrack_lock), calling nf_ct_kill() on each
    entry ("never fails to remove them, no listeners at this point").

    Enabled with `Config.other_netns_exit` (2.6.31) while some held conntrack's retry timer is
    pending (an exit that finds none changes nothing the model tracks). nf_ct_kill() ->
    __nf_ct_kill_acct(): `if (del_timer(&ct->timeout)) ct->timeout.function(ct)`, and on the
    dying list that function is death_by_event(), run here inline: its DESTROY goes to the
    listeners of init_net; if it fails the retry timer is armed again (add_timer()) and the
    walk goes on; if it succeeds death_by_event() sets DYING and takes nf_conntrack_lock, which
    this CPU holds: a self-deadlock (`CRASH_DEADLOCK_CONNTRACK_LOCK`, terminal). Not enabled
    with the fixes: `release_own_dying_list` (the walk is of the exiting namespace's list) or
    `retry_timer_separate` (the retry is not on ct->timeout, so del_timer() fails on every held
    conntrack). At granularity smp it is one step taken while no other CPU holds
    nf_conntrack_lock, like every atomic kernel step.

    Left out: the exiting namespace's own conntracks (it is taken to have none), and module
    unload (the same walk on init_net's own exit, with ctnetlink gone, so every send
    succeeds).
    """
    if not config.other_netns_exit or config.release_own_dying_list:
        return None
    if config.retry_timer_separate:
        return None
    kernel = state.kernel
    if not any((ct := kernel.cts[s]) is not None and ct.timer != NO_TIMER for s in kernel.dying):
        return None
    for slot in kernel.dying:
        ct = state.ct(slot)
        if ct is None or ct.timer == NO_TIMER:
            continue
        state = set_ct(state, slot, set_field(ct, CT_TIMER, NO_TIMER))
        state, ret = nf_conntrack_eventmask_report(config, state, slot, IPCT_DESTROY, 0, False)
        if ret < 0:
            state = arm_retry_timer(state, slot)
            if state.kernel.crashed:
                return state
            continue
        state = set_dying_bit(state, slot)
        return with_kernel(state, evolve(state.kernel, crashed=CRASH_DEADLOCK_CONNTRACK_LOCK))
    return state


def _wants_ecache(config: Config, state: State) -> bool:
    """nf_ct_ecache_ext_add(): 2.6.30 always reports; 2.6.31 if `nf_conntrack_events` is on;
    6.x also in auto mode (2) if some ctnetlink listener exists anywhere right now."""
    variant = variant_of(config.variant)
    events = state.kernel.nf_conntrack_events
    if not variant.events_sysctl:
        return True
    if events == 2 and variant.events_auto:
        return any(
            sock.open and set(listener.groups) & {"new", "update", "destroy"}
            for sock, listener in zip(state.kernel.sockets, config.listeners, strict=True)
        )
    return events != 0


def _allocate(config: Config, state: State, flow: int, slot: int) -> State:
    """init_conntrack() after the limit check: a new conntrack in memory slot `slot`, on the
    unconfirmed list, with NEW cached.

    The event-cache extension is added only if `nf_conntrack_events` is on now (2.6.31
    nf_ct_ecache_ext_add()); 2.6.30 has no such switch.
    """
    ct = Conntrack(flow=flow, ecache=_wants_ecache(config, state))
    kernel = state.kernel
    kernel = evolve(
        kernel,
        cts=(*kernel.cts[:slot], ct, *kernel.cts[slot + 1 :]),
        unconfirmed=insert_sorted(kernel.unconfirmed, slot),
        alloc_pending=-1,
        alloc_slot=-1,
    )
    if kernel.refs:
        kernel = evolve(kernel, refs=set_at(kernel.refs, slot, 1))
    ghost = state.ghost
    if ghost.level:
        ghost = observers.allocated(ghost, slot, flow, [s.open for s in kernel.sockets])
    return nf_conntrack_event_cache(new_state(kernel, ghost), slot, IPCT_NEW)


def nf_conntrack_in(
    config: Config, state: State, flow: int, packet: str, slot: int
) -> State | None:
    """A packet of `flow` passes the conntrack hook.

    Enabled for `new` when no conntrack of the flow's tuple is hashed or unconfirmed and memory
    slot `slot` is free; for the other packets (with `slot` -1) when the tuple's conntrack is
    hashed.

    `new`: nf_conntrack_alloc() counts the new conntrack first, and if a limit is set and the
    count now exceeds it, early_drop (the next step) must find a victim. Otherwise the
    conntrack is allocated in `slot` on the unconfirmed list with NEW cached. The slab may hand
    out any free object, so the slot is an argument (`slot` is the object's address, which
    ctnetlink reports as the id).

    `plain`, `assure`, `protoinfo`: the tuple's conntrack is hashed; the packet refreshes its
    timeout (nf_ct_refresh_acct()), may cache IPCT_STATUS (first time ASSURED is set) or
    IPCT_PROTOINFO, and at the confirm hook nf_ct_deliver_cached_events() sends the cache.

    6.x: a lookup that finds the tuple's conntrack expired reaps it (nf_ct_gc_expired()) and
    goes on as for a new flow; a packet of an expired conntrack is therefore always `new`, and
    it may get the reaped conntrack's memory.

    Left out: per-protocol state machines (a packet kind stands for what they raise), NAT,
    helpers other than the expectation event, and concurrent packets of one flow: such a packet
    is processed from the hook to the confirm hook in one step, and a new flow has at most one
    unconfirmed conntrack. The memory is chosen when the packet arrives, before early drop (the
    kernel allocates it after early drop and may reuse the victim's object; the victim's tuple
    differs, so its id differs too). `Config.slots` bounds the conntracks that exist at once:
    a new flow that finds every slot in use is not modelled. No packet enters a namespace
    that is exiting (`env_netns_exit`).
    """
    if not 0 <= flow < config.flows or state.kernel.exiting:
        return None
    hashed = state.hashed_slot_of_flow(flow)
    if hashed >= 0 and variant_of(config.variant).gc_expiry:
        expired = state.kernel.cts[hashed]
        if expired is not None and expired.timer == 0:
            if packet != "new":
                return None
            state, _ = nf_ct_delete(config, state, hashed, 0, False)
            hashed = -1
    if packet == "new":
        if hashed >= 0 or state.ct(slot) is not None or not 0 <= slot < config.slots:
            return None
        for u in state.kernel.unconfirmed:
            other = state.kernel.cts[u]
            if other is not None and other.flow == flow:
                return None
        kernel = set_field(state.kernel, K_CT_COUNT, state.kernel.ct_count + 1)
        limit = config.nf_conntrack_max
        if limit and kernel.ct_count > limit:
            return with_kernel(state, evolve(kernel, alloc_pending=flow, alloc_slot=slot))
        return _allocate(config, with_kernel(state, kernel), flow, slot)
    if hashed < 0 or slot != -1:
        return None
    ct = state.kernel.cts[hashed]
    assert ct is not None
    bits = packet_bits(config, ct, packet)
    if bits is None:
        return None
    # __nf_ct_refresh_acct(): mod_timer_pending(), so a timer that is not pending (its
    # handler is running on another CPU, granularity smp) stays so.
    timer = config.ct_timeout if ct.timer != NO_TIMER else NO_TIMER
    ct = set_fields(ct, CT_TIMER, timer, CT_ASSURED, ct.assured or packet == "assure")
    state = set_ct(state, hashed, ct)
    state = nf_conntrack_event_cache(state, hashed, bits)
    return nf_ct_deliver_cached_events(config, state, hashed)


def packet_bits(config: Config, ct: Conntrack, packet: str) -> int | None:
    """The event bits a packet of an existing conntrack raises, or None if the config does not
    model that packet (its event bit is not modelled, or the conntrack is already ASSURED)."""
    if packet == "plain":
        return 0
    if packet == "assure" and "STATUS" in config.event_bits and not ct.assured:
        return IPCT_STATUS
    if packet == "protoinfo" and "PROTOINFO" in config.event_bits:
        return IPCT_PROTOINFO
    return None


def early_drop(config: Config, state: State, victim: int) -> State | None:
    """The table is full: evict a hashed, non-ASSURED conntrack near the new tuple's bucket.

    Enabled only while an allocation waits for it. `victim` is the evicted slot, or -1 when
    the scan (at most NF_CT_EVICTION_RANGE entries from the new tuple's bucket) finds none; then
    the count is decremented and the packet dropped ("table full, dropping packet"). The victim
    dies through death_by_timeout(): in 2.6.31, if its DESTROY fails it only moves to the dying
    list, still counted, yet early_drop reports success and the allocation goes ahead. 6.x counts
    a victim only if nf_ct_delete() freed it; otherwise the packet is dropped.
    """
    flow, slot = state.kernel.alloc_pending, state.kernel.alloc_slot
    if flow < 0:
        return None
    if victim == -1:
        kernel = evolve(
            state.kernel, ct_count=state.kernel.ct_count - 1, alloc_pending=-1, alloc_slot=-1
        )
        return with_kernel(state, kernel)
    ct = state.ct(victim)
    if ct is None or victim not in state.kernel.hash or ct.assured:
        return None
    if ct.timer == NO_TIMER:
        # smp: del_timer() fails while the victim's handler runs on another CPU; the scan
        # then drops nothing, which is the outcome of victim -1.
        return None
    if variant_of(config.variant).single_winner_delete:
        state, freed = nf_ct_delete(config, state, victim, 0, False)
        if not freed:
            kernel = evolve(
                state.kernel, ct_count=state.kernel.ct_count - 1, alloc_pending=-1, alloc_slot=-1
            )
            return with_kernel(state, kernel)
        return _allocate(config, state, flow, slot)
    state = death_by_timeout_now(config, state, victim)
    if state.kernel.crashed:
        return state
    return _allocate(config, state, flow, slot)


def __nf_conntrack_confirm(config: Config, state: State, slot: int) -> State | None:
    """The first packet reaches the confirm hook: hash the conntrack, start its timer, and send
    the cached events (nf_conntrack_confirm() then nf_ct_deliver_cached_events()).

    Enabled for an unconfirmed conntrack. In 2.6.31 the DYING bit is not checked here, so a
    conntrack that a flush marked dying while unconfirmed is hashed anyway and never reports
    (the check came with a 2014 fix of the race against get_next_corpse()); 6.x drops such a
    conntrack instead.
    """
    if slot not in state.kernel.unconfirmed:
        return None
    ct = state.ct(slot)
    assert ct is not None
    if ct.dying and variant_of(config.variant).confirm_drops_dying:
        return nf_conntrack_free(state, slot)
    kernel = evolve(
        state.kernel,
        unconfirmed=without(state.kernel.unconfirmed, slot),
        hash=insert_sorted(state.kernel.hash, slot),
    )
    kernel = with_ct(kernel, slot, set_field(ct, CT_TIMER, config.ct_timeout))
    return nf_ct_deliver_cached_events(config, with_kernel(state, kernel), slot)


def destroy_conntrack(config: Config, state: State, slot: int) -> State | None:
    """The first packet is dropped before the confirm hook (a later rule drops it): its
    reference was the last, so the unconfirmed conntrack is freed without any event.

    Enabled for an unconfirmed conntrack. Left out: why the packet is dropped (any later hook).
    """
    if slot not in state.kernel.unconfirmed:
        return None
    return nf_conntrack_free(state, slot)


def nf_ct_expect_related(config: Config, state: State, flow: int) -> State | None:
    """A helper creates an expectation for a hashed conntrack: IPEXP_NEW is sent best effort.

    nf_ct_expect_event_report() (2.6.31) ignores the result: nothing is cached or retried.
    Enabled when the config models expectations. The expectation object itself is left out,
    and so is what the message says (no action or property reads it).
    """
    if not config.expectations or state.hashed_slot_of_flow(flow) < 0:
        return None
    return ctnetlink_expect_event(config, state, EXPECT_MESSAGE)
