"""The ghost part of the state: bounded observers that the properties read, never the kernel.

A property of the catalogue is stated over what happened (which DESTROY a listener read, in
which order the conntracks died, which bits were raised and not delivered). Instead of keeping
growing histories, the model keeps one *observer record* per conntrack instance that a property
can still fail on, updated on the transitions by the hooks of this module (like a monitor in
P, or a never claim in SPIN), and forgets the record once no property can fail on it any more:

- while the conntrack lives (its slot is allocated), its record holds what the obligations
  need: the bits raised and not yet delivered (`pending`), whether it handed an event to
  ctnetlink (`reporting`), whether it started to die, and per listener whether that listener
  was open when it was created (`owed`) and has its DESTROY queued or read (`has_destroy`);
- once freed, the record is kept only while a message of it is still queued at some listener
  (a property about what a listener reads can still fail on it), then dropped; a search that
  keeps receipts alone drops it sooner, once no read of those messages can make its
  properties fail (`canonical.forget_harmless_freed`);
- relations between instances that a property needs after one of them is forgotten are folded
  into flags at the moment they arise: `newer` (a message of a newer instance with the same
  tuple and id was read), `later` (a DESTROY of an instance that died later was read), `reuse`
  (a message of an earlier instance with the same tuple and id was read).

Which observers a state keeps is its ghost `level`, a set of the flags below; each catalogue
entry declares the ones it reads, so a search for `table-bound` keeps none at all. HISTORY is
for tests only: records are never forgotten, so a run keeps its complete history, against which
the bounded observers are compared.

Records are kept sorted by `uid`, an instance number that the explorer renumbers canonically
(0, 1, ... in creation order), so it names an instance without counting allocations.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, NamedTuple

from nfct_spec.models.bits import IPCT_DESTROY, IPCT_NEW, IPCT_STATUS
from nfct_spec.models.frozen import evolve as replace
from nfct_spec.models.frozen import position, register, set_at, set_field, set_fields

if TYPE_CHECKING:
    from nfct_spec.models.config import Config

KERNEL = 0
"""No observers: only the kernel state."""
OBLIGATIONS = 1
"""Live instances: pending bits, reporting, death, and per listener owed and has_destroy."""
RECEIPTS = 2
"""What listeners read and lost: freed instances with queued messages, the bits each listener
read or had dropped, the order of deaths, the `newer`/`later` flags, lost expectation events."""
IDS = 4
"""Id reuse: per slot, the tuple of its previous instance and which listeners read it."""
HISTORY = 8
"""Never forget (tests only): the complete history of a run."""
BITS = 16
"""Every event bit with receipts: without it a search's canonical form keeps, of what a queued
message says and of the bits a listener read, only DESTROY, with NEWS, DUPS or IDS also NEW
(`kept_bits`), and forgets the bits raised for an instance (`Record.generated`). Only
`may-coalesce` reads the other bits (several transitions in one message, a transition never
read on its own); the kernel reads none of them (a queue's length is all netlink delivery
compares)."""
KEPT_BITS = IPCT_NEW | IPCT_DESTROY
"""The event bits a search with receipts and NEWS (or DUPS or IDS) but without BITS keeps."""
ORDER = 32
"""The order of deaths with receipts: `Ghost.deaths` and the `later` flags it sets. Only
`may-reorder` reads them; without ORDER a search's canonical form forgets both."""
NEWS = 64
"""The NEW bit with receipts: without it (and without BITS and IDS) a search's canonical form
keeps, of what a queued message says and of what a listener read, only DESTROY. Only
`new-before-destroy` (was the NEW read before the DESTROY) and `may-duplicate` (was a NEW read
twice) read it; `nothing-after-destroy`, `identity-unique` and the obligations do not. The
first is violated on every variant and the second has witnesses from 2.6.31 on, so their
search usually stops at its last finding, and the search that must be exhausted for the others
is spared every state that differs only by which NEW messages were read or are queued."""
DUPS = 128
"""The NEW bit for `may-duplicate` alone (with receipts, without NEWS, BITS or IDS): queued
messages keep NEW as with NEWS, but of what a listener read of an instance the canonical form
keeps NEW only while a NEW of that instance can still reach that listener
(`canonical.forget_read_news`). `may-duplicate` reads the NEW bit a listener read only when it
reads a NEW of the same instance again, and NEW is cached once, when the conntrack is
allocated (init_conntrack()), so once it is neither queued at the listener nor cached or missed
by the live instance, no read can compare against it. `new-before-destroy` reads that bit at
every DESTROY, so it keeps NEWS; split this way, its search stops at its witness, and the
search of `may-duplicate`, which has no witness on a config with one listener and so runs to
its end, does not carry which NEW each listener read."""
UPDATE_MARK = IPCT_STATUS
"""With IDS but without BITS, what the update bits of a message, or of what a listener read,
become together: id-reuse memory (`Ghost.previous`) counts a listener as a reader of an
instance when it read any message of it, so an update-only message must stay non-empty."""
FULL = OBLIGATIONS | RECEIPTS | IDS | BITS | ORDER | NEWS | DUPS
"""Every observer a catalogue property reads."""
LEVEL_NAMES = {
    OBLIGATIONS: "obligations",
    RECEIPTS: "receipts",
    NEWS: "news",
    DUPS: "dups",
    BITS: "bits",
    ORDER: "order",
    IDS: "ids",
    HISTORY: "history",
}


