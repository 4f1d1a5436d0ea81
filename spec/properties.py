"""Predicates of the catalogue's properties over model states and transitions.

State predicates (`invariant`, and witnesses of a state condition) take `(config, state)`;
transition predicates (`action`, and witnesses of a step) take `(config, pre, step, post)`.
Each returns True when the state or step is fine (invariants, action properties) or when it is
a witness (non-guarantees, reachability). They read the ghost's observer records
(`nfct_spec.models.observers`), never a growing history: `OBSERVES` says which observers each
needs, so that a search keeps only those.

A conntrack that is freed in a step leaves its complete record in the state right after that
step (`Ghost.freed`): what a property must know about how it ended is read there.
"""

from __future__ import annotations

from collections.abc import Mapping

from nfct_spec.models.bits import (
    GROUP_DESTROY,
    GROUP_NEW,
    GROUP_UPDATE,
    IPCT_DESTROY,
    IPCT_NEW,
    IPCT_PROTOINFO,
    IPCT_STATUS,
    ct_group,
)
from nfct_spec.models.config import Config
from nfct_spec.models.observers import (
    BITS,
    DUPS,
    IDS,
    KERNEL,
    NEWS,
    OBLIGATIONS,
    ORDER,
    RECEIPTS,
    Record,
)
from nfct_spec.models.registry import Step
from nfct_spec.models.smp import in_handler_body
from nfct_spec.models.state import (
    CRASH_DOUBLE_DYING,
    CRASH_DOUBLE_UNLINK,
    CRASH_FREED_LINKED,
    CRASH_TIMER_PENDING,
    CRASH_USE_AFTER_FREE,
    NO_TIMER,
    Message,
    State,
    is_deadlock,
)
from nfct_spec.models.variants import variant_of

TRANSITION_BITS = IPCT_NEW | IPCT_STATUS | IPCT_PROTOINFO | IPCT_DESTROY
ONE_TIME_BITS = IPCT_NEW | IPCT_DESTROY


def _bits(bits: int) -> list[int]:
    return [1 << b for b in range(bits.bit_length()) if bits >> b & 1]


def _subscribed_bits(config: Config, i: int) -> int:
    """The event bits a listener would see as messages of their own."""
    groups = config.listeners[i].groups
    mask = IPCT_DESTROY if GROUP_DESTROY in groups else 0
    if GROUP_NEW in groups:
        mask |= IPCT_NEW
    if GROUP_UPDATE in groups:
        mask |= IPCT_STATUS | IPCT_PROTOINFO
    return mask


def reliable_destroy_listeners(config: Config, state: State) -> list[int]:
    """The listeners with NETLINK_BROADCAST_ERROR, subscribed to DESTROY, open in `state`."""
    return [
        i
        for i, listener in enumerate(config.listeners)
        if listener.broadcast_error
        and GROUP_DESTROY in listener.groups
        and state.kernel.sockets[i].open
    ]


def int_arg(step: Step, name: str) -> int:
    """An integer argument of the step (-1 if it has none by that name)."""
    value = step.kwargs.get(name)
    return value if isinstance(value, int) else -1


def freed_records(pre: State, post: State) -> tuple[Record, ...]:
    """The records (as they are after the step) of the instances that the step freed."""
    return post.ghost.freed


def freed_slots(pre: State, post: State) -> list[int]:
    """The slots whose conntrack the step freed (a slot freed and allocated again in the same
    step holds a fresh, unconfirmed conntrack afterwards; a confirmed one never goes back)."""
    out = []
    for slot, ct in enumerate(pre.kernel.cts):
        if ct is None:
            continue
        after = post.kernel.cts[slot]
        renewed = slot not in pre.kernel.unconfirmed and slot in post.kernel.unconfirmed
        if after is None or renewed:
            out.append(slot)
    return out


def find_record(state: State, uid: int) -> Record | None:
    """The record with this uid, if the state keeps it."""
    for record in state.ghost.records:
        if record.uid == uid:
            return record
    return None


def _received(config: Config, pre: State, step: Step) -> tuple[int, Message, Record] | None:
    """The listener index, conntrack message and its instance's record (before the read) of
    what `step` hands to userspace, if it reads a tracked conntrack message."""
    if step.action != "env_recv":
        return None
    i = config.listener_index(str(step.kwargs["listener"]))
    sock = pre.kernel.sockets[i]
    if sock.sk_err or not sock.queue or sock.queue[0].expect:
        return None
    msg = sock.queue[0]
    record = find_record(pre, msg.uid)
    return None if record is None else (i, msg, record)


