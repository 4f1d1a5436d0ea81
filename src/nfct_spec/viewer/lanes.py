"""One readable form of a model state, its structural diff, and the lanes derived from a trace.

`state_view` turns a `State` into nested plain data a netfilter developer reads without the
model's encodings: memory slots and the kernel lists by conntrack, each conntrack with its
flow, its slot (the id ctnetlink reports), its place (unconfirmed list, hash table, dying list,
or freed), event bits by name (`NEW|DESTROY`) and timers as ticks; each listener by its
configured name with its queue, congestion, sk_err and drops; the observers the properties
read; and the `nf_conntrack_max` headroom. Both the terminal and the HTML view diff these
views, so they agree on what a step changed.

Conntracks are *instances*: one starts when a slot is allocated and ends when it is freed, and
a freed slot is allocated again. An instance is keyed `ct<uid>` by its observer record (the
ghost numbers instances in creation order, and a trace's states keep every record while the
conntrack lives), so its key is stable along a trace; a freed instance stays in the view while
the ghost keeps its record (at least in the state right after the free, longer while a listener
holds one of its messages). States without observers number instances by following each
slot's allocations.

Lanes follow one conntrack instance or one listener through the trace, one cell per state;
deliveries are the netlink traffic of each step (queued, received, dropped), the input of the
message-sequence view.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nfct_spec.models.bits import bit_names
from nfct_spec.models.config import Config
from nfct_spec.models.observers import Record, Seen
from nfct_spec.models.registry import BY_NAME, Step, StepError, check_step
from nfct_spec.models.state import NO_TIMER, Call, Conntrack, Message, State
from nfct_spec.traces import Trace, TraceError

View = dict[str, Any]
FREED = "freed"
PLACES = ("unconfirmed", "hash", "dying", FREED)
Keys = Mapping[int, str]
"""The key of the conntrack instance in each allocated slot of one state."""


def bits_text(bits: int) -> str:
    """Event bits by name, as the kernel's IPCT_* names without the prefix (`-` for none)."""
    return "|".join(bit_names(bits)) or "-"


def ct_key(uid: int) -> str:
    """The key of a conntrack instance in a view (`ct<uid>`, the observer record's uid)."""
    return f"ct{uid}"


def ident_text(flow: int, slot: int) -> str:
    """What a listener sees of a conntrack: its tuple (flow) and its id (memory slot)."""
    return f"flow {flow} id {slot}"


def message_text(message: Message) -> str:
    """One queued netlink message: the conntrack instance and its bits, or an expectation
    event (which names no conntrack)."""
    if message.expect:
        return "exp NEW"
    who = ct_key(message.uid) if message.uid >= 0 else ident_text(message.flow, message.slot)
    return f"{who} {bits_text(message.bits)}"


def _same_instance(before: State, after: State, slot: int) -> bool:
    """Without observers: the conntrack in `slot` after a step is the one before it unless the
    flow changed or it is newly unconfirmed (a free and an allocation in one step)."""
    old, new = before.kernel.cts[slot], after.kernel.cts[slot]
    if old is None or new is None or old.flow != new.flow:
        return False
    return slot not in after.kernel.unconfirmed or slot in before.kernel.unconfirmed


def instance_keys(states: Sequence[State]) -> list[dict[int, str]]:
    """Per state, the key of the conntrack instance in each allocated slot (module docstring)."""
    out: list[dict[int, str]] = []
    fresh = 0
    for index, state in enumerate(states):
        keys: dict[int, str] = {}
        for slot, ct in enumerate(state.kernel.cts):
            if ct is None:
                continue
            record = state.record(slot)
            if record is not None:
                keys[slot] = ct_key(record.uid)
            elif index and slot in out[-1] and _same_instance(states[index - 1], state, slot):
                keys[slot] = out[-1][slot]
            else:
                keys[slot] = ct_key(fresh)
                fresh += 1
        out.append(keys)
    return out


def ct_place(state: State, slot: int) -> str:
    """Where the conntrack in `slot` is: `unconfirmed`, `hash`, `dying` or `freed`."""
    kernel = state.kernel
    if slot in kernel.hash:
        return "hash"
    if slot in kernel.dying:
        return "dying"
    if slot in kernel.unconfirmed:
        return "unconfirmed"
    return FREED


def headroom(config: Config, state: State) -> int | str:
    """`nf_conntrack_max - nf_conntrack_count`; negative when the table is over its limit."""
    if config.nf_conntrack_max <= 0:
        return "unlimited"
    return config.nf_conntrack_max - state.kernel.ct_count


