"""The abstract state the invariants and the Z3 proofs reason about, and the projection of
model states onto it.

The abstract state keeps, per conntrack slot `u < N` and per listener slot `i < L`, the fields
the catalogue's invariants and the kernel's control flow read. Each field names the model
fields it is derived from (its *owners*); an action whose registry `modifies` contains none of
a field's owners leaves it unchanged, and that frame condition is generated, never written.

Conntracks are the model's memory slots (`Config.slots`, at most 12 by config validation): a
slot is allocated, freed and allocated again, so N bounds the conntracks that exist at once,
not how many a run creates. The observer fields (`pend`, `rep`, `dead`, `owed`, `hasD`) are
those of the instance living in the slot (its live record, `State.record`), cleared while it is
free. What a transition property needs to know of an instance that a step freed (such as
destroy-before-free) is read from the step's freed records (`Ghost.freed`, complete in the state
right after the step): the *transient* fields `freed`, `freed_rep` and `freed_hasD` per slot,
which every step starts empty (`registry.settled`) and each free fills.

What is projected away, and why that is sound for the proofs that use this vocabulary:
- message contents: a socket queue becomes its length `qlen` (what netlink_broadcast_deliver()
  compares with the capacity), and the observers keep `hasD[i][u]` ("listener i has a DESTROY
  of the instance in u queued or read", the only thing destroy-before-free and
  destroy-eventually read);
- `drops`, the bits each listener read or lost, the order of deaths, `exp_lost` and the crash
  reason: no kernel step reads them and none of the proved properties does either;
- list order: the unconfirmed list and the hash become membership flags. Where the kernel's
  order picks something there (the hashed conntrack of a flow, the flush order) the choice is
  an existential argument of the step, so the abstract step allows every order the model
  allows (an over-approximation). The dying list keeps its order exactly, because 6.x's
  ecache_work() walks it from the head and stops at the first failure, so which conntrack gets
  the next DESTROY depends on it: membership `inD` plus `dpos`, the position counted from the
  tail (hlist_nulls_add_head_rcu() in nf_ct_add_to_ecache_list() gives the newcomer the next
  position; a free closes the gap, as unlinking from a list does);
- `pid` keeps the remembered netlink port id as an integer (0 = none), as the kernel does;
- the 6.x delayed ecache worker is kept whole: `worker` (ticks until it runs, -1 when not
  scheduled) and `dwork_pending` (net->ct.ecache_dwork_pending), each owned by the model field
  of the same name, so the registry's `modifies` gives their frames.

Limits, capacities, timeouts, the number of flows and listeners and every listener option are
parameters (`nfct_spec.spec.params`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nfct_spec.models.config import Config
from nfct_spec.models.state import (
    CRASH_DEADLOCK_CONNTRACK_LOCK,
    CRASH_DOUBLE_DYING,
    CRASH_DOUBLE_UNLINK,
    CRASH_FREED_LINKED,
    CRASH_MOD_ZERO,
    CRASH_TIMER_PENDING,
    CRASH_USE_AFTER_FREE,
    DEADLOCK_DYING_LOCK,
    NO_TIMER,
    Call,
    Record,
    Socket,
    State,
)
from nfct_spec.spec.terms import Term

KERNEL_CTS = "kernel.cts"
SOCKETS = "kernel.sockets"
RECORDS = "ghost.records"
CALLS = "kernel.calls"
FREED = "ghost.freed"
"""The owner of the transient fields: every step starts with no freed record (the registry
settles the state before the action runs), so no action declares it and each one sets it."""


@dataclass(frozen=True)
class Field:
    """One abstract state variable (a scalar, or an array over conntrack or listener slots)."""

    name: str
    owners: frozenset[str]
    shape: str
    sort: str
    default: int | bool
    doc: str

    @property
    def transient(self) -> bool:
        """The field describes the step that led to the state (its freed records): each step
        starts it afresh, so no frame keeps it."""
        return FREED in self.owners


def _f(name: str, owners: str, shape: str, sort: str, default: int | bool, doc: str) -> Field:
    return Field(name, frozenset(owners.split()), shape, sort, default, doc)


FIELDS: tuple[Field, ...] = (
    _f("alloc", KERNEL_CTS, "slot", "bool", False, "slot holds an allocated struct nf_conn"),
    _f("flow", KERNEL_CTS, "slot", "int", 0, "the conntrack's tuple (flow id)"),
    _f("ecache", KERNEL_CTS, "slot", "bool", False, "has the event-cache extension"),
    _f("assured", KERNEL_CTS, "slot", "bool", False, "IPS_ASSURED"),
    _f("dbit", KERNEL_CTS, "slot", "bool", False, "IPS_DYING_BIT"),
    _f("timer", KERNEL_CTS, "slot", "int", NO_TIMER, "ct->timeout ticks left, -1 if not pending"),
    _f("cache", KERNEL_CTS, "slot", "bits", 0, "ecache->cache"),
    _f("missed", KERNEL_CTS, "slot", "bits", 0, "ecache->missed"),
    _f("pid", KERNEL_CTS, "slot", "int", 0, "ecache->pid (remembered requester port id)"),
    _f("inU", "kernel.unconfirmed", "slot", "bool", False, "on the unconfirmed list"),
    _f("inH", "kernel.hash", "slot", "bool", False, "in the hash table"),
    _f("inD", "kernel.dying", "slot", "bool", False, "on the dying list"),
    _f("dpos", "kernel.dying", "slot", "int", -1, "dying-list position from the tail, -1 off"),
    _f("count", "kernel.ct_count", "scalar", "int", 0, "net->ct.count"),
    _f("open", SOCKETS, "listener", "bool", False, "the socket is open"),
    _f("qlen", SOCKETS, "listener", "int", 0, "messages in the receive queue"),
    _f("cong", SOCKETS, "listener", "bool", False, "NETLINK_CONGESTED"),
    _f("skerr", SOCKETS, "listener", "bool", False, "sk_err pending"),
    _f(
        "hasD",
        RECORDS,
        "listener_slot",
        "bool",
        False,
        "a DESTROY of the instance in u is queued at, or was read by, listener i",
    ),
    _f(
        "owed",
        RECORDS,
        "listener_slot",
        "bool",
        False,
        "listener i was open when the instance in u was created",
    ),
    _f("events", "kernel.nf_conntrack_events", "scalar", "int", 1, "sysctl"),
    _f("retry", "kernel.events_retry_timeout", "scalar", "int", 0, "sysctl"),
    _f("apend", "kernel.alloc_pending", "scalar", "int", -1, "flow waiting for early_drop"),
    _f("aslot", "kernel.alloc_slot", "scalar", "int", -1, "the slot it will get"),
    _f("bfa", "kernel.build_fail_armed", "scalar", "bool", False, "next message build fails"),
    _f(
        "crashed",
        "kernel.crashed",
        "scalar",
        "bool",
        False,
        "the kernel faulted (no encoded config deadlocks: proofs.guard.encoding_gap)",
    ),
    _f("crash", "kernel.crashed", "scalar", "int", 0, "which fault (CRASH_CODES), 0 none"),
    _f("worker", "kernel.worker", "scalar", "int", -1, "6.x ecache dwork: ticks left, -1 idle"),
    _f(
        "dwork_pending",
        "kernel.dwork_pending",
        "scalar",
        "bool",
        False,
        "net->ct.ecache_dwork_pending (6.x)",
    ),
    _f("refs", "kernel.refs", "slot", "int", 0, "smp: ct_general.use, 0 when free"),
    _f("cfn", CALLS, "cpu", "int", 0, "smp: the call's function (CALL_FNS code), 0 none"),
    _f("cslot", CALLS, "cpu", "int", -1, "smp: the conntrack the call works on"),
    _f("cpc", CALLS, "cpu", "int", 0, "smp: the call's program point (CALL_PCS code)"),
    _f("cport", CALLS, "cpu", "int", 0, "smp: the port id the call reports DESTROY with"),
    _f("cecho", CALLS, "cpu", "bool", False, "smp: the call reports with echo"),
    _f("cheld", CALLS, "cpu", "bool", False, "smp: the call holds a reference of its own"),
    _f("cfailed", CALLS, "cpu", "bool", False, "smp: the call's DESTROY send failed"),
    _f("cinline", CALLS, "cpu", "bool", False, "smp: death_by_timeout() body run inline"),
    _f("pend", RECORDS, "slot", "bits", 0, "bits raised and not yet sent successfully"),
    _f("rep", RECORDS, "slot", "bool", False, "an event was handed to ctnetlink"),
    _f("dead", RECORDS, "slot", "bool", False, "the instance started to die (DESTROY raised)"),
    _f("freed", FREED, "slot", "bool", False, "the step freed the instance that lived in the slot"),
    _f("freed_rep", FREED, "slot", "bool", False, "that instance had handed an event to ctnetlink"),
    _f(
        "freed_hasD",
        FREED,
        "listener_slot",
        "bool",
        False,
        "listener i had a DESTROY of that instance queued or read when it was freed",
    ),
)
BY_FIELD = {f.name: f for f in FIELDS}
OBSERVER_FIELDS = frozenset(f.name for f in FIELDS if f.owners & {RECORDS, FREED})
"""Fields that the ghost's observer records give (they need OBLIGATIONS)."""
TRANSIENT_FIELDS = frozenset(f.name for f in FIELDS if f.transient)
"""Fields of the step's freed records, which every step starts empty."""

