"""One readable form of a model state, its structural diff, and the lanes derived from a trace.

`state_view` turns a `State` into nested plain data a netfilter developer reads without the
model's encodings: conntracks keyed `ct<uid>` with their place (unconfirmed list, hash table,
dying list, or freed), event bits by name (`NEW|DESTROY`), timers as ticks, each listener by
its configured name with its queue, congestion, sk_err, drops and what it has received, and
the `nf_conntrack_max` headroom. Both the terminal and the HTML view diff these views, so they
agree on what a step changed.

Lanes follow one conntrack (per flow) or one listener through the trace, one cell per state;
deliveries are the netlink traffic of each step (queued, received, dropped), the input of the
message-sequence view.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nfct_spec.models.bits import bit_names
from nfct_spec.models.config import Config
from nfct_spec.models.registry import BY_NAME, Step
from nfct_spec.models.state import NO_TIMER, Message, State
from nfct_spec.traces import Trace, TraceError

View = dict[str, Any]
FREED = "freed"
PLACES = ("unconfirmed", "hash", "dying", FREED)


def bits_text(bits: int) -> str:
    """Event bits by name, as the kernel's IPCT_* names without the prefix (`-` for none)."""
    return "|".join(bit_names(bits)) or "-"


def ct_key(uid: int) -> str:
    """The key of a conntrack in a view (`ct<uid>`, uid = allocation number)."""
    return f"ct{uid}"


def message_text(message: Message) -> str:
    """One queued netlink message: the conntrack and its bits, or an expectation event."""
    if message.expect:
        return f"exp {ct_key(message.uid)}"
    return f"{ct_key(message.uid)} {bits_text(message.bits)}"


def _events_text(events: frozenset[tuple[int, int]]) -> list[str]:
    per_uid: dict[int, int] = {}
    for uid, bit in sorted(events):
        per_uid[uid] = per_uid.get(uid, 0) | bit
    return [f"{ct_key(uid)} {bits_text(bits)}" for uid, bits in per_uid.items()]


def ct_place(state: State, uid: int) -> str:
    """Where an allocated conntrack is: `unconfirmed`, `hash`, `dying` or `freed`."""
    kernel = state.kernel
    if uid in kernel.hash:
        return "hash"
    if uid in kernel.dying:
        return "dying"
    if uid in kernel.unconfirmed:
        return "unconfirmed"
    return FREED


def headroom(config: Config, state: State) -> int | str:
    """`nf_conntrack_max - nf_conntrack_count`; negative when the table is over its limit."""
    if config.nf_conntrack_max <= 0:
        return "unlimited"
    return config.nf_conntrack_max - state.kernel.ct_count


def _per_uid(values: Sequence[int]) -> dict[str, str]:
    return {ct_key(uid): bits_text(bits) for uid, bits in enumerate(values)}


def state_view(config: Config, state: State) -> View:
    """The readable nested form of a state (see the module docstring)."""
    kernel, ghost = state.kernel, state.ghost
    table: View = {
        "count": kernel.ct_count,
        "nf_conntrack_max": config.nf_conntrack_max,
        "headroom": headroom(config, state),
        "unconfirmed": [ct_key(u) for u in kernel.unconfirmed],
        "hash": [ct_key(u) for u in kernel.hash],
        "dying": [ct_key(u) for u in kernel.dying],
        "alloc_pending": kernel.alloc_pending,
        "build_fail_armed": kernel.build_fail_armed,
        "crashed": kernel.crashed,
    }
    sysctl: View = {
        "nf_conntrack_events": kernel.nf_conntrack_events,
        "events_retry_timeout": kernel.events_retry_timeout,
    }
    conntracks: View = {}
    live = {ct.uid: ct for ct in kernel.cts}
    for uid, (flow, ctid) in enumerate(ghost.identity):
        ct = live.get(uid)
        if ct is None:
            conntracks[ct_key(uid)] = {"flow": flow, "ctid": ctid, "place": FREED}
            continue
        conntracks[ct_key(uid)] = {
            "flow": ct.flow,
            "ctid": ct.ctid,
            "place": ct_place(state, uid),
            "timer": "-" if ct.timer == NO_TIMER else ct.timer,
            "cache": bits_text(ct.cache),
            "missed": bits_text(ct.missed),
            "ecache": ct.ecache,
            "assured": ct.assured,
            "dying_bit": ct.dying,
            "pid": ct.pid,
        }
    listeners: View = {}
    for i, listener in enumerate(config.listeners):
        sock = kernel.sockets[i]
        listeners[listener.name] = {
            "open": sock.open,
            "queue": [message_text(m) for m in sock.queue],
            "congested": sock.congested,
            "sk_err": sock.sk_err,
            "drops": sock.drops,
            "received": _events_text(ghost.got[i]) if i < len(ghost.got) else [],
            "dropped": _events_text(ghost.dropped[i]) if i < len(ghost.dropped) else [],
            "since": ghost.since[i] if i < len(ghost.since) else 0,
        }
    ghost_view: View = {
        "generated": _per_uid(ghost.generated),
        "pending": _per_uid(ghost.pending),
        "reporting": [ct_key(u) for u in ghost.reporting],
        "deaths": [ct_key(u) for u in ghost.deaths],
        "exp_lost": ghost.exp_lost,
    }
    return {
        "table": table,
        "sysctl": sysctl,
        "conntracks": conntracks,
        "listeners": listeners,
        "ghost": ghost_view,
    }


