"""Trace validation: is an observed live-kernel trace a behaviour of the `6.x` model?

The observation fixes the order of everything userspace did or saw: flows created, packets
refused, flushes and deletes, sysctl writes, listeners opened and closed, each message read and
each error returned by a read, and samples of `nf_conntrack_count`. The validator searches for
a model execution that performs these visible steps in the same order, with any number (up to a
bound) of internal kernel steps in between: the ecache worker, ticks of time, the gc worker. It
keeps the set of model states consistent with the prefix seen so far and reports the first
observation that no state can explain.

Mapping: each listener of the trace is a listener of the model, with a queue of as many
messages as the accept rule of Linux 6.18 takes (`capacity`); a flow event is
`nf_conntrack_in(new)` (plus `early_drop` when the table is full) and the confirm; a message
read must have the same type (new, update, destroy) and flow. Flows and listeners get model
names as the run goes and give them back once nothing refers to them (`Naming`), so a run is
searched if it has at most `MAX_FLOWS` flows, `MAX_ALLOCATIONS` conntracks and
`MAX_LISTENERS` listeners in use at once, however many it has over time; a socket option
changed mid-run changes the config from then on (`with_option`). Timing is not compared, only
order. Larger runs are refused before the search (`TooLarge`) when the recording shows it
(more flows created with no deletion or flush in between, a larger limit, more than one TCP
connection), else reported as not modelled where the search finds it out.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from nfct_spec.kernel.observe import (
    CountEvent,
    DeleteEvent,
    Event,
    FlowEvent,
    FlushEvent,
    ListenerCloseEvent,
    ListenerInfo,
    ListenerOpenEvent,
    ListenerOptionEvent,
    NetnsExitEvent,
    ObservedTrace,
    RecvErrorEvent,
    RecvEvent,
    SendDropEvent,
    SysctlEvent,
)
from nfct_spec.models.bits import GROUPS, IPCT_DESTROY, IPCT_NEW
from nfct_spec.models.config import Config, ListenerConfig
from nfct_spec.models.observers import KERNEL
from nfct_spec.models.registry import Step, apply, free_slots
from nfct_spec.models.state import State, initial_state

VALIDATION_RUNS: tuple[tuple[str, tuple[tuple[str, bool | int | str], ...]], ...] = (
    ("reliable-flush", (("flows", 3),)),
    ("reliable-flush", (("flows", 3), ("no_enobufs", False))),
    ("unreliable-flush", (("flows", 3),)),
    ("slow-and-fast", (("flows", 2),)),
    ("listener-close", (("flows", 3),)),
    ("listener-close", (("flows", 3), ("how", "clear-be"))),
    ("listener-close", (("flows", 3), ("how", "leave-group"))),
    ("expiry", (("flows", 2),)),
    ("congestion", ()),
    ("netns-exit", (("flows", 3),)),
)
"""Scenario runs small enough to validate (TCP runs are too: about 90 s for one connection,
because every segment is a hidden step)."""

MAX_FLOWS = 6
MAX_ALLOCATIONS = 12
MAX_LISTENERS = 4
MAX_TCP = 1
TRUESIZE = 1280
"""The bytes a conntrack event message charges to the receive buffer (skb truesize; a UDP
DESTROY of Linux 6.18 on x86-64)."""
INTERNAL = ("ecache_work", "env_tick", "gc_worker")
IGNORED = ("note", "dump")


class TooLarge(ValueError):
    """The observation is beyond what the validator can search."""


@dataclass(frozen=True)
class Validation:
    """The outcome: how many visible events were explained, and the first one that was not."""

    scenario: str
    explained: int
    total: int
    unexplained: str | None
    peak_states: int
    unsupported: str | None = None

    @property
    def ok(self) -> bool:
        """No observation contradicts the model (a run may stop early at an unsupported one)."""
        return self.unexplained is None

    def summary(self) -> str:
        """One line for people."""
        if self.unexplained:
            return f"NOT explained by the 6.x model: {self.unexplained}"
        if self.unsupported:
            return (
                f"explained up to event {self.explained} of {self.total}; then {self.unsupported}"
            )
        return (
            f"explained by the 6.x model: all {self.total} observations "
            f"(at most {self.peak_states} consistent model states)"
        )


def capacity(bytes_effective: int) -> int:
    """How many messages a receive buffer of `bytes_effective` bytes (what SO_RCVBUF granted)
    holds under netlink_broadcast_deliver() of Linux 6.18: a message is taken when the queue
    is empty, or when the charged bytes with it stay within the buffer (rmem + truesize <=
    rcvbuf); so the first always, and one more per `TRUESIZE` bytes. No other cap: a large
    buffer holds thousands. (Assumes every message charges `TRUESIZE`: conntrack messages of
    one protocol differ by a few attributes, within one allocation size.)"""
    return max(1, bytes_effective // TRUESIZE)


def _open_at_once(trace: ObservedTrace) -> list[str]:
    """The listeners of the most listeners open at once, in the order they were opened."""
    open_now: list[str] = []
    most: list[str] = []
    for e in trace.events:
        if isinstance(e, ListenerOpenEvent):
            open_now.append(e.name)
        elif isinstance(e, ListenerCloseEvent) and e.name in open_now:
            open_now.remove(e.name)
        if len(open_now) > len(most):
            most = list(open_now)
    return most


def _listener_config(info: ListenerInfo) -> ListenerConfig:
    return ListenerConfig(
        name=info.name,
        groups=tuple(info.groups),
        broadcast_error=info.broadcast_error,
        no_enobufs=info.no_enobufs,
        capacity=capacity(info.rcvbuf_effective or 2 * info.rcvbuf),
        open_at_start=False,
    )


def model_config(trace: ObservedTrace) -> Config:
    """The 6.x config that an observation is validated against.

    The model names flows, listeners and memory slots from small ranges, and the validator
    reuses a name once nothing refers to it any more (`Naming`): so the config needs as many
    as the run has in use at once, not as many as it ever had. Sizes are bounded by those of
    a config: at most `MAX_FLOWS` flows, `MAX_ALLOCATIONS` conntracks and
    `MAX_LISTENERS` listeners at once; a run that needs more is found out during the search."""
    flows = {e.flow for e in trace.events if isinstance(e, FlowEvent | SendDropEvent)}
    allocations = sum(isinstance(e, FlowEvent | SendDropEvent) for e in trace.events)
    limit = 0
    writes: list[tuple[str, int]] = []
    timeout = 16
    for e in trace.events:
        if isinstance(e, SysctlEvent):
            if e.name.endswith("nf_conntrack_max") and e.value.isdigit():
                limit = int(e.value)
            elif e.name.endswith("nf_conntrack_events") and e.value.isdigit():
                writes.append(("nf_conntrack_events", int(e.value)))
            elif e.name.endswith("udp_timeout"):
                timeout = 2
    if limit > 16:
        raise TooLarge(f"nf_conntrack_max {limit} (at most 16)")
    if limit > MAX_ALLOCATIONS:
        raise TooLarge(f"nf_conntrack_max {limit} (at most {MAX_ALLOCATIONS} conntracks at once)")
    first = _open_at_once(trace)
    if len(first) > MAX_LISTENERS:
        raise TooLarge(f"{len(first)} listeners open at once (at most {MAX_LISTENERS})")
    names = first or [info.name for info in trace.listeners][:1]
    listeners = tuple(_listener_config(trace.listener(name)) for name in names) or (
        ListenerConfig(name="(no listener)", groups=(), open_at_start=False),
    )
    try:
        return Config(
            name=f"observed:{trace.scenario}",
            variant="6.x",
            nf_conntrack_max=limit,
            flows=max(1, min(MAX_FLOWS, len(flows))),
            slots=max(1, min(MAX_ALLOCATIONS, allocations)),
            listeners=listeners,
            nf_conntrack_events=1,
            ct_timeout=timeout,
            sysctl_writes=tuple(sorted(set(writes))),
            listener_churn=True,
            event_bits=("NEW", "STATUS", "PROTOINFO", "DESTROY"),
            netns_exit=any(isinstance(e, NetnsExitEvent) for e in trace.events),
        )
    except ValueError as exc:
        raise TooLarge(f"not expressible as a model config: {exc}") from None


class Naming:
    """How the observation's flows and listeners are named in the model, as the run goes.

    A flow gets the lowest model flow that no consistent state refers to (no conntrack, no
    queued message, no pending allocation), and keeps it while something does: a new
    conntrack of a flow whose earlier one is still referred to gets the same model flow (same
    tuple). Since no kernel step compares two flows other than for equality, renaming a flow
    that nothing refers to any more changes no run. A listener that opens takes the place of
    one that is closed in every consistent state and whose port id no conntrack remembers
    (a held conntrack re-sends excluding the port id it remembers); the config is then the
    same with the new listener's options and name at that place."""

    def __init__(self, trace: ObservedTrace) -> None:
        self.trace = trace
        self.flows: dict[int, int] = {}

    def flow(self, observed: int | None) -> int | None:
        """The model flow of an observed flow (None stays None: not the harness's tuple; a
        flow the model no longer names maps to -1, which nothing matches)."""
        if observed is None:
            return None
        return self.flows.get(observed, -1)

    def new_flow(self, config: Config, states: Iterable[State], observed: int) -> int | None:
        """The model flow for a new conntrack of `observed`; None when every model flow is in
        use."""
        used = set().union(*(_flows_in(state) for state in states))
        current = self.flows.get(observed)
        if current is not None and current in used:
            return current
        taken = {m for o, m in self.flows.items() if o != observed and m in used}
        free = [m for m in range(config.flows) if m not in used and m not in taken]
        if not free:
            return None
        self.flows = {o: m for o, m in self.flows.items() if m != free[0]}
        self.flows[observed] = free[0]
        return free[0]

    def open_listener(self, config: Config, states: Iterable[State], name: str) -> Config | None:
        """The config in which listener `name` can open; None if no place is free."""
        if name in (listener.name for listener in config.listeners):
            return config
        states = list(states)
        for i in range(len(config.listeners)):
            free = all(
                not state.kernel.sockets[i].open
                and all(ct is None or ct.pid != i + 1 for ct in state.kernel.cts)
                for state in states
            )
            if free:
                listeners = list(config.listeners)
                listeners[i] = _listener_config(self.trace.listener(name))
                return replace(config, listeners=tuple(listeners))
        return None


