"""Trace validation: is an observed live-kernel trace a behaviour of the `6.x` model?

The observation fixes the order of everything userspace did or saw: flows created, packets
refused, flushes and deletes, sysctl writes, listeners opened and closed, each message read and
each error returned by a read, and samples of `nf_conntrack_count`. The validator searches for
a model execution that performs these visible steps in the same order, with any number (up to a
bound) of internal kernel steps in between: the ecache worker, ticks of time, the gc worker. It
keeps the set of model states consistent with the prefix seen so far and reports the first
observation that no state can explain.

Mapping: listener i of the trace is listener i of the model, with a queue of as many messages
as the accept rule of Linux 6.18 takes (`capacity`); flows are the trace's flow indices; a flow
event is `nf_conntrack_in(new)` (plus `early_drop` when the table is full) and the confirm; a
message read must have the same type (new, update, destroy) and flow. Timing is not compared,
only order. Scenarios with more than `MAX_FLOWS` flows are too large and are not validated.
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
)
"""Scenario runs small enough to validate (TCP runs are too: about 90 s for one connection,
because every segment is a hidden step)."""

MAX_FLOWS = 6
MAX_ALLOCATIONS = 12
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


def model_config(trace: ObservedTrace) -> Config:
    """The 6.x config that an observation is validated against."""
    flows = {e.flow for e in trace.events if isinstance(e, FlowEvent | SendDropEvent)}
    allocations = sum(isinstance(e, FlowEvent | SendDropEvent) for e in trace.events)
    if len(flows) > MAX_FLOWS or allocations > MAX_ALLOCATIONS:
        raise TooLarge(
            f"{len(flows)} flows, {allocations} allocations (at most {MAX_FLOWS} "
            f"and {MAX_ALLOCATIONS})"
        )
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
    listeners = tuple(
        ListenerConfig(
            name=info.name,
            groups=tuple(info.groups),
            broadcast_error=info.broadcast_error,
            no_enobufs=info.no_enobufs,
            capacity=capacity(info.rcvbuf_effective or 2 * info.rcvbuf),
            open_at_start=False,
        )
        for info in trace.listeners
    )
    return Config(
        name=f"observed:{trace.scenario}",
        variant="6.x",
        nf_conntrack_max=limit,
        flows=max(flows, default=0) + 1,
        slots=max(1, allocations),
        listeners=listeners,
        nf_conntrack_events=1,
        ct_timeout=timeout,
        sysctl_writes=tuple(sorted(set(writes))),
        listener_churn=True,
        event_bits=("NEW", "STATUS", "PROTOINFO", "DESTROY"),
    )


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
    events = [e for e in trace.events if e.kind not in IGNORED]
    traffic = any(isinstance(e, FlowEvent) and e.proto == "tcp" for e in events)
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
        if isinstance(event, NetnsExitEvent):
            return Validation(
                trace.scenario,
                index,
                len(events),
                None,
                peak,
                f"event {index} (netns_exit): namespace exit is not modelled",
            )
        successors = {s for state in states for s in _visible(config, state, event)}
        if not successors:
            return Validation(
                trace.scenario,
                index,
                len(events),
                f"event {index} at t={event.t:.3f}s ({_describe(event)}): no model "
                f"execution of the {len(states)} consistent states explains it",
                peak,
            )
        states = _closure(config, successors, depth, traffic)
        peak = max(peak, len(states))
    return Validation(trace.scenario, len(events), len(events), None, peak)


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