def trace_views(trace: Trace) -> list[View]:
    """The view of every state of a trace, in order."""
    return [state_view(trace.config, state) for state in trace.states]


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


def flow_uids(trace: Trace, flow: int) -> frozenset[int]:
    """The uids of every conntrack allocated for `flow` anywhere in the trace."""
    identity = trace.states[-1].ghost.identity
    return frozenset(uid for uid, (f, _) in enumerate(identity) if f == flow)


def focus(view: View, uids: frozenset[int] | None, listener: str | None) -> View:
    """The view restricted to some conntracks and/or one listener (None: keep all)."""
    result = dict(view)
    if uids is not None:
        keys = {ct_key(u) for u in uids}
        result["conntracks"] = {k: v for k, v in view["conntracks"].items() if k in keys}
        ghost = dict(view["ghost"])
        for name in ("generated", "pending"):
            ghost[name] = {k: v for k, v in ghost[name].items() if k in keys}
        result["ghost"] = ghost
    if listener is not None:
        result["listeners"] = {k: v for k, v in view["listeners"].items() if k == listener}
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


def ct_lanes(views: Sequence[View]) -> dict[str, list[View | None]]:
    """Per conntrack, one cell per state: place, timer, cache, missed (None: not allocated)."""
    keys = list(views[-1]["conntracks"]) if views else []
    lanes: dict[str, list[View | None]] = {}
    for key in keys:
        cells: list[View | None] = []
        for view in views:
            ct = view["conntracks"].get(key)
            cells.append(None if ct is None else {f: ct.get(f, "-") for f in CT_LANE_FIELDS})
        lanes[key] = cells
    return lanes


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
    `dropped` (an overrun refused the message)."""

    step: int
    listener: str
    kind: str
    text: str


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
                found.append(Delivery(index, listener.name, "received", message_text(a.queue[0])))
                base = a.queue[1:]
        if b.queue[: len(base)] == base:
            for message in b.queue[len(base) :]:
                found.append(Delivery(index, listener.name, "queued", message_text(message)))
        lost = post.ghost.dropped[i] - pre.ghost.dropped[i]
        for text in _events_text(frozenset(lost)):
            found.append(Delivery(index, listener.name, "dropped", text))
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
    """Check what the views rely on beyond the trace format: known actions of the trace's
    variant, one socket and one ghost entry per configured listener, a finding step inside
    the trace. TraceError names the field and the step."""
    n = len(trace.config.listeners)
    for i, state in enumerate(trace.states):
        if len(state.kernel.sockets) != n:
            raise TraceError(f"states[{i}].kernel.sockets: expected {n} (one per listener)")
        for name in ("got", "dropped", "since"):
            if len(getattr(state.ghost, name)) != n:
                raise TraceError(f"states[{i}].ghost.{name}: expected {n} (one per listener)")
        if i:
            action = BY_NAME.get(trace.steps[i - 1].action)
            if action is None or trace.config.variant not in action.variants:
                raise TraceError(
                    f"states[{i}].#meta.action: {trace.steps[i - 1].action!r} is not an "
                    f"action of variant {trace.config.variant}"
                )
    step = trace.meta.get("step")
    if step is not None and (
        isinstance(step, bool) or not isinstance(step, int) or not 0 <= step < len(trace.states)
    ):
        raise TraceError(f"#meta.step: {step!r} is not a state index of this trace")