def _flows_in(state: State) -> set[int]:
    kernel = state.kernel
    used = {ct.flow for ct in kernel.cts if ct is not None}
    used.update(m.flow for sock in kernel.sockets for m in sock.queue if m.flow >= 0)
    if kernel.alloc_pending >= 0:
        used.add(kernel.alloc_pending)
    return used


def with_option(config: Config, event: ListenerOptionEvent) -> Config:
    """The config after a listener changed a socket option while open.

    The model reads a socket's options from the config at every step (netlink_broadcast_
    filtered() tests NETLINK_F_BROADCAST_SEND_ERROR and NETLINK_F_RECV_NO_ENOBUFS at each
    delivery, nfnetlink_has_listeners() the group bitmap at each event), and the state holds
    the socket's queue, congestion and error, which setsockopt() leaves alone; so from the
    option change on, the search goes on under the config with the new option, over the same
    states. Handled: NETLINK_BROADCAST_ERROR and NETLINK_NO_ENOBUFS set or cleared
    (`broadcast_error`, `no_enobufs`: "0" or "1"), and NETLINK_DROP_MEMBERSHIP of a group
    (`leave`) or NETLINK_ADD_MEMBERSHIP (`join`). Anything else raises ValueError."""
    try:
        i = config.listener_index(event.name)
    except KeyError:
        raise ValueError(f"option {event.option} of an unknown listener {event.name!r}") from None
    listener = config.listeners[i]
    if event.option == "broadcast_error" and event.value in ("0", "1"):
        listener = replace(listener, broadcast_error=event.value == "1")
    elif event.option == "no_enobufs" and event.value in ("0", "1"):
        listener = replace(listener, no_enobufs=event.value == "1")
    elif event.option == "leave":
        listener = replace(listener, groups=tuple(g for g in listener.groups if g != event.value))
    elif event.option == "join" and event.value in GROUPS:
        groups = set(listener.groups) | {event.value}
        listener = replace(listener, groups=tuple(g for g in GROUPS if g in groups))
    else:
        raise ValueError(
            f"socket option {event.option}={event.value} of {event.name} is not modelled"
        )
    listeners = (*config.listeners[:i], listener, *config.listeners[i + 1 :])
    return replace(config, listeners=listeners)