def kept_bits(level: int, bits: int) -> int:
    """The event bits a search at `level` keeps of a queued message or of what a listener
    read: all of them with BITS; NEW and DESTROY with NEWS or DUPS; with IDS also whether any
    update bit was there (`UPDATE_MARK`); only DESTROY otherwise."""
    if level & BITS:
        return bits
    kept = bits & (KEPT_BITS if level & (NEWS | DUPS | IDS) else IPCT_DESTROY)
    if level & IDS and bits & ~KEPT_BITS:
        kept |= UPDATE_MARK
    return kept


def level_name(level: int) -> str:
    """The observers of a level, named: `kernel` for none, else e.g. `obligations+receipts`."""
    names = [name for bit, name in LEVEL_NAMES.items() if level & bit]
    return "+".join(names) if names else "kernel"


@register
class Seen(NamedTuple):
    """What one listener observed of one conntrack instance."""

    owed: bool = False
    """The listener was open when the instance was created (it is owed its DESTROY)."""
    has_destroy: bool = False
    """A DESTROY of the instance was queued at, or read by, the listener."""
    got: int = 0
    """Event bits the listener read in messages of the instance."""
    dropped: int = 0
    """Event bits of the instance refused by the listener's overrun socket."""
    newer: bool = False
    """The listener read a message of a newer instance with the same tuple and id."""
    later: bool = False
    """The listener read a DESTROY of an instance that died after this one."""
    reuse: bool = False
    """The listener read a message of an earlier instance with the same tuple and id."""


FRESH = Seen()


@register
class Record(NamedTuple):
    """The observer record of one conntrack instance (see the module docstring)."""

    uid: int
    slot: int
    flow: int
    live: bool = True
    generated: int = 0
    pending: int = 0
    reporting: bool = False
    died: bool = False
    seen: tuple[Seen, ...] = ()


@register
class Ghost(NamedTuple):
    """Observer state: the records, and what outlives them.

    `deaths` lists the tracked uids in the order their deaths started; `previous` holds per
    slot the flow of its last freed instance (-1 if none) and the listeners (a bit mask) that
    read a message of it. `freed` holds, in the state right after a step, the complete records
    of the instances that step freed (so that properties see how each ended); the next step
    starts by clearing it (`settle`), and canonical forms drop it.
    """

    level: int
    next_uid: int = 0
    records: tuple[Record, ...] = ()
    deaths: tuple[int, ...] = ()
    exp_lost: bool = False
    previous: tuple[tuple[int, int], ...] = ()
    freed: tuple[Record, ...] = ()


NO_PREVIOUS = (-1, 0)

