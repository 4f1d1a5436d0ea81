"""Observed traces: what a scenario saw on the live kernel, as JSON.

A trace is a header (scenario, parameters, kernel release, listeners) and a list of events in
the order the harness saw them, each stamped with ``t``, seconds since the scenario started.
Times are when userspace observed something (a ``recv`` is stamped when it was read, not when
the kernel queued it), which is why scenarios drain at a controlled pace.

Field order is fixed by the dataclass declarations, so the same trace always serialises to the
same text.
"""

from __future__ import annotations

import json
import types
import typing
from collections import Counter
from collections.abc import Iterable
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from nfct_spec.files import ShapeError, load_json, write_text

FORMAT = "nfct-spec-observed/1"
SIGNATURE = f'"format": "{FORMAT}"'
"""The first line of every recording nfct-spec writes: only such a file is ever replaced."""
WHAT = "kernel recording"
GROUP_NAMES = ("new", "update", "destroy")
MESSAGE_KINDS = ("new", "update", "destroy")

ParamValue = bool | int | float | str | None
_PARAM_TYPES = (bool, int, float, str, type(None))


class TraceFormatError(ShapeError):
    """A trace file is not a valid observed trace; the message names the offending field."""


@dataclass(frozen=True, slots=True)
class Event:
    """Base of all events: ``t`` is seconds since the scenario started."""

    kind: ClassVar[str] = ""
    t: float


@dataclass(frozen=True, slots=True)
class FlowEvent(Event):
    """The harness created a conntrack (its first packet passed); ``ctid`` from a GET."""

    kind: ClassVar[str] = "flow"
    flow: int
    ctid: int | None
    proto: str
    sport: int
    dport: int


@dataclass(frozen=True, slots=True)
class SendDropEvent(Event):
    """A packet of a new flow was refused by the stack, e.g. ``EPERM`` when the table is full."""

    kind: ClassVar[str] = "send_drop"
    flow: int
    proto: str
    sport: int
    dport: int
    errno: str


@dataclass(frozen=True, slots=True)
class RecvEvent(Event):
    """A listener read a conntrack message; ``flow`` is known when the tuple is the harness's."""

    kind: ClassVar[str] = "recv"
    listener: str
    msg: str
    ctid: int | None
    flow: int | None
    status: int | None
    tcp_state: str | None = None


@dataclass(frozen=True, slots=True)
class RecvErrorEvent(Event):
    """A read on a listener failed, e.g. ``ENOBUFS`` after an overrun without NO_ENOBUFS."""

    kind: ClassVar[str] = "recv_error"
    listener: str
    errno: str


@dataclass(frozen=True, slots=True)
class CountEvent(Event):
    """A sample of ``nf_conntrack_count`` (recorded when it differs from the previous one)."""

    kind: ClassVar[str] = "count"
    value: int


@dataclass(frozen=True, slots=True)
class FlushEvent(Event):
    """The harness asked ctnetlink to delete every conntrack (the request was acknowledged)."""

    kind: ClassVar[str] = "flush"


@dataclass(frozen=True, slots=True)
class DeleteEvent(Event):
    """The harness asked ctnetlink to delete one flow's conntrack; ``result`` is ok or an errno."""

    kind: ClassVar[str] = "delete"
    flow: int
    result: str


@dataclass(frozen=True, slots=True)
class DumpEvent(Event):
    """The harness dumped the table, which deletes the expired entries it walks over."""

    kind: ClassVar[str] = "dump"


@dataclass(frozen=True, slots=True)
class SysctlEvent(Event):
    """A sysctl was written; ``scope`` is ``netns`` (the sandbox) or ``global``."""

    kind: ClassVar[str] = "sysctl"
    name: str
    value: str
    scope: str = "netns"


@dataclass(frozen=True, slots=True)
class ListenerOpenEvent(Event):
    """A listener from the header was opened (its subscription starts here)."""

    kind: ClassVar[str] = "listener_open"
    name: str