# --- invariants -------------------------------------------------------------------------------


def table_bound(config: Config, state: State) -> bool:
    """Once no allocation is in progress, count <= nf_conntrack_max (when a limit is set)."""
    k = state.kernel
    return (
        config.nf_conntrack_max == 0
        or k.alloc_pending >= 0
        or k.ct_count <= config.nf_conntrack_max
    )


def count_exact(config: Config, state: State) -> bool:
    """count equals the allocated conntracks, plus one while an allocation waits for early_drop."""
    k = state.kernel
    allocated = sum(1 for ct in k.cts if ct is not None)
    return k.ct_count == allocated + (1 if k.alloc_pending >= 0 else 0)


def one_place(config: Config, state: State) -> bool:
    """Each allocated conntrack is on exactly one of the unconfirmed list, hash, dying list."""
    k = state.kernel
    places = [*k.unconfirmed, *k.hash, *k.dying]
    return sorted(places) == [slot for slot, ct in enumerate(k.cts) if ct is not None]


def dying_has_retry(config: Config, state: State) -> bool:
    """Every conntrack on the dying list has a retry pending (unless crashed): its own retry
    timer in 2.6.31, the scheduled ecache worker in 6.x and in the smp eras of 3.17 and later
    (`retry_by_worker`)."""
    k = state.kernel
    if k.crashed:
        return True
    if not variant_of(config.variant).retry_timer or config.retry_by_worker:
        return not k.dying or k.worker >= 0
    return all(k.cts[s] is not None and k.cts[s].timer != NO_TIMER for s in k.dying)  # type: ignore[union-attr]


def missed_only_undelivered(config: Config, state: State) -> bool:
    """`missed` holds only bits raised for this conntrack and not sent successfully since."""
    cts = state.kernel.cts
    for record in state.ghost.records:
        ct = cts[record.slot] if record.live else None
        if ct is not None and ct.missed & ~record.pending:
            return False
    return True


def missed_keeps_undelivered(config: Config, state: State) -> bool:
    """Every bit raised for a live conntrack and not sent successfully since is still in its
    event cache or its missed cache, until the conntrack starts dying (then the DESTROY path
    owns its bits: `destroy-before-free`, `destroy-eventually`)."""
    cts = state.kernel.cts
    for record in state.ghost.records:
        ct = cts[record.slot] if record.live else None
        if ct is None or not ct.ecache or ct.dying or record.died:
            continue
        if record.pending & ~(ct.cache | ct.missed):
            return False
    return True


def no_crash(config: Config, state: State) -> bool:
    """No step divided by zero or otherwise faulted. A deadlock stops the model too, but it is
    no fault of memory or arithmetic: `deadlock-free` judges it."""
    crashed = state.kernel.crashed
    return not crashed or is_deadlock(crashed)


def deadlock_free(config: Config, state: State) -> bool:
    """No CPU waits for ever on a lock (`nfct_spec.models.state.DEADLOCK`): whatever step set
    the deadlock, on whichever lock."""
    return not is_deadlock(state.kernel.crashed)


# --- action properties ------------------------------------------------------------------------


def destroy_before_free(config: Config, pre: State, step: Step, post: State) -> bool:
    """A conntrack that reported events is freed only once every reliable DESTROY listener
    (BE, subscribed, open) has its DESTROY queued or read."""
    for record in freed_records(pre, post):
        if not record.reporting:
            continue
        for i in reliable_destroy_listeners(config, post):
            if pre.kernel.sockets[i].open and not record.seen[i].has_destroy:
                return False
    return True


def nothing_after_destroy(config: Config, pre: State, step: Step, post: State) -> bool:
    """No NEW or update message of a conntrack is read after its DESTROY was read."""
    received = _received(config, pre, step)
    if received is None:
        return True
    i, msg, record = received
    return bool(msg.bits & IPCT_DESTROY) or not record.seen[i].got & IPCT_DESTROY


def identity_unique(config: Config, pre: State, step: Step, post: State) -> bool:
    """Tuple plus id name one conntrack: no message of an older conntrack with the same tuple
    and id is read after a message of a newer one (`newer`)."""
    received = _received(config, pre, step)
    return received is None or not received[2].seen[received[0]].newer