REC_UID: Final = position(Record, "uid")
REC_SLOT: Final = position(Record, "slot")
REC_FLOW: Final = position(Record, "flow")
REC_GENERATED: Final = position(Record, "generated")
REC_PENDING: Final = position(Record, "pending")
REC_REPORTING: Final = position(Record, "reporting")
REC_DIED: Final = position(Record, "died")
REC_LIVE: Final = position(Record, "live")
REC_SEEN: Final = position(Record, "seen")
GHOST_NEXT_UID: Final = position(Ghost, "next_uid")
GHOST_RECORDS: Final = position(Ghost, "records")
GHOST_DEATHS: Final = position(Ghost, "deaths")
GHOST_FREED: Final = position(Ghost, "freed")
GHOST_LEVEL: Final = position(Ghost, "level")
GHOST_EXP_LOST: Final = position(Ghost, "exp_lost")
GHOST_PREVIOUS: Final = position(Ghost, "previous")
"""The positions of the fields written on every step and by every canonical form (`set_field`,
one copy without `replace`'s keyword dict)."""


def initial_ghost(config: Config, level: int) -> Ghost:
    """The ghost after boot: no instance yet."""
    previous = (NO_PREVIOUS,) * config.slots if level & IDS else ()
    return Ghost(level=level, previous=previous)


def _find(ghost: Ghost, uid: int) -> int:
    for index, record in enumerate(ghost.records):
        if record.uid == uid:
            return index
    return -1


def live_index(ghost: Ghost, slot: int) -> int:
    """The position in `records` of the live instance in `slot`, or -1."""
    for index, record in enumerate(ghost.records):
        if record.live and record.slot == slot:
            return index
    return -1


def _put(ghost: Ghost, index: int, record: Record) -> Ghost:
    return set_field(ghost, GHOST_RECORDS, set_at(ghost.records, index, record))


def _seen_put(record: Record, i: int, seen: Seen) -> Record:
    return set_field(record, REC_SEEN, set_at(record.seen, i, seen))


def allocated(ghost: Ghost, slot: int, flow: int, open_sockets: Sequence[bool]) -> Ghost:
    """A conntrack is allocated in `slot`: a fresh record, owed to every open listener."""
    if not ghost.level:
        return ghost
    seen = tuple(Seen(owed=is_open) for is_open in open_sockets)
    if ghost.level & IDS:
        prev_flow, readers = ghost.previous[slot]
        if prev_flow == flow:
            seen = tuple(
                replace(s, reuse=True) if readers >> i & 1 else s for i, s in enumerate(seen)
            )
    if ghost.level & (RECEIPTS | HISTORY):
        uid, next_uid = ghost.next_uid, ghost.next_uid + 1
    else:
        uid, next_uid = slot, ghost.next_uid
    record = Record(uid=uid, slot=slot, flow=flow, seen=seen)
    records = tuple(sorted((*ghost.records, record)))
    return set_fields(ghost, GHOST_NEXT_UID, next_uid, GHOST_RECORDS, records)


def raised(ghost: Ghost, slot: int, bits: int) -> Ghost:
    """Event bits were raised for the conntrack in `slot` (generated, and pending delivery)."""
    index = live_index(ghost, slot)
    if index < 0 or not bits:
        return ghost
    record = ghost.records[index]
    return _put(
        ghost,
        index,
        set_fields(
            record, REC_GENERATED, record.generated | bits, REC_PENDING, record.pending | bits
        ),
    )


def delivered(ghost: Ghost, slot: int, bits: int) -> Ghost:
    """A send of `bits` for the conntrack in `slot` succeeded: they are no longer pending."""
    index = live_index(ghost, slot)
    if index < 0:
        return ghost
    record = ghost.records[index]
    if not record.pending & bits:
        return ghost
    return _put(ghost, index, set_field(record, REC_PENDING, record.pending & ~bits))


def reporting(ghost: Ghost, slot: int) -> Ghost:
    """The conntrack in `slot` handed an event to ctnetlink (it is expected to report)."""
    index = live_index(ghost, slot)
    if index < 0 or ghost.records[index].reporting:
        return ghost
    return _put(ghost, index, set_field(ghost.records[index], REC_REPORTING, True))