@dataclass(frozen=True, slots=True)
class ListenerCloseEvent(Event):
    """A listener was closed (its waiting DESTROY events can no longer reach it)."""

    kind: ClassVar[str] = "listener_close"
    name: str


@dataclass(frozen=True, slots=True)
class ListenerOptionEvent(Event):
    """A listener changed a socket option or left a group while open."""

    kind: ClassVar[str] = "listener_option"
    name: str
    option: str
    value: str


@dataclass(frozen=True, slots=True)
class NetnsExitEvent(Event):
    """The conntracks' namespace was deleted (its name removed and everything the harness held
    in it closed); listeners in other namespaces go on reading."""

    kind: ClassVar[str] = "netns_exit"


@dataclass(frozen=True, slots=True)
class NoteEvent(Event):
    """Free text: a phase of the scenario, or something the harness noticed."""

    kind: ClassVar[str] = "note"
    text: str


_E = TypeVar("_E", bound=Event)

EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        FlowEvent,
        SendDropEvent,
        RecvEvent,
        RecvErrorEvent,
        CountEvent,
        FlushEvent,
        DeleteEvent,
        DumpEvent,
        SysctlEvent,
        ListenerOpenEvent,
        ListenerCloseEvent,
        ListenerOptionEvent,
        NetnsExitEvent,
        NoteEvent,
    )
}


@dataclass(frozen=True, slots=True)
class ListenerInfo:
    """A listener's options; ``rcvbuf_effective`` is what the kernel made of ``rcvbuf``."""

    name: str
    groups: tuple[str, ...]
    broadcast_error: bool
    no_enobufs: bool
    rcvbuf: int
    rcvbuf_effective: int | None = None

    @property
    def reliable(self) -> bool:
        """BE and subscribed to DESTROY: a full buffer makes the kernel redeliver."""
        return self.broadcast_error and "destroy" in self.groups


@dataclass(frozen=True, slots=True)
class ObservedTrace:
    scenario: str
    params: dict[str, ParamValue]
    kernel: str
    listeners: tuple[ListenerInfo, ...]
    events: tuple[Event, ...]
    format: str = FORMAT

    def listener(self, name: str) -> ListenerInfo:
        for info in self.listeners:
            if info.name == name:
                return info
        raise KeyError(name)

    def of(self, cls: type[_E]) -> list[_E]:
        """The events of one type, in order."""
        return [e for e in self.events if isinstance(e, cls)]

    @property
    def duration(self) -> float:
        return self.events[-1].t if self.events else 0.0


def event_to_dict(event: Event) -> dict[str, Any]:
    out: dict[str, Any] = {"t": round(event.t, 6), "kind": event.kind}
    for f in fields(event):
        if f.name != "t":
            out[f.name] = getattr(event, f.name)
    return out


def trace_to_dict(trace: ObservedTrace) -> dict[str, Any]:
    return {
        "format": trace.format,
        "scenario": trace.scenario,
        "params": {k: trace.params[k] for k in sorted(trace.params)},
        "kernel": trace.kernel,
        "listeners": [
            {f.name: _plain(getattr(info, f.name)) for f in fields(info)}
            for info in trace.listeners
        ],
        "events": [event_to_dict(e) for e in trace.events],
    }


def dumps(trace: ObservedTrace) -> str:
    """JSON with one line per listener and per event, so traces diff well."""
    items = []
    for key, value in trace_to_dict(trace).items():
        if isinstance(value, list):
            inner = ",\n".join(f"  {json.dumps(item)}" for item in value)
            items.append(f" {json.dumps(key)}: [\n{inner}\n ]" if value else f' "{key}": []')
        else:
            items.append(f" {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(items) + "\n}\n"


def save(trace: ObservedTrace, path: str | Path) -> None:
    """Write a recording (atomically; never over a file that is not a recording of ours)."""
    write_text(path, dumps(trace), WHAT, SIGNATURE)