AState = dict[str, Any]
"""An abstract state: field name -> term, list of terms, or list of lists (listener x slot)."""


@dataclass(frozen=True)
class Shape:
    """How many conntrack slots (N), listener slots (L) and CPUs (the smp calls in progress at
    once; 0 at the atomic granularity) an encoding has."""

    n: int
    listeners: int
    cpus: int = 0


CALL_FNS = ("ctnetlink_del_conntrack", "death_by_timeout", "nf_conntrack_flush_report")
"""The functions of an smp call; `cfn` is the index + 1 (0: no call). The order is the model's
(calls are kept sorted, `Call` compares its fields in order), so the codes compare as the
names do."""

CALL_PCS = (
    "del_timer",
    "found",
    "insert_dying",
    "next_corpse",
    "put",
    "put_base",
    "report",
    "set_dying",
    "test_dying",
    "unlink",
)
"""The program points of an smp call, sorted as the model sorts them; `cpc` is the index + 1."""

CRASH_CODES = (
    CRASH_MOD_ZERO,
    CRASH_DOUBLE_UNLINK,
    CRASH_TIMER_PENDING,
    CRASH_DOUBLE_DYING,
    CRASH_USE_AFTER_FREE,
    CRASH_FREED_LINKED,
    CRASH_DEADLOCK_CONNTRACK_LOCK,
    DEADLOCK_DYING_LOCK,
)
"""The faults (and the two deadlocks) an encoded config can reach; `crash` is the index + 1 (0:
none, and OTHER_CRASH for any other, such as a deadlock of a config the encoding does not
cover)."""