def died(ghost: Ghost, slot: int, ecache: bool) -> Ghost:
    """The conntrack in `slot` starts to die (once): a DESTROY is raised if it has an event
    cache, and its death takes the next place in the order of deaths."""
    index = live_index(ghost, slot)
    if index < 0 or ghost.records[index].died:
        return ghost
    record = set_field(ghost.records[index], REC_DIED, True)
    ghost = _put(ghost, index, record)
    if ghost.level & RECEIPTS:
        ghost = set_field(ghost, GHOST_DEATHS, (*ghost.deaths, record.uid))
    return raised(ghost, slot, IPCT_DESTROY) if ecache else ghost


def queued(ghost: Ghost, i: int, uid: int, bits: int) -> Ghost:
    """Listener i's socket took a message of instance `uid` carrying `bits`."""
    if not bits & IPCT_DESTROY:
        return ghost
    index = _find(ghost, uid)
    if index < 0:
        return ghost
    record = ghost.records[index]
    if record.seen[i].has_destroy:
        return ghost
    return _put(ghost, index, _seen_put(record, i, replace(record.seen[i], has_destroy=True)))


def overrun(ghost: Ghost, i: int, uid: int, bits: int) -> Ghost:
    """Listener i's socket refused a message of instance `uid` carrying `bits`."""
    if not ghost.level & RECEIPTS:
        return ghost
    index = _find(ghost, uid)
    if index < 0:
        return ghost
    record = ghost.records[index]
    seen = record.seen[i]
    if seen.dropped | bits == seen.dropped:
        return ghost
    return _put(ghost, index, _seen_put(record, i, replace(seen, dropped=seen.dropped | bits)))


def expectation_lost(ghost: Ghost) -> Ghost:
    """A listener with NETLINK_BROADCAST_ERROR refused an expectation event."""
    if not ghost.level & RECEIPTS or ghost.exp_lost:
        return ghost
    return replace(ghost, exp_lost=True)


def read(ghost: Ghost, i: int, uid: int, bits: int) -> Ghost:
    """Listener i read a message of instance `uid` carrying `bits`.

    Besides the bits read, the relations with other tracked instances are folded into flags
    now, while both are tracked: every older instance with the same tuple and id learns that
    a newer one was read (`newer`), a newer one that an older one was read (`reuse`), and on a
    DESTROY every instance that died earlier learns that a later death was read (`later`).
    """
    index = _find(ghost, uid)
    if index < 0:
        return ghost
    record = ghost.records[index]
    if ghost.level & (RECEIPTS | HISTORY):
        seen = record.seen[i]
        ghost = _put(ghost, index, _seen_put(record, i, replace(seen, got=seen.got | bits)))
    if ghost.level & RECEIPTS:
        ghost = _fold_relations(ghost, i, record, bits)
    if ghost.level & IDS and not record.live:
        ghost = _note_previous_reader(ghost, i, record)
    return ghost


def _note_previous_reader(ghost: Ghost, i: int, record: Record) -> Ghost:
    """A freed instance was read after its free: if it is still its slot's last instance, the
    slot's memory of its readers must include this listener."""
    if any(r.slot == record.slot and r.uid > record.uid for r in ghost.records):
        return ghost
    flow, readers = ghost.previous[record.slot]
    if flow != record.flow or readers >> i & 1:
        return ghost
    previous = ghost.previous
    entry = (flow, readers | 1 << i)
    return replace(ghost, previous=set_at(previous, record.slot, entry))


def _fold_relations(ghost: Ghost, i: int, record: Record, bits: int) -> Ghost:
    position = ghost.deaths.index(record.uid) if record.uid in ghost.deaths else -1
    earlier = set(ghost.deaths[:position]) if bits & IPCT_DESTROY and position >= 0 else set()
    records = list(ghost.records)
    for k, other in enumerate(records):
        seen = other.seen[i]
        same_id = other.uid != record.uid and (other.slot, other.flow) == (
            record.slot,
            record.flow,
        )
        changes: dict[str, bool] = {}
        if same_id and other.uid < record.uid and not seen.newer:
            changes["newer"] = True
        if same_id and other.uid > record.uid and ghost.level & IDS and not seen.reuse:
            changes["reuse"] = True
        if other.uid in earlier and not seen.later:
            changes["later"] = True
        if changes:
            records[k] = _seen_put(other, i, replace(seen, **changes))
    return replace(ghost, records=tuple(records))


