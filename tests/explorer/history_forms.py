"""The catalogue's properties stated over complete histories: the test oracle of the observers.

The model keeps bounded observers and forgets a conntrack once no property can fail on it
(`nfct_spec.models.observers`); the catalogue's checks read those. Here each property that
reads observers is stated the way it reads naturally, over the whole history of a run: a state
kept at the HISTORY level has a record for every conntrack instance that ever existed (uids in
creation order), every bit each listener read and had dropped, and every death in order. The
test compares the two forms on every transition of every config of the `ci` suite.
"""

from __future__ import annotations

from collections.abc import Callable

from nfct_spec.models.bits import GROUP_DESTROY, GROUP_NEW, IPCT_DESTROY, IPCT_NEW
from nfct_spec.models.config import Config
from nfct_spec.models.observers import Record
from nfct_spec.models.registry import Step
from nfct_spec.models.state import State
from nfct_spec.spec.properties import ONE_TIME_BITS, TRANSITION_BITS, _subscribed_bits

StepForm = Callable[[Config, State, Step, State], bool]


def _records(state: State) -> dict[int, Record]:
    return {r.uid: r for r in state.ghost.records}


def _read(config: Config, pre: State, step: Step) -> tuple[int, int, int, int, int] | None:
    """(listener, uid, bits, slot, flow) of the conntrack message a step reads, if any."""
    if step.action != "env_recv":
        return None
    i = config.listener_index(str(step.kwargs["listener"]))
    sock = pre.kernel.sockets[i]
    if sock.sk_err or not sock.queue or sock.queue[0].expect:
        return None
    msg = sock.queue[0]
    return i, msg.uid, msg.bits, msg.slot, msg.flow


def _bit_list(bits: int) -> list[int]:
    return [1 << b for b in range(bits.bit_length()) if bits >> b & 1]


def _has_destroy(state: State, i: int, uid: int) -> bool:
    """Listener i read a DESTROY of `uid`, or has one queued."""
    record = _records(state)[uid]
    if record.seen[i].got & IPCT_DESTROY:
        return True
    return any(
        m.uid == uid and m.bits & IPCT_DESTROY and not m.expect
        for m in state.kernel.sockets[i].queue
    )


def _newly_freed(pre: State, post: State) -> list[int]:
    before = {r.uid for r in pre.ghost.records if r.live}
    return [r.uid for r in post.ghost.records if not r.live and r.uid in before]


def destroy_before_free(config: Config, pre: State, step: Step, post: State) -> bool:
    records = _records(post)
    for uid in _newly_freed(pre, post):
        if not records[uid].reporting:
            continue
        for i, listener in enumerate(config.listeners):
            reliable = listener.broadcast_error and GROUP_DESTROY in listener.groups
            if not (reliable and post.kernel.sockets[i].open and pre.kernel.sockets[i].open):
                continue
            if not _has_destroy(post, i, uid):
                return False
    return True


def nothing_after_destroy(config: Config, pre: State, step: Step, post: State) -> bool:
    read = _read(config, pre, step)
    if read is None:
        return True
    i, uid, bits, _, _ = read
    return bool(bits & IPCT_DESTROY) or not _records(pre)[uid].seen[i].got & IPCT_DESTROY


def identity_unique(config: Config, pre: State, step: Step, post: State) -> bool:
    read = _read(config, pre, step)
    if read is None:
        return True
    i, uid, _, slot, flow = read
    return not any(
        r.uid > uid and (r.slot, r.flow) == (slot, flow) and r.seen[i].got
        for r in pre.ghost.records
    )


def new_before_destroy(config: Config, pre: State, step: Step, post: State) -> bool:
    read = _read(config, pre, step)
    if read is None:
        return True
    i, uid, bits, _, _ = read
    listener = config.listeners[i]
    if not (bits & IPCT_DESTROY and listener.broadcast_error and GROUP_NEW in listener.groups):
        return True
    seen = _records(pre)[uid].seen[i]
    return not seen.owed or bool(seen.got & IPCT_NEW)


def _lost(config: Config, state: State) -> set[int]:
    """The freed instances whose DESTROY a listener without BE lost for good."""
    out = set()
    for record in state.ghost.records:
        if record.live:
            continue
        for i, listener in enumerate(config.listeners):
            dropped = record.seen[i].dropped & IPCT_DESTROY
            if not listener.broadcast_error and dropped and not _has_destroy(state, i, record.uid):
                out.add(record.uid)
    return out


def lost_without_be(config: Config, pre: State, step: Step, post: State) -> bool:
    return bool(_lost(config, post) - _lost(config, pre))


def coalesced(config: Config, pre: State, step: Step, post: State) -> bool:
    read = _read(config, pre, step)
    if read is None:
        return False
    i, uid, bits, _, _ = read
    if len(_bit_list(bits & TRANSITION_BITS)) >= 2:
        return True
    record = _records(pre)[uid]
    if not bits & IPCT_DESTROY or not record.seen[i].owed:
        return False
    earlier = record.generated & _subscribed_bits(config, i) & ~IPCT_DESTROY
    return any(not record.seen[i].got & bit for bit in _bit_list(earlier & ~bits))


def reordered(config: Config, pre: State, step: Step, post: State) -> bool:
    read = _read(config, pre, step)
    if read is None:
        return False
    i, uid, bits, _, _ = read
    deaths = pre.ghost.deaths
    if not bits & IPCT_DESTROY or uid not in deaths:
        return False
    position = deaths.index(uid)
    return any(
        r.seen[i].got & IPCT_DESTROY and r.uid in deaths and deaths.index(r.uid) > position
        for r in pre.ghost.records
    )


def duplicated(config: Config, pre: State, step: Step, post: State) -> bool:
    read = _read(config, pre, step)
    if read is None:
        return False
    i, uid, bits, _, _ = read
    return bool(bits & ONE_TIME_BITS & _records(pre)[uid].seen[i].got)


def id_reused(config: Config, pre: State, step: Step, post: State) -> bool:
    read = _read(config, pre, step)
    if read is None:
        return False
    i, uid, _, slot, flow = read
    return any(
        r.uid < uid and (r.slot, r.flow) == (slot, flow) and r.seen[i].got
        for r in pre.ghost.records
    )


STEP_FORMS: dict[str, StepForm] = {
    "destroy-before-free": destroy_before_free,
    "nothing-after-destroy": nothing_after_destroy,
    "identity-unique": identity_unique,
    "new-before-destroy": new_before_destroy,
    "may-lose-without-be": lost_without_be,
    "may-coalesce": coalesced,
    "may-reorder": reordered,
    "may-duplicate": duplicated,
    "id-reuse": id_reused,
}
"""The history form of every catalogue property whose check reads receipts or obligations
on a transition; the state properties that read observers (`missed-only-undelivered`,
`expectation-unreliable` and the auxiliary invariants) read the same fields in both forms."""