def load(path: str | Path) -> ObservedTrace:
    """Read a recording; :class:`~nfct_spec.files.InputError` names the file and the field."""
    return load_json(path, WHAT, trace_from_dict)


def trace_from_dict(data: object) -> ObservedTrace:
    obj = _expect_dict(data, "trace")
    fmt = obj.get("format", FORMAT)
    if fmt != FORMAT:
        raise TraceFormatError(f"format: expected {FORMAT!r}, got {fmt!r}")
    _no_extra(obj, {"format", "scenario", "params", "kernel", "listeners", "events"}, "trace")
    params = _expect_dict(_field(obj, "params", "trace"), "params")
    for key, value in params.items():
        if not isinstance(value, _PARAM_TYPES):
            raise TraceFormatError(f"params.{key}: expected a scalar, got {type(value).__name__}")
    listeners = tuple(
        _listener_from(item, f"listeners[{i}]")
        for i, item in enumerate(_expect_list(_field(obj, "listeners", "trace"), "listeners"))
    )
    events = tuple(
        _event_from(item, f"events[{i}]")
        for i, item in enumerate(_expect_list(_field(obj, "events", "trace"), "events"))
    )
    _check_event_order(events)
    return ObservedTrace(
        scenario=_typed(_field(obj, "scenario", "trace"), str, "scenario"),
        params=dict(params),
        kernel=_typed(_field(obj, "kernel", "trace"), str, "kernel"),
        listeners=listeners,
        events=events,
    )


def _listener_from(data: object, where: str) -> ListenerInfo:
    obj = _expect_dict(data, where)
    names = {f.name for f in fields(ListenerInfo)}
    _no_extra(obj, names, where)
    groups = _expect_list(_field(obj, "groups", where), f"{where}.groups")
    for group in groups:
        if group not in GROUP_NAMES:
            raise TraceFormatError(f"{where}.groups: unknown group {group!r}")
    values = _typed_fields(ListenerInfo, obj, where, skip={"groups"})
    return ListenerInfo(groups=tuple(groups), **values)


def _event_from(data: object, where: str) -> Event:
    obj = _expect_dict(data, where)
    kind = _field(obj, "kind", where)
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise TraceFormatError(f"{where}.kind: unknown event kind {kind!r}")
    _no_extra(obj, {f.name for f in fields(cls)} | {"kind"}, where)
    values = _typed_fields(cls, obj, where)
    event = cls(**values)
    if isinstance(event, RecvEvent) and event.msg not in MESSAGE_KINDS:
        raise TraceFormatError(f"{where}.msg: expected one of {MESSAGE_KINDS}, got {event.msg!r}")
    return event


def _check_event_order(events: Iterable[Event]) -> None:
    last = 0.0
    for i, event in enumerate(events):
        if event.t < last:
            raise TraceFormatError(f"events[{i}].t: {event.t} is earlier than the event before")
        last = event.t


def _typed_fields(
    cls: type[Any], obj: dict[str, Any], where: str, skip: frozenset[str] | set[str] = frozenset()
) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name in skip:
            continue
        if f.name not in obj:
            if f.default is not MISSING or f.default_factory is not MISSING:
                continue
            raise TraceFormatError(f"{where}: missing field {f.name!r}")
        values[f.name] = _typed(obj[f.name], hints[f.name], f"{where}.{f.name}")
    return values


def _typed(value: Any, hint: Any, where: str) -> Any:
    allowed = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    for kind in allowed:
        if kind is type(None) and value is None:
            return value
        if kind is bool and isinstance(value, bool):
            return value
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if kind is str and isinstance(value, str):
            return value
    names = " or ".join("null" if k is type(None) else k.__name__ for k in allowed)
    raise TraceFormatError(f"{where}: expected {names}, got {value!r}")


