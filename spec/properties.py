"""Predicates of the catalogue's properties over model states and transitions.

State predicates (`invariant`, and witnesses of a state condition) take `(config, state)`;
transition predicates (`action`, and witnesses of a step) take `(config, pre, step, post)`.
Each returns True when the state or step is fine (invariants, action properties) or when it is
a witness (non-guarantees, reachability). They read ghost state freely; no kernel step reads it.
"""

from __future__ import annotations

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
from nfct_spec.models.registry import Step
from nfct_spec.models.state import NO_TIMER, Message, State
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


def _reliable_destroy_listeners(config: Config, state: State) -> list[int]:
    return [
        i
        for i, listener in enumerate(config.listeners)
        if listener.broadcast_error
        and GROUP_DESTROY in listener.groups
        and state.kernel.sockets[i].open
    ]


def _has_destroy(state: State, i: int, uid: int) -> bool:
    """Listener i has received, or has queued, a DESTROY of `uid`."""
    if (uid, IPCT_DESTROY) in state.ghost.got[i]:
        return True
    return any(
        m.uid == uid and m.bits & IPCT_DESTROY and not m.expect
        for m in state.kernel.sockets[i].queue
    )


def _int_arg(step: Step, name: str) -> int:
    value = step.kwargs.get(name)
    return value if isinstance(value, int) else -1


def _freed(pre: State, post: State) -> list[int]:
    return [ct.uid for ct in pre.kernel.cts if post.ct(ct.uid) is None]


def _received(config: Config, pre: State, step: Step) -> tuple[int, Message] | None:
    """The listener index and conntrack message that `step` hands to userspace, if any."""
    if step.action != "env_recv":
        return None
    i = config.listener_index(str(step.kwargs["listener"]))
    sock = pre.kernel.sockets[i]
    if sock.sk_err or not sock.queue or sock.queue[0].expect:
        return None
    return i, sock.queue[0]


# --- invariants -------------------------------------------------------------------------------


def table_bound(config: Config, state: State) -> bool:
    """Once no allocation is in progress, count <= nf_conntrack_max (when a limit is set)."""
    k = state.kernel
    return (
        config.nf_conntrack_max == 0 or k.alloc_pending >= 0 or k.count <= config.nf_conntrack_max
    )


def count_exact(config: Config, state: State) -> bool:
    """count equals the allocated conntracks, plus one while an allocation waits for early_drop."""
    k = state.kernel
    return k.count == len(k.cts) + (1 if k.alloc_pending >= 0 else 0)


def one_place(config: Config, state: State) -> bool:
    """Each allocated conntrack is on exactly one of the unconfirmed list, hash, dying list."""
    k = state.kernel
    places = [*k.unconfirmed, *k.hash, *k.dying]
    return sorted(places) == sorted(ct.uid for ct in k.cts)


def dying_has_retry(config: Config, state: State) -> bool:
    """Every conntrack on the dying list has a retry pending (unless crashed): its own retry
    timer in 2.6.31, the scheduled ecache worker in 6.x."""
    k = state.kernel
    if k.crashed:
        return True
    if not variant_of(config.variant).retry_timer:
        return not k.dying or k.worker >= 0
    return all(ct.timer != NO_TIMER for ct in k.cts if ct.uid in k.dying)


def missed_only_undelivered(config: Config, state: State) -> bool:
    """`missed` holds only bits raised for this conntrack and not sent successfully since."""
    return all(ct.missed & ~state.ghost.pending[ct.uid] == 0 for ct in state.kernel.cts)


def no_crash(config: Config, state: State) -> bool:
    """No step divided by zero."""
    return not state.kernel.crashed


# --- action properties ------------------------------------------------------------------------


def destroy_before_free(config: Config, pre: State, step: Step, post: State) -> bool:
    """A conntrack that reported events is freed only once every reliable DESTROY listener
    (BE, subscribed, open) has its DESTROY queued or read."""
    for uid in _freed(pre, post):
        if uid not in post.ghost.reporting:
            continue
        for i in _reliable_destroy_listeners(config, post):
            if pre.kernel.sockets[i].open and not _has_destroy(post, i, uid):
                return False
    return True


def nothing_after_destroy(config: Config, pre: State, step: Step, post: State) -> bool:
    """No NEW or update message of a conntrack is read after its DESTROY was read."""
    received = _received(config, pre, step)
    if received is None:
        return True
    i, msg = received
    return bool(msg.bits & IPCT_DESTROY) or (msg.uid, IPCT_DESTROY) not in pre.ghost.got[i]