OTHER_CRASH = len(CRASH_CODES) + 1


def crash_code(crashed: str) -> int:
    """The `crash` value of a model's `Kernel.crashed`."""
    if not crashed:
        return 0
    return CRASH_CODES.index(crashed) + 1 if crashed in CRASH_CODES else OTHER_CRASH


def fn_code(fn: str) -> int:
    """The `cfn` value of a call's function."""
    return CALL_FNS.index(fn) + 1


def pc_code(pc: str) -> int:
    """The `cpc` value of a call's program point."""
    return CALL_PCS.index(pc) + 1


def leaves(state: AState, name: str) -> list[Term]:
    """The scalar terms of one field, flattened."""
    value = state[name]
    if not isinstance(value, list):
        return [value]
    if value and isinstance(value[0], list):
        return [t for row in value for t in row]
    return list(value)


def equal_fields(a: AState, b: AState, names: list[str]) -> list[Term]:
    """Pointwise equalities of the named fields of two states."""
    return [x == y for name in names for x, y in zip(leaves(a, name), leaves(b, name), strict=True)]


def shape_for(config: Config) -> Shape:
    """The smallest shape that holds every state of `config`."""
    cpus = config.cpus if config.granularity == "smp" else 0
    return Shape(n=config.slots, listeners=len(config.listeners), cpus=cpus)


def _records(state: State, n: int) -> list[Record | None]:
    cts = state.kernel.cts
    return [state.record(u) if u < len(cts) and cts[u] is not None else None for u in range(n)]


def _per_ct(attr: str, default: int | bool) -> Callable[[State, Shape], tuple[Any, ...]]:
    def field(state: State, shape: Shape) -> tuple[Any, ...]:
        cts = state.kernel.cts
        return tuple(
            getattr(cts[u], attr) if u < len(cts) and cts[u] is not None else default
            for u in range(shape.n)
        )

    return field


def _sockets(state: State, shape: Shape) -> list[Socket | None]:
    socks: list[Socket | None] = list(state.kernel.sockets)
    return socks + [None] * (shape.listeners - len(socks))


def _per_seen(attr: str) -> Callable[[State, Shape], tuple[tuple[bool, ...], ...]]:
    def field(state: State, shape: Shape) -> tuple[tuple[bool, ...], ...]:
        records = _records(state, shape.n)
        return tuple(
            tuple(bool(r and i < len(r.seen) and getattr(r.seen[i], attr)) for r in records)
            for i in range(shape.listeners)
        )

    return field


def _dpos(state: State, shape: Shape) -> tuple[int, ...]:
    dying = state.kernel.dying
    return tuple(len(dying) - 1 - dying.index(u) if u in dying else -1 for u in range(shape.n))