def _conntrack_view(state: State, slot: int, ct: Conntrack) -> View:
    return {
        "flow": ct.flow,
        "slot": slot,
        "place": ct_place(state, slot),
        "timer": "-" if ct.timer == NO_TIMER else ct.timer,
        "cache": bits_text(ct.cache),
        "missed": bits_text(ct.missed),
        "ecache": ct.ecache,
        "assured": ct.assured,
        "dying_bit": ct.dying,
        "pid": ct.pid,
    }


def seen_text(seen: Seen) -> str:
    """What one listener observed of one conntrack, as the flags that are set and the event
    bits read (`got`) and refused (`dropped`); `-` for nothing."""
    parts = [name for name in ("owed", "has_destroy") if getattr(seen, name)]
    parts += [f"{name} {bits_text(getattr(seen, name))}" for name in ("got", "dropped")]
    parts = [p for p in parts if not p.endswith(" -")]
    parts += [name for name in ("newer", "later", "reuse") if getattr(seen, name)]
    return ", ".join(parts) or "-"


def _record_view(config: Config, record: Record) -> View:
    return {
        "generated": bits_text(record.generated),
        "pending": bits_text(record.pending),
        "reporting": record.reporting,
        "died": record.died,
        "seen": {
            listener.name: seen_text(s)
            for listener, s in zip(config.listeners, record.seen, strict=True)
        },
    }


def _previous_text(config: Config, flow: int, readers: int) -> str:
    if flow < 0:
        return "-"
    names = [lis.name for i, lis in enumerate(config.listeners) if readers >> i & 1]
    return f"flow {flow} (read by {' and '.join(names) or 'nobody'})"


def _call_text(call: Call, keys: Keys) -> str:
    """One call in progress (granularity smp): function, conntrack and program point."""
    where = keys.get(call.slot, "-") if call.slot >= 0 else "-"
    flags = [name for name in ("held", "failed", "inline") if getattr(call, name)]
    extra = f" [{', '.join(flags)}]" if flags else ""
    return f"{call.fn}({where}) at {call.pc}{extra}"


def state_view(config: Config, state: State, keys: Keys | None = None) -> View:
    """The readable nested form of a state (see the module docstring); `keys` names the
    instances (by default from the observer records)."""
    kernel, ghost = state.kernel, state.ghost
    if keys is None:
        keys = instance_keys([state])[0]
    table: View = {
        "count": kernel.ct_count,
        "nf_conntrack_max": config.nf_conntrack_max,
        "headroom": headroom(config, state),
        "slots": [keys.get(slot, "-") for slot in range(len(kernel.cts))],
        "unconfirmed": [keys[s] for s in kernel.unconfirmed],
        "hash": [keys[s] for s in kernel.hash],
        "dying": [keys[s] for s in kernel.dying],
        "alloc_pending": kernel.alloc_pending,
        "alloc_slot": kernel.alloc_slot,
        "build_fail_armed": kernel.build_fail_armed,
        "crashed": kernel.crashed,
    }
    if config.variant == "6.x":
        table.update(worker=kernel.worker, dwork_pending=kernel.dwork_pending)
    if config.granularity == "smp":
        table.update(
            cpus=[_call_text(call, keys) for call in kernel.calls],
            refs=[keys.get(slot, "-") + f"={n}" for slot, n in enumerate(kernel.refs) if n],
        )
    sysctl: View = {
        "nf_conntrack_events": kernel.nf_conntrack_events,
        "events_retry_timeout": kernel.events_retry_timeout,
    }
    shown: dict[str, View] = {
        ct_key(r.uid): {"flow": r.flow, "slot": r.slot, "place": FREED}
        for r in ghost.records
        if not r.live
    }
    for slot, ct in enumerate(kernel.cts):
        if ct is not None:
            shown[keys[slot]] = _conntrack_view(state, slot, ct)
    conntracks: View = dict(sorted(shown.items(), key=lambda item: int(item[0][2:])))
    listeners: View = {
        listener.name: {
            "open": sock.open,
            "queue": [message_text(m) for m in sock.queue],
            "congested": sock.congested,
            "sk_err": sock.sk_err,
            "drops": sock.drops,
        }
        for listener, sock in zip(config.listeners, kernel.sockets, strict=True)
    }
    ghost_view: View = {
        "records": {ct_key(r.uid): _record_view(config, r) for r in ghost.records},
        "deaths": [ct_key(u) for u in ghost.deaths],
        "exp_lost": ghost.exp_lost,
    }
    if ghost.previous:
        ghost_view["previous"] = [_previous_text(config, f, r) for f, r in ghost.previous]
    return {
        "table": table,
        "sysctl": sysctl,
        "conntracks": conntracks,
        "listeners": listeners,
        "ghost": ghost_view,
    }


