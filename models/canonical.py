"""Reductions: one canonical representative per class of equivalent states.

A search declares the observers it needs (a ghost *level*, `nfct_spec.models.observers`); the
canonical form keeps exactly those, and identifies states that differ only by a renaming that
no action and no property of the search can tell apart:

- **The records freed by the last step** (kept in that step's state for the properties) are
  dropped: the next step starts by dropping them anyway (`observers.settle`).
- **Observers not needed** are cleared: a search that keeps no receipts forgets what each
  message in a queue says (only the queue lengths matter to the kernel: netlink delivery
  compares them with the capacity, and a read takes one message whatever it says), and the
  bits and flags only receipts read. A search that keeps receipts but not `BITS` keeps of a
  message, and of what a listener read or lost, only NEW and DESTROY, and forgets the bits
  raised per instance (only `may-coalesce` reads them); one without `ORDER` forgets the order
  of deaths and the `later` flags (only `may-reorder` reads them). A search with `DUPS` but not
  NEWS keeps the NEW a listener read of an instance only while a NEW of that instance can
  still reach it (`forget_read_news`). A `table-bound` search keeps no observer at all.
- **Memory slots.** A slot only names an object; no kernel step compares two slots other than
  for equality, and which free object the slab hands out is an argument of the allocation.
  Slots are renamed in the order of what they hold: the live conntracks sorted by their
  contents and list positions and, when receipts are kept, also by the observer records of
  their instances, live and freed (a freed instance keeps the slot it shares with a newer
  one, so its id stays tied to it; `slot_keys`).
- **Flow identities.** A flow number only names a tuple; no kernel step compares two flows
  other than for equality (the hash bucket of a tuple is abstracted away: early_drop may pick
  any hashed victim). Flows are renamed in order of first appearance along the slot order.
- **Instance numbers** (observer uids) are renumbered 0, 1, ... in the new slot order and,
  within a slot, in creation order when receipts are kept (observers compare instance numbers
  only between instances of one slot); otherwise an instance is named by its slot.
- **Interchangeable listeners.** Listeners whose configs are equal except for the name play the
  same role. Permuting them permutes the sockets, the per-listener observer fields and the
  netlink port ids that conntracks remember for re-sends (listener i has port id i + 1, see
  `Config.portid`). The representative is the permutation with the smallest encoding.
- **The 2.6.31 dying list as a set.** Each dying-list conntrack retries on its own timer, the
  list is added to at the head and unlinked from, and neither a step nor a property reads its
  order, so the safety searches sort it and leave the dying-list position out of the slot
  order (`dying_order_observable`). Where something reads the order it is kept: 6.x walks its
  redelivery list from the head, and 2.6.31's nf_ct_release_dying_list() of another
  namespace's exit kills in list order. The liveness search on the symmetry-reduced graph
  sorts it too (`nfct_spec.engines.lasso_sym`: the reorderings are a bisimulation that keeps
  step labels, so the lift then stands for classes of real states); the unreduced liveness
  graph keeps it.
- **A slice:** `Socket.drops` (sk_drops) is read by no action and no property (only the viewer
  shows it): the canonical form sets it to 0.

When two conntracks tie on everything the slot order looks at, the first slot wins: the result
is then a representative, not always the smallest one, which can only leave two equivalent
states apart (less reduction, same verdicts). Steps name flows, slots and listeners in their
arguments, so only states are canonicalised; traces are rebuilt from real steps by the engines.
A lasso search cannot use the representative alone (a cycle of representatives may close on a
renamed copy of its first state): it asks `Canonicaliser.renaming` for the renaming as well and
keeps it on the edge (`nfct_spec.engines.lasso_sym`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace as dataclass_replace
from typing import Any

from nfct_spec.models.bits import IPCT_DESTROY, IPCT_NEW
from nfct_spec.models.config import Config
from nfct_spec.models.frozen import TUPLE_NEW, set_field, set_fields
from nfct_spec.models.frozen import evolve as replace
from nfct_spec.models.observers import (
    BITS,
    DUPS,
    FULL,
    GHOST_DEATHS,
    GHOST_EXP_LOST,
    GHOST_FREED,
    GHOST_LEVEL,
    GHOST_NEXT_UID,
    GHOST_PREVIOUS,
    GHOST_RECORDS,
    HISTORY,
    IDS,
    KERNEL,
    NEWS,
    NO_PREVIOUS,
    OBLIGATIONS,
    ORDER,
    REC_FLOW,
    REC_GENERATED,
    REC_SEEN,
    REC_SLOT,
    REC_UID,
    RECEIPTS,
    Ghost,
    Record,
    Seen,
    kept_bits,
    settle,
)
from nfct_spec.models.state import (
    CT_FLOW,
    K_ALLOC_PENDING,
    K_ALLOC_SLOT,
    K_CALLS,
    K_CTS,
    K_DYING,
    K_HASH,
    K_REFS,
    K_SOCKETS,
    K_UNCONFIRMED,
    SOCK_DROPS,
    SOCK_QUEUE,
    Call,
    Conntrack,
    Kernel,
    Message,
    Socket,
    State,
    evolve,
    new_message,
    new_state,
)
from nfct_spec.models.variants import variant_of

ANONYMOUS = Message(slot=-1, flow=-1, bits=0)
"""What a queued message becomes when no observer reads messages."""


Renaming = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]
"""A permutation of slots, flows and listeners: for each, the new number of each old one."""


NO_RENAMING: Renaming = ((), (), ())
"""What `Canonicaliser._canonical` returns for the renaming when it was not asked for it."""


def dying_order_observable(config: Config) -> bool:
    """Whether anything can tell two orders of the dying list apart.

    In 2.6.31 each dying-list conntrack retries on its own timer (death_by_event()), the list
    is only added to at the head and unlinked from, and no property reads its order; the one
    walk of it, nf_ct_release_dying_list() in another namespace's exit
    (`Config.other_netns_exit`), kills in list order. In 6.x the list is the redelivery list
    that ecache_work_evict_list() walks from the head, stopping at the first failure. 2.6.30
    has no dying list."""
    return not variant_of(config.variant).retry_timer or config.other_netns_exit


def unreduced(config: Config, level: int) -> Canonicaliser:
    """The canonical form that merges nothing: the observers of `level` projected (and the
    previous step's freed records dropped), slot, flow and listener names and the dying list's
    order kept. What two states must share to be the same state of a search without
    reductions, of a lasso, or of the partial-order reduction's commutation check."""
    return Canonicaliser(config, level, flows=False, listeners=False, slots=False, dying_order=True)


def listener_classes(config: Config) -> tuple[tuple[int, ...], ...]:
    """Groups of listener indices whose configs differ only by name (groups of one dropped)."""
    by_shape: dict[object, list[int]] = {}
    for i, listener in enumerate(config.listeners):
        by_shape.setdefault(dataclass_replace(listener, name=""), []).append(i)
    return tuple(tuple(group) for group in by_shape.values() if len(group) > 1)


def _orders(n: int, classes: tuple[tuple[int, ...], ...]) -> list[tuple[int, ...]]:
    """Every listener order that permutes indices only within their class."""
    per_class = [list(itertools.permutations(group)) for group in classes]
    orders = []
    for choice in itertools.product(*per_class):
        order = list(range(n))
        for group, image in zip(classes, choice, strict=True):
            for slot, index in zip(group, image, strict=True):
                order[slot] = index
        orders.append(tuple(order))
    return orders


def _project_seen(seen: Seen, level: int, lossy: bool) -> Seen:
    if level & RECEIPTS:
        if not level & IDS and seen.reuse:
            seen = replace(seen, reuse=False)
        got = kept_bits(level, seen.got)
        dropped = seen.dropped & IPCT_DESTROY if lossy else 0
        if got != seen.got or dropped != seen.dropped:
            seen = replace(seen, got=got, dropped=dropped)
        if not level & ORDER and seen.later:
            seen = replace(seen, later=False)
        return seen
    if not (seen.got or seen.dropped or seen.newer or seen.later or seen.reuse):
        return seen
    return Seen(owed=seen.owed, has_destroy=seen.has_destroy)


def _project_record(record: Record, level: int, lossy: Sequence[bool]) -> Record:
    """A record with only what `level` reads (itself when that is all of it)."""
    seen = tuple(_project_seen(s, level, lost) for s, lost in zip(record.seen, lossy, strict=True))
    generated = record.generated if level & BITS else 0
    if generated == record.generated and seen == record.seen:
        return record
    return set_fields(record, REC_GENERATED, generated, REC_SEEN, seen)


def project_ghost(ghost: Ghost, level: int, lossy: Sequence[bool]) -> Ghost:
    """The ghost with only the observers of `level` (records stay in uid order).

    `lossy` says, per listener, whether it lacks NETLINK_BROADCAST_ERROR: what a listener had
    dropped (`Seen.dropped`) is read only by `may-lose-without-be`, of such listeners only and
    of the DESTROY bit only, so the rest of it is forgotten at every level."""
    if level == KERNEL:
        return ghost if ghost == KERNEL_GHOST else KERNEL_GHOST
    values: list[Any] = list(ghost)
    values[GHOST_LEVEL] = level
    values[GHOST_RECORDS] = tuple(
        _project_record(r, level, lossy) for r in ghost.records if r.live or level & RECEIPTS
    )
    values[GHOST_DEATHS] = ghost.deaths if level & RECEIPTS and level & ORDER else ()
    values[GHOST_EXP_LOST] = ghost.exp_lost and bool(level & RECEIPTS)
    values[GHOST_PREVIOUS] = ghost.previous if level & IDS else ()
    values[GHOST_FREED] = ()
    projected: Ghost = TUPLE_NEW(Ghost, values)
    return projected


KERNEL_GHOST = Ghost(level=KERNEL)
"""The ghost of a search that keeps no observer."""


def _ct_key(
    kernel: Kernel, slot: int, ct: Conntrack, record: Record | None, ordered: bool
) -> tuple[object, ...]:
    """What a conntrack looks like without its slot and flow names (for the slot order); its
    dying-list position only when the dying list is `ordered` (`dying_order_observable`)."""
    dying = kernel.dying
    place = (
        0 if slot in kernel.unconfirmed else 1 if slot in kernel.hash else 2,
        (dying.index(slot) if ordered else 0) if slot in dying else -1,
    )
    fields = (ct.ecache, ct.assured, ct.dying, ct.timer, ct.cache, ct.missed, ct.pid)
    if record is None:
        return (*place, *fields)
    observed = (record.generated, record.pending, record.reporting, record.died, record.seen)
    return (*place, *fields, *observed)


def _record_key(
    ghost: Ghost, record: Record, queued: dict[int, list[tuple[int, int]]]
) -> tuple[object, ...]:
    """What an observer record looks like without its slot, flow and instance names: its
    fields, its place in the order of deaths and where its messages are queued."""
    death = ghost.deaths.index(record.uid) if record.uid in ghost.deaths else -1
    where = tuple(queued.get(record.uid, ()))
    fields = (record.live, record.generated, record.pending, record.reporting, record.died)
    return (*fields, record.seen, death, where)


def slot_keys(kernel: Kernel, ghost: Ghost, ordered: bool) -> dict[int, tuple[object, ...]]:
    """With receipts: what each slot in use looks like without slot, flow and instance names,
    the key of the slot order (its live conntrack, the records of its instances in creation
    order with their messages' queue positions and their places in the order of deaths, with
    id-reuse memory which listeners read its last freed instance, and at granularity smp its
    reference count and the calls in progress on it).

    Instance numbers are compared by the observers only between instances of the same slot
    (`newer`, `reuse`, the last reader of a slot), so the slots may be ordered by what they hold
    rather than by when their instances were created, which merges states that differ only in
    the creation order of unrelated conntracks."""
    queued: dict[int, list[tuple[int, int]]] = {}
    for i, sock in enumerate(kernel.sockets):
        for j, m in enumerate(sock.queue):
            if m.uid >= 0:
                queued.setdefault(m.uid, []).append((i, j))
    records: dict[int, list[Record]] = {}
    for record in ghost.records:
        records.setdefault(record.slot, []).append(record)
    calls: dict[int, list[tuple[object, ...]]] = {}
    for call in kernel.calls:
        if call.slot >= 0:
            fields = (call.fn, call.pc, call.portid, call.echo, call.held, call.failed, call.inline)
            calls.setdefault(call.slot, []).append(fields)
    keys: dict[int, tuple[object, ...]] = {}
    flows: dict[int, set[int]] = {}
    for slot, ct in enumerate(kernel.cts):
        held = records.get(slot, [])
        flow, readers = ghost.previous[slot] if ghost.previous else NO_PREVIOUS
        refs = kernel.refs[slot] if kernel.refs else 0
        working = tuple(sorted(calls.get(slot, ())))
        if ct is None and not held and flow < 0 and not refs and not working:
            continue
        live = () if ct is None else _ct_key(kernel, slot, ct, None, ordered)
        instances = tuple(_record_key(ghost, r, queued) for r in held)
        keys[slot] = (ct is None, live, instances, flow < 0, readers, refs, working)
        named = {r.flow for r in held}
        if ct is not None:
            named.add(ct.flow)
        if flow >= 0:
            named.add(flow)
        flows[slot] = named
    # One round of refinement: two slots that look alike are told apart by the slots whose
    # tuples they share (a freed instance of one's tuple elsewhere, the pending allocation).
    refined: dict[int, tuple[object, ...]] = {}
    for slot, key in keys.items():
        related = sorted(
            [keys[other] for other in keys if other != slot and flows[slot] & flows[other]]
        )
        refined[slot] = (key, kernel.alloc_pending in flows[slot], tuple(related))
    return refined


class Canonicaliser:
    """Maps a state of one config to its representative for a search at one ghost level;
    built once per config and level."""

    def __init__(
        self,
        config: Config,
        level: int = FULL,
        flows: bool = True,
        listeners: bool = True,
        slots: bool = True,
        forget_freed: bool = True,
        dying_order: bool | None = None,
    ) -> None:
        self.level = level
        self.dying_order = dying_order_observable(config) if dying_order is None else dying_order
        self.forget_freed = forget_freed
        self.lossy = tuple(not listener.broadcast_error for listener in config.listeners)
        self.flows = flows
        self.slots = slots
        classes = listener_classes(config) if listeners else ()
        self.orders = _orders(len(config.listeners), classes)[1:] if classes else []
        self.flow_count = config.flows

    def __call__(self, state: State) -> State:
        return self._canonical(state, False)[0]

    def renaming(self, state: State) -> tuple[State, State, Renaming]:
        """The representative, the state it renames (the state with only the observers of the
        level, names kept) and the renaming that maps the second to the first.

        The renaming is a whole permutation of slots, flows and listeners (flows that the
        state does not name are given the numbers left over, in order): the liveness search
        renames steps and fairness instances with it (`nfct_spec.engines.lasso_sym`)."""
        return self._canonical(state, True)

    def _canonical(self, state: State, maps: bool) -> tuple[State, State, Renaming]:
        level = self.level
        kernel = state.kernel
        ghost = project_ghost(settle(state.ghost), level, self.lossy)
        if any(sock.drops for sock in kernel.sockets):
            kernel = set_field(
                kernel, K_SOCKETS, tuple(set_field(s, SOCK_DROPS, 0) for s in kernel.sockets)
            )
        if not level & RECEIPTS:
            kernel = _anonymise(kernel)
        elif not level & BITS:
            kernel = _keep_bits(kernel, level)
        if level & DUPS and not level & (NEWS | BITS | IDS | HISTORY):
            ghost = forget_read_news(kernel, ghost)
        if self.forget_freed and level & ~OBLIGATIONS in FORGETS_FREED:
            kernel, ghost = forget_harmless_freed(
                kernel, ghost, bool(level & NEWS), bool(level & (NEWS | DUPS))
            )
        projected = new_state(kernel, ghost) if maps else state
        n = len(kernel.cts)
        slot_map: dict[int, int] = {}
        flow_map: dict[int, int] = {}
        if self.slots or self.flows:
            kernel, ghost, slot_map, flow_map = self._relabel(kernel, ghost)
        if not self.dying_order and len(kernel.dying) > 1:
            dying = tuple(sorted(kernel.dying))
            if dying != kernel.dying:
                kernel = set_field(kernel, K_DYING, dying)
        best = new_state(kernel, ghost)
        order: Sequence[int] = ()
        if self.orders:
            best_key = repr(best)
            for candidate_order in self.orders:
                candidate = permute_listeners(best, candidate_order)
                key = repr(candidate)
                if key < best_key:
                    best, best_key, order = candidate, key, candidate_order
        if not maps:
            return best, projected, NO_RENAMING
        listeners = list(range(len(kernel.sockets)))
        for j, i in enumerate(order):
            listeners[i] = j
        flows = _whole(flow_map, self.flow_count)
        renaming = (tuple(slot_map.get(s, s) for s in range(n)), flows, tuple(listeners))
        return best, projected, renaming

    def _slot_order(self, kernel: Kernel, ghost: Ghost) -> list[int]:
        order: list[int] = []
        if self.level & RECEIPTS:
            keys = slot_keys(kernel, ghost, self.dying_order)
            live = sorted(keys, key=keys.__getitem__)
        else:
            by_slot = {r.slot: r for r in ghost.records}
            live = sorted(
                (s for s, ct in enumerate(kernel.cts) if ct is not None),
                key=lambda s: _ct_key(kernel, s, kernel.cts[s], by_slot.get(s), self.dying_order),  # type: ignore[arg-type]
            )
        order.extend(live)
        if kernel.alloc_slot >= 0 and kernel.alloc_slot not in order:
            order.append(kernel.alloc_slot)
        if ghost.previous:
            remembered = [s for s, p in enumerate(ghost.previous) if p != NO_PREVIOUS]
            order.extend(s for s in remembered if s not in order)
        order.extend(s for s in range(len(kernel.cts)) if s not in order)
        return order

    def _relabel(
        self, kernel: Kernel, ghost: Ghost
    ) -> tuple[Kernel, Ghost, dict[int, int], dict[int, int]]:
        n = len(kernel.cts)
        order = self._slot_order(kernel, ghost) if self.slots else list(range(n))
        slot_map = {old: new for new, old in enumerate(order)}
        uid_map = _uid_map(ghost, slot_map, self.level)
        flow_map: dict[int, int] = {}
        if self.flows:
            for old in order:
                ct = kernel.cts[old]
                if ct is not None and ct.flow not in flow_map:
                    flow_map[ct.flow] = len(flow_map)
            for _, flow in sorted([(uid_map[r.uid], r.flow) for r in ghost.records]):
                if flow not in flow_map:
                    flow_map[flow] = len(flow_map)
            pending = kernel.alloc_pending
            if pending >= 0 and pending not in flow_map:
                flow_map[pending] = len(flow_map)
            for old in order:
                flow = ghost.previous[old][0] if ghost.previous else -1
                if flow >= 0 and flow not in flow_map:
                    flow_map[flow] = len(flow_map)
        next_uid = len(ghost.records) if self.level & RECEIPTS else n
        if not ghost.level:
            next_uid = 0
        identity = (
            all(k == v for k, v in slot_map.items())
            and all(k == v for k, v in flow_map.items())
            and all(k == v for k, v in uid_map.items())
            and ghost.next_uid == next_uid
        )
        if identity:
            return kernel, ghost, slot_map, flow_map
        return (
            _rename(kernel, slot_map, flow_map, uid_map),
            _rename_ghost(ghost, order, slot_map, flow_map, uid_map, next_uid),
            slot_map,
            flow_map,
        )


def _whole(flow_map: dict[int, int], count: int) -> tuple[int, ...]:
    """A flow renaming made a permutation of `count` flows: the flows it does not map get the
    numbers it does not use, both in increasing order."""
    used = set(flow_map.values())
    spare = iter(f for f in range(count) if f not in used)
    return tuple(flow_map[f] if f in flow_map else next(spare) for f in range(count))


def _uid_map(ghost: Ghost, slot_map: dict[int, int], level: int) -> dict[int, int]:
    """New instance numbers: with receipts, in the new slot order and, within a slot, in
    creation order (the only order between instances an observer compares); otherwise the
    instance is named by its slot."""
    if level & RECEIPTS:
        ranked = sorted([(slot_map[r.slot], r.uid) for r in ghost.records])
        return {uid: new for new, (_, uid) in enumerate(ranked)}
    return {r.uid: slot_map[r.slot] for r in ghost.records}


def _anonymise(kernel: Kernel) -> Kernel:
    if all(m is ANONYMOUS for sock in kernel.sockets for m in sock.queue):
        return kernel
    sockets = tuple(
        set_field(sock, SOCK_QUEUE, (ANONYMOUS,) * len(sock.queue)) if sock.queue else sock
        for sock in kernel.sockets
    )
    return set_field(kernel, K_SOCKETS, sockets)


FORGETS_FREED = (RECEIPTS, RECEIPTS | NEWS, RECEIPTS | DUPS)
"""The observer levels (obligations aside) whose canonical form forgets harmless freed
instances (`forget_harmless_freed`)."""


def forget_read_news(kernel: Kernel, ghost: Ghost) -> Ghost:
    """With DUPS but not NEWS: of what each listener read of an instance, the NEW bit kept only
    while a NEW of that instance can still reach that listener.

    Only `may-duplicate` reads that bit, when the listener reads a message of the instance
    carrying NEW (a NEW read twice). Messages are built only by the event send, from the
    conntrack's cached and missed bits (and the DESTROY of the caller), and NEW is cached only
    by init_conntrack(), when the instance is allocated. So a later read of a NEW of the
    instance at listener i needs a message with NEW of it queued at i now, or the live
    instance still holding NEW in `cache` or `missed` (a socket that closes and opens again
    keeps what its listener read, and a re-send of missed bits may reach the new socket).
    Otherwise no read can compare against the bit, and states that differ only by it have the
    same verdicts for the search."""
    records = list(ghost.records)
    changed = False
    for index, record in enumerate(records):
        if not any(seen.got & IPCT_NEW for seen in record.seen):
            continue
        if record.live:
            ct = kernel.cts[record.slot]
            if ct is not None and (ct.cache | ct.missed) & IPCT_NEW:
                continue
        seen = tuple(
            replace(s, got=s.got & ~IPCT_NEW)
            if s.got & IPCT_NEW and not _queues_new(kernel.sockets[i], record.uid)
            else s
            for i, s in enumerate(record.seen)
        )
        if seen != record.seen:
            records[index] = replace(record, seen=seen)
            changed = True
    return replace(ghost, records=tuple(records)) if changed else ghost


def _queues_new(sock: Socket, uid: int) -> bool:
    return any(m.uid == uid and m.bits & IPCT_NEW for m in sock.queue)


def forget_harmless_freed(
    kernel: Kernel, ghost: Ghost, news: bool = False, dups: bool | None = None
) -> tuple[Kernel, Ghost]:
    """At the receipts level, alone or with NEWS or DUPS (no BITS, ORDER or IDS), the records of
    freed instances that no property of the search can still fail on, forgotten, and their
    queued messages made anonymous (`dups` defaults to `news`).

    Such a search reads a freed instance only when a listener reads one of its queued
    messages: `nothing-after-destroy` (a message other than DESTROY read after its DESTROY),
    `identity-unique` (one read after a newer instance's message with the same tuple and id,
    the `newer` flag), with NEWS or DUPS `may-duplicate` (a NEW or DESTROY read again) and,
    with NEWS, `new-before-destroy` (a DESTROY read, owed, without its NEW). A message names
    the instance live in its slot when it was built (`observers.uid_of`), so a freed instance
    gets no message after its free and its queued messages are all it will ever be read for;
    and a socket reads them in order. So whether a read of them can make one of these fail is
    known now, by reading them in advance (`_may_fail`: for `new-before-destroy` whatever the
    listener's options, which can only keep more); `newer` is set only by reading a newer
    instance's message, which is queued behind all of them. Once none can fail, no read of
    them changes a verdict (the other properties of the search read a freed instance only on
    the step that frees it, from `Ghost.freed`), and the messages need to say nothing but that
    they take a place in the queue."""
    if all(r.live for r in ghost.records):
        return kernel, ghost
    dups = news if dups is None else dups
    gone = {r.uid for r in ghost.records if not r.live and not _may_fail(kernel, r, news, dups)}
    if not gone:
        return kernel, ghost
    sockets = tuple(
        evolve(sock, queue=tuple(ANONYMOUS if m.uid in gone else m for m in sock.queue))
        if any(m.uid in gone for m in sock.queue)
        else sock
        for sock in kernel.sockets
    )
    records = tuple(r for r in ghost.records if r.uid not in gone)
    return evolve(kernel, sockets=sockets), replace(ghost, records=records)


def _may_fail(kernel: Kernel, record: Record, news: bool, dups: bool) -> bool:
    """Whether reading the queued messages of a freed instance, in order, can still make a
    property of the search fail (see `forget_harmless_freed`)."""
    for i, sock in enumerate(kernel.sockets):
        seen = record.seen[i]
        got = seen.got
        for m in sock.queue:
            if m.uid != record.uid:
                continue
            if seen.newer or (got & IPCT_DESTROY and not m.bits & IPCT_DESTROY):
                return True
            if dups and m.bits & (IPCT_NEW | IPCT_DESTROY) & got:
                return True
            if news and m.bits & IPCT_DESTROY and seen.owed and not got & IPCT_NEW:
                return True
            got |= m.bits
    return False


def _keep_bits(kernel: Kernel, level: int) -> Kernel:
    """Queued messages saying only the bits a search without BITS keeps (`kept_bits`)."""
    if all(kept_bits(level, m.bits) == m.bits for sock in kernel.sockets for m in sock.queue):
        return kernel
    sockets = tuple(
        evolve(sock, queue=tuple(_kept(m, level) for m in sock.queue)) if sock.queue else sock
        for sock in kernel.sockets
    )
    return evolve(kernel, sockets=sockets)


def _kept(m: Message, level: int) -> Message:
    bits = kept_bits(level, m.bits)
    return m if bits == m.bits else evolve(m, bits=bits)


def _flow(flow_map: dict[int, int], flow: int) -> int:
    return flow_map.get(flow, flow)


def _rename_message(
    m: Message, slot_map: dict[int, int], flow_map: dict[int, int], uid_map: dict[int, int]
) -> Message:
    """A queued message renamed with its conntrack. A module-level function, not a closure:
    compiled, a closure and its environment refer to each other, a cycle per call that only
    the cycle collector frees (and a search pauses it)."""
    if m.slot < 0:
        return m
    return new_message(slot_map[m.slot], _flow(flow_map, m.flow), m.bits, uid_map.get(m.uid, -1))


def _rename(
    kernel: Kernel, slot_map: dict[int, int], flow_map: dict[int, int], uid_map: dict[int, int]
) -> Kernel:
    cts: list[Conntrack | None] = [None] * len(kernel.cts)
    for old, ct in enumerate(kernel.cts):
        if ct is not None:
            flow = _flow(flow_map, ct.flow)
            cts[slot_map[old]] = ct if flow == ct.flow else set_field(ct, CT_FLOW, flow)

    values: list[Any] = list(kernel)
    values[K_CTS] = tuple(cts)
    values[K_UNCONFIRMED] = tuple(sorted(slot_map[s] for s in kernel.unconfirmed))
    values[K_HASH] = tuple(sorted(slot_map[s] for s in kernel.hash))
    values[K_DYING] = tuple(slot_map[s] for s in kernel.dying)
    values[K_SOCKETS] = tuple(
        set_field(
            sock,
            SOCK_QUEUE,
            tuple(_rename_message(m, slot_map, flow_map, uid_map) for m in sock.queue),
        )
        if sock.queue
        else sock
        for sock in kernel.sockets
    )
    values[K_ALLOC_PENDING] = _flow(flow_map, kernel.alloc_pending)
    values[K_ALLOC_SLOT] = slot_map[kernel.alloc_slot] if kernel.alloc_slot >= 0 else -1
    if kernel.refs:
        values[K_REFS], values[K_CALLS] = _rename_smp(kernel, slot_map)
    renamed: Kernel = TUPLE_NEW(Kernel, values)
    return renamed


def _rename_smp(
    kernel: Kernel, slot_map: dict[int, int]
) -> tuple[tuple[int, ...], tuple[Call, ...]]:
    """The smp fields renamed (`refs`, `calls`): each slot's reference count moves with it, and
    so does the slot of each call in progress (the calls are kept sorted)."""
    refs = [0] * len(kernel.refs)
    for old, count in enumerate(kernel.refs):
        refs[slot_map[old]] = count
    calls = tuple(
        sorted(
            evolve(call, slot=slot_map[call.slot]) if call.slot >= 0 else call
            for call in kernel.calls
        )
    )
    return tuple(refs), calls


def _rename_ghost(
    ghost: Ghost,
    order: Sequence[int],
    slot_map: dict[int, int],
    flow_map: dict[int, int],
    uid_map: dict[int, int],
    next_uid: int,
) -> Ghost:
    records = sorted(
        (
            _renamed_record(r, uid_map[r.uid], slot_map[r.slot], _flow(flow_map, r.flow))
            for r in ghost.records
        ),
        key=_uid,
    )
    previous = ghost.previous
    if previous:
        previous = tuple((_flow(flow_map, previous[old][0]), previous[old][1]) for old in order)
    values: list[Any] = list(ghost)
    values[GHOST_NEXT_UID] = next_uid
    values[GHOST_RECORDS] = tuple(records)
    values[GHOST_DEATHS] = tuple(uid_map[u] for u in ghost.deaths)
    values[GHOST_PREVIOUS] = previous
    renamed: Ghost = TUPLE_NEW(Ghost, values)
    return renamed


def _renamed_record(record: Record, uid: int, slot: int, flow: int) -> Record:
    values: list[Any] = list(record)
    values[REC_UID] = uid
    values[REC_SLOT] = slot
    values[REC_FLOW] = flow
    renamed: Record = TUPLE_NEW(Record, values)
    return renamed


def _uid(record: Record) -> int:
    return record.uid


def relabel(state: State, slot_map: dict[int, int], flow_map: dict[int, int]) -> State:
    """The state with memory slots and flows renamed by the given permutations (instance
    numbers kept): the renaming the canonical form undoes, for tests of its invariance."""
    order = sorted(slot_map, key=slot_map.__getitem__)
    uids = {r.uid: r.uid for r in state.ghost.records}
    return new_state(
        _rename(state.kernel, slot_map, flow_map, uids),
        _rename_ghost(state.ghost, order, slot_map, flow_map, uids, state.ghost.next_uid),
    )


def _permute_pid(pid: int, order: Sequence[int]) -> int:
    """The port id after listener `order[j]` moved to position j (tool port ids stay)."""
    if 1 <= pid <= len(order):
        return order.index(pid - 1) + 1
    return pid


def _permute_mask(mask: int, order: Sequence[int]) -> int:
    return sum(1 << j for j, i in enumerate(order) if mask >> i & 1)


def permute_listeners(state: State, order: Sequence[int]) -> State:
    """The state with listener `order[j]` moved to position j."""
    kernel = state.kernel
    cts = tuple(
        evolve(ct, pid=_permute_pid(ct.pid, order)) if ct is not None and ct.pid else ct
        for ct in kernel.cts
    )
    sockets: tuple[Socket, ...] = tuple(kernel.sockets[i] for i in order)
    ghost = state.ghost
    records = tuple(replace(r, seen=tuple(r.seen[i] for i in order)) for r in ghost.records)
    previous = tuple((flow, _permute_mask(mask, order)) for flow, mask in ghost.previous)
    calls = tuple(
        sorted(evolve(call, portid=_permute_pid(call.portid, order)) for call in kernel.calls)
    )
    return new_state(
        evolve(kernel, cts=cts, sockets=sockets, calls=calls),
        replace(ghost, records=records, previous=previous),
    )
