"""The conntrack event cache: caching event bits, reporting them, and the missed-event cache.

Abstracts include/net/netfilter/nf_conntrack_ecache.h and net/netfilter/nf_conntrack_ecache.c
(Linux 2.6.31): nf_conntrack_event_cache(), nf_conntrack_eventmask_report() and
nf_ct_deliver_cached_events(). For 2.6.30 the same entry points send once and ignore failures:
there is no `missed` field and no requester pid is remembered.

Left out: the unlocked read of `missed` in nf_ct_deliver_cached_events() (the kernel comment says
an event may then be sent twice); every action here is atomic.
"""

from __future__ import annotations

from nfct_spec.models import observers
from nfct_spec.models.bits import IPCT_DESTROY
from nfct_spec.models.config import Config
from nfct_spec.models.netlink import ctnetlink_conntrack_event
from nfct_spec.models.state import (
    CT_CACHE,
    CT_MISSED,
    CT_PID,
    Conntrack,
    State,
    new_message,
    new_state,
    set_ct,
    set_field,
    with_ct,
)
from nfct_spec.models.variants import variant_of


def nf_conntrack_event_cache(state: State, slot: int, bits: int) -> State:
    """Record event bits in `cache` while a packet is processed (no-op without an ecache)."""
    ct = state.ct(slot)
    if ct is None or not ct.ecache or not bits:
        return state
    kernel = with_ct(state.kernel, slot, set_field(ct, CT_CACHE, ct.cache | bits))
    return new_state(kernel, observers.raised(state.ghost, slot, bits))


def _confirmed(state: State, slot: int) -> bool:
    """nf_ct_is_confirmed(): IPS_CONFIRMED is set at the confirm and never cleared. Atomic
    steps only send for a conntrack on the hash or the dying list; in smp a conntrack that an
    in-progress call unhashed and has not yet put on the dying list is still confirmed."""
    kernel = state.kernel
    if slot in kernel.hash or slot in kernel.dying:
        return True
    return bool(kernel.refs) and slot not in kernel.unconfirmed


def no_event_cb(config: Config, state: State) -> bool:
    """6.x: the exiting namespace's event callback is gone (ctnetlink_net_pre_exit() ->
    nf_conntrack_unregister_notifier(net)), so nf_conntrack_eventmask_report() and
    nf_ct_deliver_cached_events() find `net->ct.nf_conntrack_event_cb` NULL and return 0 (as
    if delivered) without sending anything. 2.6.30 and 2.6.31 have one global callback, which
    the exit of a namespace other than init_net leaves in place."""
    return state.kernel.exiting and variant_of(config.variant).netns_ctnetlink


def _send(
    config: Config, state: State, slot: int, ct: Conntrack, bits: int, portid: int, report: bool
) -> tuple[State, int]:
    ghost = observers.reporting(state.ghost, slot)
    msg = new_message(slot, ct.flow, bits, observers.uid_of(ghost, slot))
    if ghost is not state.ghost:
        state = new_state(state.kernel, ghost)
    state, ret = ctnetlink_conntrack_event(config, state, msg, portid, report)
    if ret == 0:
        ghost = observers.delivered(state.ghost, slot, bits)
        return (state if ghost is state.ghost else new_state(state.kernel, ghost)), 0
    return state, ret


def nf_conntrack_eventmask_report(
    config: Config, state: State, slot: int, eventmask: int, portid: int, report: bool
) -> tuple[State, int]:
    """Report `eventmask` for a confirmed, not-dying conntrack; returns (state, ret).

    2.6.31: a remembered `pid` (a DESTROY re-send for a process) is used instead of `portid`
    and then `missed` is not added. On failure, a user-triggered DESTROY (portid != 0) whose pid
    is not yet remembered stores it; any other failed event is OR-ed into `missed`. On success
    the missed bits that were sent are cleared. 2.6.30 sends `eventmask` once and returns the
    result, which its callers ignore. 6.x (nf_conntrack_eventmask_report() and
    __nf_conntrack_eventmask_report(), nf_conntrack_ecache.c) sends for dying conntracks too
    (the DESTROY is sent after DYING is set), ORs every failed event into `missed`, and also
    remembers the pid of a failed user-triggered DESTROY.

    The check of a dying conntrack is 2.6.31's and is still there in 3.17 to 4.8
    (`if (nf_ct_is_confirmed(ct) && !nf_ct_is_dying(ct))`, nf_conntrack_ecache.h): the send is
    skipped and 0 returned, which a caller takes for a delivered DESTROY. With the smp era
    `ecache_destroy_state` ("netfilter: don't rely on DYING bit to detect when destroy event
    was sent", 4.9) only `nf_ct_is_confirmed(ct)` is tested.
    """
    variant = variant_of(config.variant)
    ct = state.ct(slot)
    if ct is None or not ct.ecache or not _confirmed(state, slot) or no_event_cb(config, state):
        return state, 0
    if ct.dying and not variant.single_winner_delete and not config.ecache_destroy_state:
        return state, 0
    if not variant.missed_cache:
        return _send(config, state, slot, ct, eventmask, portid, report)
    item_pid = ct.pid or portid
    missed = 0 if ct.pid else ct.missed
    state, ret = _send(config, state, slot, ct, eventmask | missed, item_pid, report)
    ct = sent = state.ct(slot)
    assert ct is not None
    if ret < 0:
        remember = eventmask & IPCT_DESTROY and ct.pid == 0 and portid != 0
        if remember:
            ct = set_field(ct, CT_PID, portid)
        if variant.single_winner_delete or not remember:
            ct = set_field(ct, CT_MISSED, ct.missed | eventmask)
    elif missed:
        ct = set_field(ct, CT_MISSED, ct.missed & ~missed)
    return (state if ct is sent else set_ct(state, slot, ct)), ret


def nf_ct_deliver_cached_events(config: Config, state: State, slot: int) -> State:
    """At the confirm hook: take `cache` (it becomes 0) and send `cache | missed`.

    2.6.31 sends only if `cache` held new bits: missed bits wait for the next packet that
    caches an event. A failure ORs the new bits into `missed`; a success clears the missed bits
    that were sent. Nothing is sent for an unconfirmed or dying conntrack. 6.x sends whenever
    `cache | missed` is non-empty, so every packet retries the missed bits.
    """
    ct = state.ct(slot)
    if ct is None or not ct.ecache or no_event_cb(config, state):
        return state
    events = ct.cache
    if events:
        ct = set_field(ct, CT_CACHE, 0)
        state = set_ct(state, slot, ct)
    retry = variant_of(config.variant).missed_every_packet and ct.missed
    if not _confirmed(state, slot) or ct.dying or not (events or retry):
        return state
    if not variant_of(config.variant).missed_cache:
        state, _ = _send(config, state, slot, ct, events, 0, False)
        return state
    missed = ct.missed
    state, ret = _send(config, state, slot, ct, events | missed, 0, False)
    ct = sent = state.ct(slot)
    assert ct is not None
    if ret < 0:
        ct = set_field(ct, CT_MISSED, ct.missed | events)
    elif missed:
        ct = set_field(ct, CT_MISSED, ct.missed & ~missed)
    return state if ct is sent else set_ct(state, slot, ct)
