"""Conntracks that nothing tells apart yet: how trace validation scales to hundreds of flows.

A flush of N hashed conntracks is one step of the model with N! orders (the hash's bucket
order is not modelled), and the recording says which order the kernel took only as the
listeners read the DESTROYs, one by one, later. Enumerating the orders is out of the question
beyond a handful of flows; this module makes it unnecessary, without losing any execution.

**Placeholder flows.** A flow is only a name: no kernel step compares two flows other than for
equality. Just before a flush, a hashed conntrack whose flow nothing else in the state mentions
(no other conntrack, no queued message, no waiting allocation) is *anonymous*: after the flush
its flow is replaced by a placeholder, everywhere (its DESTROY messages, its entry on the
redelivery list). The placeholders of one flush form a *pool*, paired with the set of observed
flows they stand for, still unbound: a state with placeholders stands for every state obtained
by a one-to-one binding of its placeholders to those flows. Anonymous conntracks of one flush
that agree on everything but flow and memory slot are then interchangeable, and the orders of
the flush that differ only by permuting them give the same state: one order per arrangement of
the told-apart conntracks is enough (`flush_orders`). For the scenarios' runs, where every
flushed conntrack has the same history, that is a single order.

**Binding.** When a listener reads a message whose flow is a placeholder, the observed flow
must be one its pool still stands for; the placeholder then becomes that flow everywhere in
the state (`bind`), and the pool no longer stands for it. A read whose tuple is not the
harness's (its flow unknown) binds nothing.

**Expired conntracks.** A hashed conntrack whose timeout ran out (6.x: it waits for the gc or a
lookup) and whose flow nothing else names gets a placeholder too, in a pool of its own moment
(`expired_anonymous`): the gc may reap the expired conntracks in any order, and those orders
collapse the same way. A lookup of a tuple that such a placeholder may stand for would have to
find it; the validator does not model that binding (`hidden_in_hash`).

**Canonical form** (`canonical`). Placeholders of a pool are numbered in the order of their
first appearance (listener queues in order, then the redelivery list from its head, then the
other conntracks); memory slots are renamed as the explorer does (live conntracks sorted by
contents and list position, `nfct_spec.models.canonical.relabel`); the conntrack id a queued
message carries is dropped (the validator compares the type and flow of a read, never its id,
and no kernel step reads it); a pool with no placeholder left stands for nothing any more.
Every running conntrack timer is set back to its full timeout (`freeze_timers`): the caller
decides expiry itself (the validator from the recording's timestamps: a timer is set to 0 once
it can have run out), and no other step reads how far a running timer has counted down.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator

from nfct_spec.models.canonical import relabel
from nfct_spec.models.config import Config
from nfct_spec.models.state import Conntrack, Kernel, Message, State, evolve

Pools = tuple[frozenset[int], ...]
"""Per flush of the run so far: the observed flows its placeholders still stand for."""
Candidate = tuple[State, Pools]
"""A model state consistent with the observation so far, with its placeholder pools."""

MAX_ORDERS = 5040
"""The most flush orders tried for one state (7!): beyond that the run is not modelled."""
NO_SLOT = -1
"""The conntrack id of a queued message once the canonical form dropped it."""


class Placeholders:
    """The placeholder flows of a config: pool k's are `base + k * stride + j`, above every
    model flow (`base` is the config's flow count) and at most one per memory slot."""

    def __init__(self, config: Config) -> None:
        self.base = config.flows
        self.stride = config.slots

    def pool_of(self, flow: int) -> int:
        """The pool of a placeholder flow, -1 for a real one."""
        return (flow - self.base) // self.stride if flow >= self.base else -1

    def make(self, pool: int, index: int) -> int:
        """Placeholder `index` of pool `pool`."""
        return self.base + pool * self.stride + index


def _mentions(state: State) -> Counter[int]:
    """How many things in the state name each flow (conntracks, queued messages, the waiting
    allocation)."""
    kernel = state.kernel
    counts: Counter[int] = Counter(ct.flow for ct in kernel.cts if ct is not None)
    counts.update(m.flow for sock in kernel.sockets for m in sock.queue if not m.expect)
    if kernel.alloc_pending >= 0:
        counts[kernel.alloc_pending] += 1
    return counts


def interchangeable(ct: Conntrack) -> tuple[object, ...]:
    """Everything about a conntrack but its flow (and its memory slot, which is its index):
    two placeholders of one pool that agree on it are interchangeable."""
    return (ct.ecache, ct.assured, ct.dying, ct.timer, ct.cache, ct.missed, ct.pid)


def anonymous_slots(state: State, marks: Placeholders) -> list[int]:
    """The hashed conntracks whose flow is real and named by nothing else in the state."""
    mentions = _mentions(state)
    cts = state.kernel.cts
    out = []
    for slot in state.kernel.hash:
        ct = cts[slot]
        if ct is not None and marks.pool_of(ct.flow) < 0 and mentions[ct.flow] == 1:
            out.append(slot)
    return out


def _unique_orders(keys: list[object]) -> Iterator[list[object]]:
    """Every distinct arrangement of a multiset of keys."""
    counts = Counter(keys)
    distinct = sorted(counts, key=repr)
    order: list[object] = []

    def extend() -> Iterator[list[object]]:
        if len(order) == len(keys):
            yield list(order)
            return
        for key in distinct:
            if counts[key]:
                counts[key] -= 1
                order.append(key)
                yield from extend()
                order.pop()
                counts[key] += 1

    yield from extend()


def order_count(keys: list[object]) -> int:
    """How many distinct arrangements a multiset of keys has."""
    total = math.factorial(len(keys))
    for n in Counter(keys).values():
        total //= math.factorial(n)
    return total


def flush_orders(
    state: State, anonymous: list[int], marks: Placeholders
) -> tuple[int, list[tuple[int, ...]]]:
    """The flush orders to try: one per arrangement of the told-apart conntracks (an
    anonymous conntrack counts only by its contents, a placeholder by its pool and contents,
    every other one by itself). Returns the number of such arrangements, and the orders
    themselves unless there are more than `MAX_ORDERS`."""
    cts = state.kernel.cts
    keys: list[object] = []
    by_key: dict[object, list[int]] = {}
    for slot in state.kernel.hash:
        ct = cts[slot]
        assert ct is not None
        key: object = ("named", slot)
        if slot in anonymous:
            key = ("anonymous", interchangeable(ct))
        elif (pool := marks.pool_of(ct.flow)) >= 0:
            key = ("pool", pool, interchangeable(ct))
        keys.append(key)
        by_key.setdefault(key, []).append(slot)
    count = order_count(keys)
    if count > MAX_ORDERS:
        return count, []
    orders = []
    for arrangement in _unique_orders(keys):
        taken = {key: iter(slots) for key, slots in by_key.items()}
        orders.append(tuple(next(taken[key]) for key in arrangement))
    return count, orders


def expired_anonymous(state: State, marks: Placeholders) -> list[int]:
    """The flows of hashed conntracks that have expired (6.x: their timeout ran out, they wait
    for the gc or a lookup to reap them) and that nothing else in the state names."""
    mentions = _mentions(state)
    cts = state.kernel.cts
    return [
        ct.flow
        for slot in state.kernel.hash
        if (ct := cts[slot]) is not None
        and ct.timer == 0
        and marks.pool_of(ct.flow) < 0
        and mentions[ct.flow] == 1
    ]


def hidden_in_hash(candidate: Candidate, flow: int, marks: Placeholders) -> bool:
    """Whether a hashed conntrack with a placeholder may stand for `flow` (a lookup of that
    tuple would have to find it: the validator does not model that)."""
    state, pools = candidate
    cts = state.kernel.cts
    for slot in state.kernel.hash:
        ct = cts[slot]
        if ct is not None and (pool := marks.pool_of(ct.flow)) >= 0 and flow in pools[pool]:
            return True
    return False


def rename_flows(state: State, names: dict[int, int]) -> State:
    """The state with flows renamed (conntracks, queued messages, the waiting allocation)."""
    if not names:
        return state
    kernel = state.kernel
    cts = tuple(
        ct if ct is None or ct.flow not in names else evolve(ct, flow=names[ct.flow])
        for ct in kernel.cts
    )

    def message(m: Message) -> Message:
        return m if m.expect or m.flow not in names else evolve(m, flow=names[m.flow])

    sockets = tuple(
        evolve(sock, queue=tuple(message(m) for m in sock.queue)) if sock.queue else sock
        for sock in kernel.sockets
    )
    pending = names.get(kernel.alloc_pending, kernel.alloc_pending)
    return evolve(state, kernel=evolve(kernel, cts=cts, sockets=sockets, alloc_pending=pending))


def anonymise(state: State, flows: list[int], pool: int, marks: Placeholders) -> State:
    """The state with `flows` replaced by the placeholders of pool `pool`."""
    return rename_flows(state, {f: marks.make(pool, j) for j, f in enumerate(sorted(flows))})


def bind(
    candidate: Candidate, placeholder: int, flow: int, marks: Placeholders
) -> Candidate | None:
    """The candidate with `placeholder` bound to the observed `flow`, or None if its pool does
    not stand for that flow."""
    state, pools = candidate
    pool = marks.pool_of(placeholder)
    if flow not in pools[pool]:
        return None
    bound = (*pools[:pool], pools[pool] - {flow}, *pools[pool + 1 :])
    return rename_flows(state, {placeholder: flow}), bound


def _placeholder_order(state: State, marks: Placeholders) -> list[int]:
    """The placeholders in order of first appearance: queues, redelivery list, conntracks."""
    kernel = state.kernel
    seen: dict[int, None] = {}
    flows = [m.flow for sock in kernel.sockets for m in sock.queue if not m.expect]
    flows += [ct.flow for slot in kernel.dying if (ct := kernel.cts[slot]) is not None]
    rest = sorted(
        (ct for ct in kernel.cts if ct is not None), key=lambda ct: (interchangeable(ct), ct.flow)
    )
    flows += [ct.flow for ct in rest]
    for flow in flows:
        if marks.pool_of(flow) >= 0:
            seen.setdefault(flow, None)
    return list(seen)


def _slot_key(state: State, slot: int) -> tuple[object, ...]:
    kernel = state.kernel
    ct = kernel.cts[slot]
    assert ct is not None
    place = 0 if slot in kernel.unconfirmed else 1 if slot in kernel.hash else 2
    dying = kernel.dying.index(slot) if slot in kernel.dying else -1
    return (place, dying, ct.flow, interchangeable(ct))


def freeze_timers(config: Config, kernel: Kernel) -> Kernel:
    """The kernel with every running conntrack timer back at its full timeout."""
    return evolve(
        kernel,
        cts=tuple(
            ct if ct is None or ct.timer <= 0 else evolve(ct, timer=config.ct_timeout)
            for ct in kernel.cts
        ),
    )


def canonical(config: Config, candidate: Candidate, marks: Placeholders) -> Candidate:
    """The representative of a candidate's class (see the module docstring)."""
    state, pools = candidate
    expired = expired_anonymous(state, marks)
    if expired:
        state = anonymise(state, expired, len(pools), marks)
        pools = (*pools, frozenset(expired))
    order = _placeholder_order(state, marks)
    numbers: dict[int, int] = {}
    per_pool: Counter[int] = Counter()
    for flow in order:
        pool = marks.pool_of(flow)
        numbers[flow] = marks.make(pool, per_pool[pool])
        per_pool[pool] += 1
    state = rename_flows(state, {f: n for f, n in numbers.items() if f != n})
    pools = tuple(flows if per_pool[k] else frozenset() for k, flows in enumerate(pools))
    kernel = state.kernel
    if any(m.slot != NO_SLOT for sock in kernel.sockets for m in sock.queue):
        sockets = tuple(
            evolve(sock, queue=tuple(evolve(m, slot=NO_SLOT) for m in sock.queue))
            if sock.queue
            else sock
            for sock in kernel.sockets
        )
        kernel = evolve(kernel, sockets=sockets)
    state = evolve(state, kernel=freeze_timers(config, kernel))
    kernel = state.kernel
    live = sorted(
        (s for s, ct in enumerate(kernel.cts) if ct is not None),
        key=lambda s: _slot_key(state, s),
    )
    if kernel.alloc_slot >= 0:
        live.append(kernel.alloc_slot)
    placed = set(live)
    rest = [s for s in range(len(kernel.cts)) if s not in placed]
    slot_map = {old: new for new, old in enumerate(live + rest)}
    if any(old != new for old, new in slot_map.items()):
        state = relabel(state, slot_map, {})
    return state, pools