def _kind(bits: int) -> str:
    if bits & IPCT_DESTROY:
        return "destroy"
    return "new" if bits & IPCT_NEW else "update"


def _visible(config: Config, state: State, event: Event) -> Iterator[State]:
    """Every successor of `state` that performs the observed `event`."""
    if isinstance(event, FlowEvent | SendDropEvent):
        yield from _new_flow(config, state, event.flow, refused=isinstance(event, SendDropEvent))
    elif isinstance(event, FlushEvent):
        if not state.kernel.hash:
            yield state
        for order in itertools.permutations(state.kernel.hash):
            yield from _apply(
                config,
                state,
                Step(
                    "nf_conntrack_flush_report",
                    (("requester", "conntrack"), ("order", tuple(order))),
                ),
            )
    elif isinstance(event, DeleteEvent):
        yield from _apply(
            config,
            state,
            Step("ctnetlink_del_conntrack", (("flow", event.flow), ("requester", "conntrack"))),
        )
    elif isinstance(event, RecvEvent | RecvErrorEvent):
        yield from _recv(config, state, event)
    elif isinstance(event, NetnsExitEvent):
        order = tuple(sorted(state.kernel.hash))
        yield from _apply(config, state, Step("env_netns_exit", (("order", order),)))
    elif isinstance(event, CountEvent):
        if state.kernel.ct_count == event.value:
            yield state
    elif isinstance(event, ListenerOpenEvent | ListenerCloseEvent):
        action = (
            "env_listener_open" if isinstance(event, ListenerOpenEvent) else ("env_listener_close")
        )
        yield from _apply(config, state, Step(action, (("listener", event.name),)))
    elif isinstance(event, SysctlEvent):
        if event.name.endswith("nf_conntrack_events") and event.value.isdigit():
            value = int(event.value)
            if state.kernel.nf_conntrack_events == value:
                yield state
            yield from _apply(
                config,
                state,
                Step("env_sysctl_write", (("name", "nf_conntrack_events"), ("value", value))),
            )
        else:
            yield state
    else:
        yield state