def trace_views(trace: Trace) -> list[View]:
    """The view of every state of a trace, in order."""
    keys = instance_keys(trace.states)
    return [state_view(trace.config, state, k) for state, k in zip(trace.states, keys, strict=True)]


@dataclass(frozen=True)
class Change:
    """One leaf that differs between two views; `None` stands for absent."""

    path: str
    before: Any
    after: Any


def diff(before: Any, after: Any, path: str = "") -> list[Change]:
    """Every leaf that changed, nested objects included, in view order.

    Objects are compared key by key (keys new in `after` come last); lists and scalars are
    leaves, so a queue or a kernel list shows as a whole before and after.
    """
    if isinstance(before, dict) and isinstance(after, dict):
        changes: list[Change] = []
        for key in [*before, *(k for k in after if k not in before)]:
            sub = f"{path}.{key}" if path else str(key)
            changes += diff(before.get(key), after.get(key), sub)
        return changes
    if before == after:
        return []
    return [Change(path, before, after)]


def flow_keys(views: Sequence[View], flow: int) -> frozenset[str]:
    """The keys of every conntrack instance of `flow` anywhere in the views of a trace."""
    return frozenset(
        key for view in views for key, ct in view["conntracks"].items() if ct["flow"] == flow
    )


def focus(view: View, keys: frozenset[str] | None, listener: str | None) -> View:
    """The view restricted to some conntracks and/or one listener (None: keep all)."""
    result = dict(view)
    records = dict(view["ghost"]["records"])
    if keys is not None:
        result["conntracks"] = {k: v for k, v in view["conntracks"].items() if k in keys}
        records = {k: v for k, v in records.items() if k in keys}
    if listener is not None:
        result["listeners"] = {k: v for k, v in view["listeners"].items() if k == listener}
        records = {
            k: {**v, "seen": {n: s for n, s in v["seen"].items() if n == listener}}
            for k, v in records.items()
        }
    result["ghost"] = {**view["ghost"], "records": records}
    return result


def runs(cells: Sequence[Any]) -> list[tuple[int, int, Any]]:
    """Run-length form of a lane: (first state, last state, value) for each constant run."""
    result: list[tuple[int, int, Any]] = []
    for i, cell in enumerate(cells):
        if result and result[-1][2] == cell:
            result[-1] = (result[-1][0], i, cell)
        else:
            result.append((i, i, cell))
    return result


CT_LANE_FIELDS = ("place", "timer", "cache", "missed")
LISTENER_LANE_FIELDS = ("open", "queue", "congested", "sk_err", "drops")


@dataclass(frozen=True)
class CtLane:
    """One conntrack instance through a trace: from the state it appears in (`first`), one
    cell per state while it is shown (place, timer, cache, missed)."""

    key: str
    flow: int
    slot: int
    first: int
    cells: list[View]

    @property
    def label(self) -> str:
        """The instance with what a listener sees of it (tuple and id)."""
        return f"{self.key} {ident_text(self.flow, self.slot)}"

    def cell(self, index: int) -> View | None:
        """The cell of state `index` (None: not allocated then)."""
        at = index - self.first
        return self.cells[at] if 0 <= at < len(self.cells) else None


def ct_lanes(views: Sequence[View]) -> list[CtLane]:
    """One lane per conntrack instance, in the order they appear."""
    found: dict[str, tuple[int, int, int, list[View]]] = {}
    for index, view in enumerate(views):
        for key, ct in view["conntracks"].items():
            if key not in found:
                found[key] = (ct["flow"], ct["slot"], index, [])
            found[key][3].append({f: ct.get(f, "-") for f in CT_LANE_FIELDS})
    return [
        CtLane(key, flow, slot, first, cells) for key, (flow, slot, first, cells) in found.items()
    ]


def listener_lanes(views: Sequence[View]) -> dict[str, list[View]]:
    """Per listener, one cell per state: open, queue, congested, sk_err, drops."""
    names = list(views[0]["listeners"]) if views else []
    return {
        name: [{f: view["listeners"][name][f] for f in LISTENER_LANE_FIELDS} for view in views]
        for name in names
    }


