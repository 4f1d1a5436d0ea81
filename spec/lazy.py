"""The lazy projection the engines judge states through, computed a group of fields at a time.

`nfct_spec.spec.vocab.PROJECTIONS` defines every abstract field on its own, one small
function each, and stays the definition (`project()` and the Z3 agreement tests read it). The
explorer, though, projects every state it stores through the auxiliary invariants' batch, which
reads 25 fields of a state; field by field that is most of what judging a state costs, since
each per-slot field walks the slots again and each observer field looks every slot's record up
again. Fields that come from the same part of the state are therefore computed together, in
one pass over it, by the model's compiled column readers (`nfct_spec.models.columns`): the
per-conntrack fields, the observer fields from one look-up of each slot's live record, the
list fields and the socket fields. Every group gives exactly the values its fields'
`PROJECTIONS` functions give (checked on every state of the obligations searches of the `ci`
suite, `tests/unit/test_lazy_projection.py`); a field outside the groups is computed on its
own, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nfct_spec.models.columns import (
    conntrack_columns,
    list_columns,
    observer_columns,
    socket_columns,
)
from nfct_spec.models.state import Conntrack, State
from nfct_spec.spec.vocab import FIELDS, PROJECTIONS, Shape

Group = Callable[[State, Shape], dict[str, Any]]

_CT_FIELDS = ("flow", "ecache", "assured", "dbit", "timer", "cache", "missed", "pid")
"""The abstract name of each `Conntrack` field, in the record's order."""

assert len(_CT_FIELDS) == len(Conntrack._fields)

_DEFAULTS = {field.name: field.default for field in FIELDS}
_FREE = Conntrack._make(_DEFAULTS[name] for name in _CT_FIELDS)
"""What a free slot (or one beyond the config's) projects to: each per-conntrack field's
default, in `Conntrack`'s field order."""


def _conntracks(state: State, shape: Shape) -> dict[str, Any]:
    alloc, *columns = conntrack_columns(state, shape.n, _FREE)
    return {"alloc": alloc, **dict(zip(_CT_FIELDS, columns, strict=True))}


def _observers(state: State, shape: Shape) -> dict[str, Any]:
    pend, rep, dead, has_destroy, owed = observer_columns(state, shape.n, shape.listeners)
    return {"pend": pend, "rep": rep, "dead": dead, "hasD": has_destroy, "owed": owed}


def _lists(state: State, shape: Shape) -> dict[str, Any]:
    unconfirmed, hashed, dying, dpos = list_columns(state, shape.n)
    return {"inU": unconfirmed, "inH": hashed, "inD": dying, "dpos": dpos}


def _sockets(state: State, shape: Shape) -> dict[str, Any]:
    opened, qlen, congested, sk_err = socket_columns(state, shape.listeners)
    return {"open": opened, "qlen": qlen, "cong": congested, "skerr": sk_err}


GROUPS: dict[str, Group] = {
    name: group
    for group, names in (
        (_conntracks, ("alloc", *_CT_FIELDS)),
        (_observers, ("pend", "rep", "dead", "hasD", "owed")),
        (_lists, ("inU", "inH", "inD", "dpos")),
        (_sockets, ("open", "qlen", "cong", "skerr")),
    )
    for name in names
}
"""The group that computes each grouped field (together with the others of its group)."""

assert set(GROUPS) <= set(PROJECTIONS)


class LazyProjection(dict[str, Any]):
    """The abstract state of one model state, each field computed when first read, with the
    other fields of its group (a check reads a few fields, and the engines check every state
    they meet)."""

    def __init__(self, state: State, shape: Shape) -> None:
        super().__init__()
        self.state = state
        self.shape = shape

    def __missing__(self, key: str) -> Any:
        group = GROUPS.get(key)
        if group is None:
            value = self[key] = PROJECTIONS[key](self.state, self.shape)
            return value
        values = group(self.state, self.shape)
        self.update(values)
        return values[key]