def _apply(config: Config, state: State, step: Step) -> Iterator[State]:
    successor = apply(config, state, step)
    if successor is not None:
        yield successor


def _new_flow(config: Config, state: State, flow: int, refused: bool) -> Iterator[State]:
    arrivals = (
        Step("nf_conntrack_in", (("flow", flow), ("packet", "new"), ("slot", slot)))
        for slot in free_slots(state)
    )
    for allocated in (s for step in arrivals for s in _apply(config, state, step)):
        candidates = [allocated]
        if allocated.kernel.alloc_pending >= 0:
            victims = (-1, *allocated.kernel.hash)
            candidates = [
                s
                for v in victims
                for s in _apply(config, allocated, Step("early_drop", (("victim", v),)))
            ]
        for candidate in candidates:
            fresh = [
                slot
                for slot in candidate.kernel.unconfirmed
                if (ct := candidate.kernel.cts[slot]) is not None and ct.flow == flow
            ]
            if refused:
                if not fresh:
                    yield candidate
                continue
            for slot in fresh:
                yield from _apply(
                    config, candidate, Step("__nf_conntrack_confirm", (("slot", slot),))
                )


def _recv(config: Config, state: State, event: RecvEvent | RecvErrorEvent) -> Iterator[State]:
    try:
        i = config.listener_index(event.listener)
    except KeyError:
        return
    sock = state.kernel.sockets[i]
    if isinstance(event, RecvErrorEvent):
        if not sock.sk_err:
            return
    else:
        if sock.sk_err or not sock.queue:
            return
        head = sock.queue[0]
        if head.expect or _kind(head.bits) != event.msg:
            return
        if event.flow is not None and head.flow != event.flow:
            return
    yield from _apply(config, state, Step("env_recv", (("listener", event.listener),)))


def _closure(
    config: Config, states: Iterable[State], depth: int, traffic: bool = False
) -> set[State]:
    """Every state reachable by at most `depth` internal steps (with `traffic`, packets of
    existing conntracks too: TCP segments are not recorded one by one)."""
    names = (*INTERNAL, "nf_conntrack_in") if traffic else INTERNAL
    seen = set(states)
    frontier = list(seen)
    for _ in range(depth):
        nxt = []
        for state in frontier:
            for name in names:
                for step in _internal_steps(state, name):
                    successor = apply(config, state, step)
                    if successor is not None and successor not in seen:
                        seen.add(successor)
                        nxt.append(successor)
        if not nxt:
            break
        frontier = nxt
    return seen