def new_before_destroy(config: Config, pre: State, step: Step, post: State) -> bool:
    """A reliable listener subscribed to NEW and DESTROY, open since before the conntrack was
    created, reads its NEW (as a message of its own) before its DESTROY."""
    received = _received(config, pre, step)
    if received is None:
        return True
    i, msg, record = received
    listener = config.listeners[i]
    if not (msg.bits & IPCT_DESTROY and listener.broadcast_error):
        return True
    if GROUP_NEW not in listener.groups or not record.seen[i].owed:
        return True
    return bool(record.seen[i].got & IPCT_NEW)


# --- witnesses --------------------------------------------------------------------------------


def lost_without_be(config: Config, pre: State, step: Step, post: State) -> bool:
    """A conntrack is freed while a listener without BE had its DESTROY dropped and has
    neither read nor queued one: that listener lost the DESTROY for good."""
    for record in freed_records(pre, post):
        for i, listener in enumerate(config.listeners):
            seen = record.seen[i]
            if listener.broadcast_error or not seen.dropped & IPCT_DESTROY:
                continue
            if not seen.has_destroy:
                return True
    return False


def coalesced(config: Config, pre: State, step: Step, post: State) -> bool:
    """A listener reads a message that carries several state transitions at once, or a DESTROY
    while a transition it subscribes to was never read on its own."""
    received = _received(config, pre, step)
    if received is None:
        return False
    i, msg, record = received
    if len(_bits(msg.bits & TRANSITION_BITS)) >= 2:
        return True
    seen = record.seen[i]
    if not msg.bits & IPCT_DESTROY or not seen.owed:
        return False
    earlier = record.generated & _subscribed_bits(config, i) & ~IPCT_DESTROY
    return bool(earlier & ~msg.bits & ~seen.got)


def reordered(config: Config, pre: State, step: Step, post: State) -> bool:
    """A listener reads a DESTROY after the DESTROY of a conntrack that died later (`later`)."""
    received = _received(config, pre, step)
    if received is None:
        return False
    i, msg, record = received
    return bool(msg.bits & IPCT_DESTROY) and record.seen[i].later


def duplicated(config: Config, pre: State, step: Step, post: State) -> bool:
    """A listener reads a NEW or DESTROY of a conntrack that it has read before."""
    received = _received(config, pre, step)
    if received is None:
        return False
    i, msg, record = received
    return bool(msg.bits & ONE_TIME_BITS & record.seen[i].got)


def id_reused(config: Config, pre: State, step: Step, post: State) -> bool:
    """A listener reads a message of a conntrack after reading one of an earlier conntrack
    with the same tuple and id (`reuse`): it cannot tell the two apart."""
    received = _received(config, pre, step)
    return received is not None and received[2].seen[received[0]].reuse


def dropped_when_full(config: Config, pre: State, step: Step, post: State) -> bool:
    """A new flow is dropped although, without the dying entries, it would have fit."""
    if step.action != "early_drop" or step.kwargs.get("victim") != -1:
        return False
    k = pre.kernel
    return bool(k.dying) and k.ct_count - len(k.dying) <= config.nf_conntrack_max


def expectation_lost(config: Config, state: State) -> bool:
    """An expectation event was refused by a listener that set NETLINK_BROADCAST_ERROR."""
    return state.ghost.exp_lost


def missed_waits(config: Config, pre: State, step: Step, post: State) -> bool:
    """A packet that caches nothing leaves the missed events unsent although every reliable
    listener of their group has room now. A packet that meets an armed message-build failure
    does not count: its retry was made and failed to build (on 6.x that is not waiting)."""
    if step.action != "nf_conntrack_in" or step.kwargs.get("packet") != "plain":
        return False
    if pre.kernel.build_fail_armed:
        return False
    slot = pre.hashed_slot_of_flow(int_arg(step, "flow"))
    ct = pre.ct(slot)
    if ct is None or not ct.missed:
        return False
    after = post.ct(slot)
    if after is None or after.missed != ct.missed:
        return False
    group = ct_group(ct.missed)
    for i, listener in enumerate(config.listeners):
        sock = pre.kernel.sockets[i]
        if (
            sock.open
            and listener.broadcast_error
            and group in listener.groups
            and (sock.congested or len(sock.queue) >= listener.capacity)
        ):
            return False
    return True


def silent_destroy(config: Config, pre: State, step: Step, post: State) -> bool:
    """A confirmed conntrack without an event cache (events were off at its creation) is freed
    with no DESTROY while a reliable DESTROY listener is open."""
    for slot in freed_slots(pre, post):
        ct = pre.ct(slot)
        assert ct is not None
        confirmed = slot in pre.kernel.hash or slot in pre.kernel.dying
        if confirmed and not ct.ecache and reliable_destroy_listeners(config, post):
            return True
    return False