def freed(ghost: Ghost, slot: int, referenced: Sequence[frozenset[int]]) -> Ghost:
    """The conntrack in `slot` is freed (`referenced` lists, per listener, the uids its queued
    messages refer to). Its complete record goes to `freed` for this step's properties; it
    stays tracked (reduced by `_strip`) only while a message of it is still queued and receipts
    are observed, or whole in HISTORY."""
    index = live_index(ghost, slot)
    if index < 0:
        return ghost
    record = set_field(ghost.records[index], REC_LIVE, False)
    if ghost.level & IDS:
        readers = sum(1 << i for i, s in enumerate(record.seen) if s.got)
        ghost = replace(ghost, previous=set_at(ghost.previous, slot, (record.flow, readers)))
    ghost = set_field(ghost, GHOST_FREED, (*ghost.freed, record))
    if ghost.level & HISTORY:
        return _put(ghost, index, record)
    if ghost.level & RECEIPTS and any(record.uid in queued for queued in referenced):
        return _put(ghost, index, _strip(record, referenced))
    return _drop(ghost, {record.uid})


def settle(ghost: Ghost) -> Ghost:
    """The ghost at the start of a step: the records freed by the previous step are gone."""
    return set_field(ghost, GHOST_FREED, ()) if ghost.freed else ghost


def _strip(record: Record, referenced: Sequence[frozenset[int]]) -> Record:
    """A freed instance's record, reduced to what a property can still read: a listener with
    nothing of it queued will never read anything of it again (it is forgotten there), and the
    obligations (pending bits, reporting, has_destroy, drops) were settled when it was freed.
    What stays for the listeners that still hold one of its messages: the bits read, whether
    it was owed, and the relation flags; and the bits generated (for may-coalesce)."""
    seen = tuple(
        replace(s, has_destroy=False, dropped=0) if record.uid in queued else FRESH
        for s, queued in zip(record.seen, referenced, strict=True)
    )
    stripped = replace(record, pending=0, reporting=False, died=False, seen=seen)
    return record if stripped == record else stripped


def collect(ghost: Ghost, referenced: Sequence[frozenset[int]]) -> Ghost:
    """Forget what no property can still read of freed instances after a listener read or
    lost messages (nothing in HISTORY): the record once nothing of it is queued anywhere, the
    listeners that hold nothing of it."""
    if ghost.level & HISTORY or all(r.live for r in ghost.records):
        return ghost
    everywhere = frozenset().union(*referenced)
    gone = {r.uid for r in ghost.records if not r.live and r.uid not in everywhere}
    if gone:
        ghost = _drop(ghost, gone)
    records = tuple(r if r.live else _strip(r, referenced) for r in ghost.records)
    if records != ghost.records:
        ghost = replace(ghost, records=records)
    return ghost


def _drop(ghost: Ghost, uids: set[int]) -> Ghost:
    return set_fields(
        ghost,
        GHOST_RECORDS,
        tuple(r for r in ghost.records if r.uid not in uids),
        GHOST_DEATHS,
        tuple(u for u in ghost.deaths if u not in uids),
    )


def opened(ghost: Ghost, i: int) -> Ghost:
    """Listener i (re)opens: it starts afresh, owed nothing and having read nothing."""
    if not ghost.level:
        return ghost
    records = tuple(_seen_put(r, i, FRESH) if r.seen[i] != FRESH else r for r in ghost.records)
    previous = ghost.previous
    if ghost.level & IDS:
        previous = tuple((flow, readers & ~(1 << i)) for flow, readers in previous)
    return replace(ghost, records=records, previous=previous)


def uid_of(ghost: Ghost, slot: int) -> int:
    """The uid of the live instance in `slot`, or -1 when no record is kept."""
    index = live_index(ghost, slot)
    return ghost.records[index].uid if index >= 0 else -1


def referenced_uids(queues: Sequence[Sequence[object]]) -> list[frozenset[int]]:
    """Per listener, the uids its queued messages refer to (each has a `uid` attribute)."""
    return [frozenset(m.uid for m in queue) for queue in queues]  # type: ignore[attr-defined]