def _internal_steps(state: State, name: str) -> Iterator[Step]:
    if name == "gc_worker":
        for slot in state.kernel.hash:
            yield Step(name, (("slot", slot),))
    elif name == "nf_conntrack_in":
        for slot in state.kernel.hash:
            ct = state.kernel.cts[slot]
            assert ct is not None
            for packet in ("assure", "protoinfo"):
                yield Step(name, (("flow", ct.flow), ("packet", packet), ("slot", -1)))
    else:
        yield Step(name)


def validate(trace: ObservedTrace, depth: int = 8) -> Validation:
    """Search for a 6.x model execution that explains the observation."""
    config = model_config(trace)
    naming = Naming(trace)
    events = [e for e in trace.events if e.kind not in IGNORED]
    connections = {e.flow for e in events if isinstance(e, FlowEvent) and e.proto == "tcp"}
    if len(connections) > MAX_TCP:
        raise TooLarge(
            f"{len(connections)} TCP connections (at most {MAX_TCP}: their segments are not "
            "recorded one by one, so each is a hidden step of the search)"
        )
    traffic = bool(connections)
    if (alive := _created_without_deletion(events)) > MAX_FLOWS:
        raise TooLarge(
            f"{alive} flows created with no deletion or flush in between (at most {MAX_FLOWS} "
            "in use at once)"
        )
    states = _closure(config, [initial_state(config, KERNEL)], depth, traffic)
    peak = len(states)
    for index, event in enumerate(events):
        if isinstance(event, ListenerOptionEvent):
            try:
                config = with_option(config, event)
            except ValueError as exc:
                return Validation(
                    trace.scenario, index, len(events), None, peak, f"event {index}: {exc}"
                )
            states = _closure(config, states, depth, traffic)
            peak = max(peak, len(states))
            continue
        observed = event
        if isinstance(event, FlowEvent | SendDropEvent):
            flow = naming.new_flow(config, states, event.flow)
            if flow is None:
                return _beyond(trace, index, events, peak, f"more than {config.flows} flows")
            event = replace(event, flow=flow)
        elif isinstance(event, RecvEvent):
            event = replace(event, flow=naming.flow(event.flow))
        elif isinstance(event, DeleteEvent):
            event = replace(event, flow=naming.flows.get(event.flow, -1))
        elif isinstance(event, ListenerOpenEvent):
            opened = naming.open_listener(config, states, event.name)
            if opened is None:
                return _beyond(
                    trace, index, events, peak, f"more than {len(config.listeners)} listeners"
                )
            config = opened
        successors = {s for state in states for s in _visible(config, state, event)}
        if (
            not successors
            and isinstance(event, FlowEvent | SendDropEvent)
            and all(not free_slots(state) for state in states)
        ):
            return _beyond(trace, index, events, peak, f"more than {config.slots} conntracks")
        if not successors:
            return Validation(
                trace.scenario,
                index,
                len(events),
                f"event {index} at t={event.t:.3f}s ({_describe(observed)}): no model "
                f"execution of the {len(states)} consistent states explains it",
                peak,
            )
        states = _closure(config, successors, depth, traffic)
        peak = max(peak, len(states))
    return Validation(trace.scenario, len(events), len(events), None, peak)


def _created_without_deletion(events: list[Event]) -> int:
    """The most flows created one after another with no deletion or flush in between: they
    are all in use at once unless some expired meanwhile, so a run with more than the model's
    flows is refused before the search rather than found out after a long one."""
    most = alive = 0
    for event in events:
        if isinstance(event, FlowEvent):
            alive += 1
            most = max(most, alive)
        elif isinstance(event, FlushEvent):
            alive = 0
        elif isinstance(event, DeleteEvent):
            alive = max(0, alive - 1)
    return most


def _beyond(
    trace: ObservedTrace, index: int, events: list[Event], peak: int, what: str
) -> Validation:
    """The run needs more at once than a config can have: not modelled from here on."""
    return Validation(
        trace.scenario,
        index,
        len(events),
        None,
        peak,
        f"event {index} ({events[index].kind}): {what} in use at once (the bound of a "
        "model config)",
    )


def _describe(event: Event) -> str:
    if isinstance(event, RecvEvent):
        return f"{event.listener} read {event.msg} of flow {event.flow}"
    if isinstance(event, RecvErrorEvent):
        return f"{event.listener} read error {event.errno}"
    if isinstance(event, CountEvent):
        return f"count {event.value}"
    if isinstance(event, FlowEvent | SendDropEvent | DeleteEvent):
        return f"{event.kind} of flow {event.flow}"
    return event.kind
