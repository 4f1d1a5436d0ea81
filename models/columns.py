"""A state read column by column: one tuple per field over the memory slots or the listeners.

The judges look at a state through an abstract projection (`nfct_spec.spec.vocab`) whose array
fields are exactly such columns: the flows of the slots, their timers, which slots are on the
dying list, each listener's queue length, whether the instance in each slot has been reported.
The explorer projects every state it stores, so these few passes over the state run with the
model, compiled; what each column means stays the projection's business (its definitions in
`PROJECTIONS` are the reference, and the columns are checked against them on every state of
the `ci` suite). Nothing here changes a state.
"""

from __future__ import annotations

from typing import Any

from nfct_spec.models.observers import Record
from nfct_spec.models.state import Conntrack, State

Column = tuple[Any, ...]


def conntrack_columns(state: State, n: int, free: Conntrack) -> tuple[Column, ...]:
    """Over the first `n` slots: whether each holds a conntrack, then one column per
    `Conntrack` field in the record's order (a free slot, or one beyond the state's, reads as
    `free`)."""
    cts = state.kernel.cts
    # Plain tuples: indexed by a variable, a `Conntrack`'s fields would share one type, `int`,
    # and the compiled code would turn its bools into integers.
    rows: list[tuple[Any, ...]] = []
    alloc: list[bool] = []
    for u in range(n):
        ct = cts[u] if u < len(cts) else None
        alloc.append(ct is not None)
        rows.append(free if ct is None else ct)
    columns: list[Column] = [tuple(alloc)]
    for at in range(len(free)):
        columns.append(tuple([row[at] for row in rows]))
    return tuple(columns)


def live_records(state: State, n: int) -> list[Record | None]:
    """The live observer record of the conntrack in each of the first `n` slots (None for a
    free slot, or when no record is kept), as `State.record` finds it: the first live record
    of the slot."""
    live: dict[int, Record] = {}
    for record in state.ghost.records:
        if record.live and record.slot not in live:
            live[record.slot] = record
    cts = state.kernel.cts
    out: list[Record | None] = []
    for u in range(n):
        out.append(live.get(u) if u < len(cts) and cts[u] is not None else None)
    return out


def observer_columns(state: State, n: int, listeners: int) -> tuple[Column, ...]:
    """Over the first `n` slots, of each slot's live record: its pending bits, whether it is
    reporting, whether it died; then, per listener, whether a DESTROY of it is queued or read
    and whether it is owed one (tuples of slot columns)."""
    records = live_records(state, n)
    pending: list[int] = []
    reporting: list[bool] = []
    died: list[bool] = []
    for record in records:
        pending.append(0 if record is None else record.pending)
        reporting.append(record is not None and record.reporting)
        died.append(record is not None and record.died)
    has_destroy: list[Column] = []
    owed: list[Column] = []
    for i in range(listeners):
        destroys: list[bool] = []
        owes: list[bool] = []
        for record in records:
            seen = None if record is None or i >= len(record.seen) else record.seen[i]
            destroys.append(seen is not None and seen.has_destroy)
            owes.append(seen is not None and seen.owed)
        has_destroy.append(tuple(destroys))
        owed.append(tuple(owes))
    return tuple(pending), tuple(reporting), tuple(died), tuple(has_destroy), tuple(owed)


def list_columns(state: State, n: int) -> tuple[Column, ...]:
    """Over the first `n` slots: on the unconfirmed list, in the hash table, on the dying
    list, and the position on the dying list counted from its tail (-1 when not on it; the
    first occurrence from the head)."""
    kernel = state.kernel
    dying = kernel.dying
    position: dict[int, int] = {}
    for at, u in enumerate(dying):
        if u not in position:
            position[u] = len(dying) - 1 - at
    unconfirmed: list[bool] = []
    hashed: list[bool] = []
    on_dying: list[bool] = []
    dpos: list[int] = []
    for u in range(n):
        unconfirmed.append(u in kernel.unconfirmed)
        hashed.append(u in kernel.hash)
        on_dying.append(u in position)
        dpos.append(position.get(u, -1))
    return tuple(unconfirmed), tuple(hashed), tuple(on_dying), tuple(dpos)


def socket_columns(state: State, listeners: int) -> tuple[Column, ...]:
    """Over the listeners (at least `listeners` of them; a missing socket is closed and
    empty): open, queue length, congested, sk_err."""
    opened: list[bool] = []
    qlen: list[int] = []
    congested: list[bool] = []
    sk_err: list[bool] = []
    for sock in state.kernel.sockets:
        opened.append(sock.open)
        qlen.append(len(sock.queue))
        congested.append(sock.congested)
        sk_err.append(sock.sk_err)
    for _ in range(len(state.kernel.sockets), listeners):
        opened.append(False)
        qlen.append(0)
        congested.append(False)
        sk_err.append(False)
    return tuple(opened), tuple(qlen), tuple(congested), tuple(sk_err)