def _per_call(read: Callable[[Call], Any], default: Any) -> Callable[[State, Shape], Any]:
    def field(state: State, shape: Shape) -> tuple[Any, ...]:
        calls = state.kernel.calls
        return tuple(read(calls[c]) if c < len(calls) else default for c in range(shape.cpus))

    return field


def _refs(state: State, shape: Shape) -> tuple[int, ...]:
    refs = state.kernel.refs
    return tuple(refs[u] if u < len(refs) else 0 for u in range(shape.n))


def _freed(state: State) -> dict[int, Record]:
    return {r.slot: r for r in state.ghost.freed}


def _freed_has_destroy(state: State, shape: Shape) -> tuple[tuple[bool, ...], ...]:
    gone = _freed(state)
    return tuple(
        tuple(
            bool(u in gone and i < len(gone[u].seen) and gone[u].seen[i].has_destroy)
            for u in range(shape.n)
        )
        for i in range(shape.listeners)
    )


PROJECTIONS: dict[str, Callable[[State, Shape], Any]] = {
    "alloc": lambda s, sh: tuple(
        u < len(s.kernel.cts) and s.kernel.cts[u] is not None for u in range(sh.n)
    ),
    "flow": _per_ct("flow", 0),
    "ecache": _per_ct("ecache", False),
    "assured": _per_ct("assured", False),
    "dbit": _per_ct("dying", False),
    "timer": _per_ct("timer", NO_TIMER),
    "cache": _per_ct("cache", 0),
    "missed": _per_ct("missed", 0),
    "pid": _per_ct("pid", 0),
    "inU": lambda s, sh: tuple(u in s.kernel.unconfirmed for u in range(sh.n)),
    "inH": lambda s, sh: tuple(u in s.kernel.hash for u in range(sh.n)),
    "inD": lambda s, sh: tuple(u in s.kernel.dying for u in range(sh.n)),
    "dpos": _dpos,
    "count": lambda s, sh: s.kernel.ct_count,
    "open": lambda s, sh: tuple(bool(x and x.open) for x in _sockets(s, sh)),
    "qlen": lambda s, sh: tuple(len(x.queue) if x else 0 for x in _sockets(s, sh)),
    "cong": lambda s, sh: tuple(bool(x and x.congested) for x in _sockets(s, sh)),
    "skerr": lambda s, sh: tuple(bool(x and x.sk_err) for x in _sockets(s, sh)),
    "hasD": _per_seen("has_destroy"),
    "owed": _per_seen("owed"),
    "events": lambda s, sh: s.kernel.nf_conntrack_events,
    "retry": lambda s, sh: s.kernel.events_retry_timeout,
    "apend": lambda s, sh: s.kernel.alloc_pending,
    "aslot": lambda s, sh: s.kernel.alloc_slot,
    "bfa": lambda s, sh: s.kernel.build_fail_armed,
    "crashed": lambda s, sh: bool(s.kernel.crashed),
    "crash": lambda s, sh: crash_code(s.kernel.crashed),
    "refs": _refs,
    "cfn": _per_call(lambda c: fn_code(c.fn), 0),
    "cslot": _per_call(lambda c: c.slot, -1),
    "cpc": _per_call(lambda c: pc_code(c.pc), 0),
    "cport": _per_call(lambda c: c.portid, 0),
    "cecho": _per_call(lambda c: c.echo, False),
    "cheld": _per_call(lambda c: c.held, False),
    "cfailed": _per_call(lambda c: c.failed, False),
    "cinline": _per_call(lambda c: c.inline, False),
    "worker": lambda s, sh: s.kernel.worker,
    "dwork_pending": lambda s, sh: s.kernel.dwork_pending,
    "pend": lambda s, sh: tuple(r.pending if r else 0 for r in _records(s, sh.n)),
    "rep": lambda s, sh: tuple(bool(r and r.reporting) for r in _records(s, sh.n)),
    "dead": lambda s, sh: tuple(bool(r and r.died) for r in _records(s, sh.n)),
    "freed": lambda s, sh: tuple(u in _freed(s) for u in range(sh.n)),
    "freed_rep": lambda s, sh: tuple(
        bool(u in (gone := _freed(s)) and gone[u].reporting) for u in range(sh.n)
    ),
    "freed_hasD": _freed_has_destroy,
}
"""How each field is read off a model state (one function per field of FIELDS); arrays are
tuples, so that a field's value can key a memo."""


def _listed(value: Any) -> Any:
    return [_listed(v) for v in value] if isinstance(value, tuple) else value


def project(config: Config, state: State, shape: Shape) -> AState:
    """The abstract state of a model state (plain Python values, arrays as lists)."""
    return {f.name: _listed(PROJECTIONS[f.name](state, shape)) for f in FIELDS}