def auto_mode_late_listener(config: Config, pre: State, step: Step, post: State) -> bool:
    """In a config that stays in auto mode (`nf_conntrack_events` 2, never written), a confirmed
    conntrack without an event cache is freed with no DESTROY while a reliable DESTROY listener
    is open: it was created while no listener was subscribed, and the listener came later."""
    if config.nf_conntrack_events != 2:
        return False
    if any(name == "nf_conntrack_events" for name, _ in config.sysctl_writes):
        return False
    return silent_destroy(config, pre, step, post)


def early_drop_spares_assured(config: Config, pre: State, step: Step, post: State) -> bool:
    """An early drop never evicts an ASSURED conntrack."""
    if step.action != "early_drop":
        return True
    victim = int_arg(step, "victim")
    ct = pre.ct(victim) if victim >= 0 else None
    return ct is None or not ct.assured


def flush_confirm_race(config: Config, pre: State, step: Step, post: State) -> bool:
    """A conntrack that was unconfirmed during a flush is confirmed with DYING set: it is hashed
    but will never report NEW nor DESTROY."""
    if step.action != "__nf_conntrack_confirm":
        return False
    ct = post.ct(int_arg(step, "slot"))
    return ct is not None and ct.dying and ct.ecache


# --- granularity smp ----------------------------------------------------------------------------


def destroy_once(config: Config, pre: State, step: Step, post: State) -> bool:
    """A reliable DESTROY listener (BE, subscribed) does not read a DESTROY of a conntrack
    whose DESTROY it has read already."""
    received = _received(config, pre, step)
    if received is None:
        return True
    i, msg, record = received
    listener = config.listeners[i]
    if not (listener.broadcast_error and GROUP_DESTROY in listener.groups):
        return True
    return not (msg.bits & IPCT_DESTROY and record.seen[i].got & IPCT_DESTROY)


def _handler_bodies(state: State, slot: int) -> int:
    return sum(1 for call in state.kernel.calls if call.slot == slot and in_handler_body(call))


def timeout_handler_once(config: Config, pre: State, step: Step, post: State) -> bool:
    """No step starts the body of death_by_timeout() on a conntrack whose handler body is
    already running or that is on the dying list (its death already went that way)."""
    for call in post.kernel.calls:
        slot = call.slot
        if not in_handler_body(call) or call.pc != "test_dying":
            continue
        before = _handler_bodies(pre, slot)
        if _handler_bodies(post, slot) > before and (before or slot in pre.kernel.dying):
            return False
    return True


def no_double_unlink(config: Config, state: State) -> bool:
    """No conntrack was unhashed that was no longer hashed."""
    return state.kernel.crashed != CRASH_DOUBLE_UNLINK


def no_timer_rearm(config: Config, state: State) -> bool:
    """No timer was set up and added while it was pending."""
    return state.kernel.crashed != CRASH_TIMER_PENDING


def no_use_after_free(config: Config, state: State) -> bool:
    """No reference was dropped that nobody held, no conntrack was freed while a list linked
    it, and none was linked twice into the dying list."""
    return state.kernel.crashed not in (
        CRASH_USE_AFTER_FREE,
        CRASH_FREED_LINKED,
        CRASH_DOUBLE_DYING,
    )


OBSERVES: Mapping[str, int] = {
    "missed-only-undelivered": OBLIGATIONS,
    "missed-keeps-undelivered": OBLIGATIONS,
    "destroy-before-free": OBLIGATIONS,
    "destroy-eventually": OBLIGATIONS,
    "expiry-eventually": OBLIGATIONS,
    "nothing-after-destroy": RECEIPTS,
    "identity-unique": RECEIPTS,
    "new-before-destroy": OBLIGATIONS | RECEIPTS | NEWS,
    "may-lose-without-be": OBLIGATIONS | RECEIPTS,
    "may-coalesce": OBLIGATIONS | RECEIPTS | BITS,
    "may-reorder": RECEIPTS | ORDER,
    "may-duplicate": RECEIPTS | DUPS,
    "id-reuse": RECEIPTS | IDS,
    "expectation-unreliable": RECEIPTS,
    "destroy-once": RECEIPTS,
}
"""The observers each property reads (`nfct_spec.models.observers`); the others read only the
kernel state (KERNEL)."""


def observes(prop_id: str) -> int:
    """The observer level a property needs."""
    return OBSERVES.get(prop_id, KERNEL)