def _expect_dict(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TraceFormatError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _expect_list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise TraceFormatError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def _field(obj: dict[str, Any], name: str, where: str) -> Any:
    if name not in obj:
        raise TraceFormatError(f"{where}: missing field {name!r}")
    return obj[name]


def _no_extra(obj: dict[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(obj) - allowed)
    if extra:
        raise TraceFormatError(f"{where}: unknown field {extra[0]!r}")


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


@dataclass
class _ListenerStats:
    messages: Counter[str] = field(default_factory=Counter)
    destroys: Counter[tuple[int | None, int | None]] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)


def _listener_stats(trace: ObservedTrace) -> dict[str, _ListenerStats]:
    stats = {info.name: _ListenerStats() for info in trace.listeners}
    for event in trace.events:
        if isinstance(event, RecvEvent):
            entry = stats.setdefault(event.listener, _ListenerStats())
            entry.messages[event.msg] += 1
            if event.msg == "destroy":
                entry.destroys[(event.ctid, event.flow)] += 1
        elif isinstance(event, RecvErrorEvent):
            stats.setdefault(event.listener, _ListenerStats()).errors[event.errno] += 1
    return stats


def _describe_listener(info: ListenerInfo) -> str:
    opts = [",".join(info.groups) or "no groups"]
    opts += ["BE"] if info.broadcast_error else []
    opts += ["NO_ENOBUFS"] if info.no_enobufs else []
    effective = f"->{info.rcvbuf_effective}" if info.rcvbuf_effective is not None else ""
    return f"[{' '.join(opts)}, rcvbuf {info.rcvbuf}{effective}]"


def _destroy_timing(trace: ObservedTrace, listener: str) -> str:
    """When the first two DESTROYs after a flush were read (the second one is often a retry).

    The flush is the last one before the listener's first DESTROY.
    """
    destroys = [e.t for e in trace.of(RecvEvent) if e.listener == listener and e.msg == "destroy"]
    flushes = [e.t for e in trace.of(FlushEvent) if destroys and e.t <= destroys[0]]
    if not flushes:
        return ""
    start = flushes[-1]
    times = [t - start for t in destroys[:2]]
    shown = ", ".join(f"{n} +{t:.3f} s" for n, t in zip(("1st", "2nd"), times, strict=False))
    return f"; DESTROY after flush: {shown}"


def format_summary(trace: ObservedTrace) -> str:
    """A few lines: flows, messages per listener and type, duplicates, errors, count, drops."""
    flows = trace.of(FlowEvent)
    drops = Counter(e.errno for e in trace.of(SendDropEvent))
    counts = [e.value for e in trace.of(CountEvent)]
    params = ", ".join(f"{k}={v}" for k, v in sorted(trace.params.items()))
    lines = [
        f"{trace.scenario} on Linux {trace.kernel} ({params})",
        f"  duration {trace.duration:.3f} s; flows {len(flows)}; send drops "
        + (", ".join(f"{n} {name}" for name, n in sorted(drops.items())) or "0"),
        f"  count: max {max(counts, default=0)}, final {counts[-1] if counts else 'n/a'}",
    ]
    # A (ctid, flow) key created n times (the same tuple and id reused) owes n DESTROYs.
    instances: Counter[tuple[int | None, int | None]] = Counter((e.ctid, e.flow) for e in flows)
    for name, entry in _listener_stats(trace).items():
        info = next((i for i in trace.listeners if i.name == name), None)
        desc = _describe_listener(info) if info else "[unknown]"
        msgs = ", ".join(f"{k} {entry.messages[k]}" for k in MESSAGE_KINDS)
        dups = sum(max(n - max(instances[key], 1), 0) for key, n in entry.destroys.items())
        errs = ", ".join(f"{k} {n}" for k, n in sorted(entry.errors.items())) or "none"
        timing = _destroy_timing(trace, name)
        lines.append(
            f"  {name} {desc}: {msgs}; distinct (id, tuple) destroyed {len(entry.destroys)}, "
            f"duplicate destroys {dups}; errors {errs}{timing}"
        )
    return "\n".join(lines)