@dataclass(frozen=True)
class Delivery:
    """Netlink traffic of one step for one listener: `queued`, `received`, `enobufs`,
    `dropped` (an overrun refused the message); `ident` is what the listener sees of the
    conntrack (tuple and id), empty for an expectation or an error."""

    step: int
    listener: str
    kind: str
    text: str
    ident: str = ""


def _message_delivery(index: int, listener: str, kind: str, message: Message) -> Delivery:
    ident = "" if message.expect else ident_text(message.flow, message.slot)
    return Delivery(index, listener, kind, message_text(message), ident)


def _lost(pre: State, post: State, i: int) -> list[tuple[Record, int]]:
    """The observer records of which listener i refused event bits in this step (a record
    the step freed is among the step's freed records, no longer among the live ones)."""
    before = {r.uid: r.seen[i].dropped for r in pre.ghost.records}
    out = []
    for record in (*post.ghost.records, *post.ghost.freed):
        bits = record.seen[i].dropped & ~before.get(record.uid, 0)
        if bits:
            out.append((record, bits))
    return out


def _step_deliveries(
    config: Config, pre: State, step: Step, post: State, index: int
) -> list[Delivery]:
    found: list[Delivery] = []
    for i, listener in enumerate(config.listeners):
        a, b = pre.kernel.sockets[i], post.kernel.sockets[i]
        base = a.queue
        if step.action == "env_recv" and step.kwargs.get("listener") == listener.name:
            if a.sk_err:
                found.append(Delivery(index, listener.name, "enobufs", "ENOBUFS"))
            elif a.queue:
                found.append(_message_delivery(index, listener.name, "received", a.queue[0]))
                base = a.queue[1:]
        if b.queue[: len(base)] == base:
            for message in b.queue[len(base) :]:
                found.append(_message_delivery(index, listener.name, "queued", message))
        lost = _lost(pre, post, i)
        for record, bits in lost:
            text = f"{ct_key(record.uid)} {bits_text(bits)}"
            ident = ident_text(record.flow, record.slot)
            found.append(Delivery(index, listener.name, "dropped", text, ident))
        if not lost and b.drops > a.drops:
            found.append(Delivery(index, listener.name, "dropped", "overrun"))
    return found


def deliveries(trace: Trace) -> list[Delivery]:
    """Every step's netlink traffic, in step then listener order."""
    found: list[Delivery] = []
    for index in range(1, len(trace.states)):
        pre, post = trace.states[index - 1], trace.states[index]
        found += _step_deliveries(trace.config, pre, trace.steps[index - 1], post, index)
    return found


def validate(trace: Trace) -> None:
    """Check what the views rely on beyond the trace format: steps of the trace's variant
    with arguments in their actions' domains, one socket per configured listener and one
    entry per memory slot, kernel lists naming allocated slots, one observer entry per
    listener, a finding step inside the trace. TraceError names the field and the step."""
    config = trace.config
    n, slots = len(config.listeners), config.slots
    for i, state in enumerate(trace.states):
        kernel = state.kernel
        where = f"states[{i}]"
        if len(kernel.sockets) != n:
            raise TraceError(f"{where}.kernel.sockets: expected {n} (one per listener)")
        if len(kernel.cts) != slots:
            raise TraceError(f"{where}.kernel.cts: expected {slots} (one per memory slot)")
        for name in ("unconfirmed", "hash", "dying"):
            for slot in getattr(kernel, name):
                if not 0 <= slot < slots or kernel.cts[slot] is None:
                    raise TraceError(f"{where}.kernel.{name}: slot {slot} holds no conntrack")
        for j, record in enumerate(state.ghost.records):
            if len(record.seen) != n:
                raise TraceError(
                    f"{where}.ghost.records[{j}].seen: expected {n} (one per listener)"
                )
        if state.ghost.previous and len(state.ghost.previous) != slots:
            raise TraceError(f"{where}.ghost.previous: expected {slots} (one per memory slot)")
        if i:
            _validate_step(config, trace.steps[i - 1], where)
    step = trace.meta.get("step")
    if step is not None and (
        isinstance(step, bool) or not isinstance(step, int) or not 0 <= step < len(trace.states)
    ):
        raise TraceError(f"#meta.step: {step!r} is not a state index of this trace")


def _validate_step(config: Config, step: Step, where: str) -> None:
    action = BY_NAME.get(step.action)
    if action is None or not action.exists_in(config):
        raise TraceError(
            f"{where}.#meta.action: {step.action!r} is not an action of variant {config.variant}"
        )
    try:
        check_step(config, step)
    except StepError as exc:
        raise TraceError(f"{where}.#meta.args: {exc}") from None