def identity_unique(config: Config, pre: State, step: Step, post: State) -> bool:
    """Tuple plus id name one conntrack: no message of an older conntrack with the same tuple
    and id is read after a message of a newer one."""
    received = _received(config, pre, step)
    if received is None:
        return True
    i, msg = received
    key = pre.ghost.identity[msg.uid]
    newer = {u for u, _ in pre.ghost.got[i] if u > msg.uid and pre.ghost.identity[u] == key}
    return not newer


def new_before_destroy(config: Config, pre: State, step: Step, post: State) -> bool:
    """A reliable listener subscribed to NEW and DESTROY, open since before the conntrack was
    created, reads its NEW (as a message of its own) before its DESTROY."""
    received = _received(config, pre, step)
    if received is None:
        return True
    i, msg = received
    listener = config.listeners[i]
    if not (msg.bits & IPCT_DESTROY and listener.broadcast_error):
        return True
    if GROUP_NEW not in listener.groups or pre.ghost.since[i] > msg.uid:
        return True
    return (msg.uid, IPCT_NEW) in pre.ghost.got[i]


# --- witnesses --------------------------------------------------------------------------------


def lost_without_be(config: Config, state: State) -> bool:
    """A listener without BE had a DESTROY dropped and the conntrack is gone without it."""
    for i, listener in enumerate(config.listeners):
        if listener.broadcast_error:
            continue
        for uid, bit in state.ghost.dropped[i]:
            if bit == IPCT_DESTROY and state.ct(uid) is None and not _has_destroy(state, i, uid):
                return True
    return False


def coalesced(config: Config, pre: State, step: Step, post: State) -> bool:
    """A listener reads a message that carries several state transitions at once, or a DESTROY
    while a transition it subscribes to was never read on its own."""
    received = _received(config, pre, step)
    if received is None:
        return False
    i, msg = received
    if len(_bits(msg.bits & TRANSITION_BITS)) >= 2:
        return True
    if not msg.bits & IPCT_DESTROY or pre.ghost.since[i] > msg.uid:
        return False
    earlier = pre.ghost.generated[msg.uid] & _subscribed_bits(config, i) & ~IPCT_DESTROY
    return any((msg.uid, bit) not in pre.ghost.got[i] for bit in _bits(earlier & ~msg.bits))


def reordered(config: Config, pre: State, step: Step, post: State) -> bool:
    """A listener reads a DESTROY after the DESTROY of a conntrack that died later."""
    received = _received(config, pre, step)
    if received is None:
        return False
    i, msg = received
    deaths = pre.ghost.deaths
    if not msg.bits & IPCT_DESTROY or msg.uid not in deaths:
        return False
    position = deaths.index(msg.uid)
    return any(
        bit == IPCT_DESTROY and u in deaths and deaths.index(u) > position
        for u, bit in pre.ghost.got[i]
    )


def duplicated(config: Config, pre: State, step: Step, post: State) -> bool:
    """A listener reads a NEW or DESTROY of a conntrack that it has read before."""
    received = _received(config, pre, step)
    if received is None:
        return False
    i, msg = received
    return any((msg.uid, bit) in pre.ghost.got[i] for bit in _bits(msg.bits & ONE_TIME_BITS))


def dropped_when_full(config: Config, pre: State, step: Step, post: State) -> bool:
    """A new flow is dropped although, without the dying entries, it would have fit."""
    if step.action != "early_drop" or step.kwargs.get("victim") != -1:
        return False
    k = pre.kernel
    return bool(k.dying) and k.count - len(k.dying) <= config.nf_conntrack_max


def expectation_lost(config: Config, state: State) -> bool:
    """An expectation event was refused by a listener that set NETLINK_BROADCAST_ERROR."""
    return state.ghost.exp_lost


def missed_waits(config: Config, pre: State, step: Step, post: State) -> bool:
    """A packet that caches nothing leaves the missed events unsent although every reliable
    listener of their group has room now."""
    if step.action != "nf_conntrack_in" or step.kwargs.get("packet") != "plain":
        return False
    ct = pre.hashed_ct_of_flow(_int_arg(step, "flow"))
    if ct is None or not ct.missed:
        return False
    after = post.ct(ct.uid)
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
    for uid in _freed(pre, post):
        ct = pre.ct(uid)
        assert ct is not None
        confirmed = uid in pre.kernel.hash or uid in pre.kernel.dying
        if confirmed and not ct.ecache and _reliable_destroy_listeners(config, post):
            return True
    return False


def flush_confirm_race(config: Config, pre: State, step: Step, post: State) -> bool:
    """A conntrack that was unconfirmed during a flush is confirmed with DYING set: it is hashed
    but will never report NEW nor DESTROY."""
    if step.action != "__nf_conntrack_confirm":
        return False
    ct = post.ct(_int_arg(step, "uid"))
    return ct is not None and ct.dying and ct.ecache
