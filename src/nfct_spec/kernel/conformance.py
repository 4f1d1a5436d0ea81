"""Trace validation: is an observed live-kernel trace a behaviour of the `6.x` model?

The observation fixes the order of everything userspace did or saw: flows created, packets
refused, flushes and deletes, sysctl writes, listeners opened and closed, socket options
changed, each message read and each error returned by a read, and samples of
`nf_conntrack_count`. The validator searches for a model execution that performs these visible
steps in the same order, with internal kernel steps in between (the ecache worker, the gc
worker, ticks of time: as many as the elapsed time allows). It keeps the set of model states
consistent with the prefix seen so far (each in a canonical form) and reports the first
observation that no state can explain.

Mapping: each listener of the trace is a listener of the model, with a queue of as many
messages as the accept rule of Linux 6.18 takes (`capacity`); a flow event is
`nf_conntrack_in(new)` (plus `early_drop` when the table is full) and the confirm; a message
read must have the same type (new, update, destroy) and flow. The config is the run's own
(`Config.observed`): its flows keep their recorded numbers and it has a memory slot per
allocation, so a run of hundreds of conntracks is searched as it is. What keeps that search
small: conntracks that nothing tells apart yet are not told apart by the search either (a
flush gives their flows placeholders, bound as the listeners read them:
`nfct_spec.kernel.lazyflows`), memory slots are interchangeable, and time is read off the
timestamps: a tick is 10 ms, at most as many pass as the elapsed time allows (`horizon`), and a
conntrack's timer is frozen until the gap in which it can have expired (`expiry_of`,
`Search.expire`). A socket option changed mid-run changes the config from then on
(`with_option`), so does a write of the table limit (`with_limit`). Timing bounds the hidden
steps; the order of the observations is what is compared. Refused before the search
(`TooLarge`): more than `MAX_TCP` TCP connections (their segments are hidden steps), more than
`MAX_LISTENERS` listeners open at once; reported as not modelled where the search finds it out:
a flush of more than `MAX_ORDERS` orders of conntracks the model tells apart, more than
`MAX_HIDDEN` consistent states between two observations.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace

from nfct_spec.kernel.lazyflows import (
    MAX_ORDERS,
    Candidate,
    Placeholders,
    anonymise,
    anonymous_slots,
    bind,
    canonical,
    flush_orders,
    freeze_timers,
    hidden_in_hash,
    interchangeable,
)
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
from nfct_spec.models.config import OBSERVED_LIMITS, Config, ListenerConfig
from nfct_spec.models.observers import KERNEL
from nfct_spec.models.registry import Step, apply, free_slots
from nfct_spec.models.state import State, evolve, initial_state

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
    ("tcp-events", (("conns", 2),)),
)
"""Runs of other parameters that `nfct-spec kernel check` validates besides each scenario's
default run: the options the defaults leave out, and a TCP run small enough to validate."""

MAX_LISTENERS = 4
MAX_TCP = 2
"""TCP connections a run may have: their segments are hidden steps (packets of existing
conntracks); one connection is explained in 0.1 s, two in about a second, the default eight of
`tcp-events` exceed `MAX_HIDDEN` states at its 62nd observation."""
TRUESIZE = 1280
"""The bytes a conntrack event message charges to the receive buffer (skb truesize; a UDP
DESTROY of Linux 6.18 on x86-64)."""
TICK = 0.01
"""Seconds per model tick in a recorded run's config: ECACHE_RETRY_JIFFIES, the 6.x worker's
retry delay (10 ms); its first delay (HZ) and the UDP timeout are counted in these."""
ECACHE_RETRY_SECONDS = 0.01
SLACK = 2
"""Ticks allowed beyond the elapsed time: the phase of the first tick, and a delayed work that
fires up to a jiffy early (delays are whole jiffies)."""
EXPIRY_SLACK = 0.02
TCP_TIMEOUT_MIN = 10.0
"""`nf_conntrack_tcp_timeout_close`, the shortest TCP timeout of Linux 6.18, in seconds."""
UDP_TIMEOUT_DEFAULT = 30
"""`nf_conntrack_udp_timeout` of Linux 6.18 in seconds (a UDP flow with no reply)."""
FREE_STEPS = ("ecache_work", "gc_worker")
"""The internal steps that take no time; `env_tick` is the one that does (`TICK_STEP`)."""
TICK_STEP = Step("env_tick")
MAX_HIDDEN = 50_000
"""The most consistent model states kept between two observations."""
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


def _allocations(trace: ObservedTrace) -> int:
    return sum(isinstance(e, FlowEvent | SendDropEvent) for e in trace.events)


def _flow_names(trace: ObservedTrace) -> int:
    """One more than the largest flow number the recording names."""
    numbers = [
        e.flow
        for e in trace.events
        if isinstance(e, FlowEvent | SendDropEvent | DeleteEvent | RecvEvent) and e.flow is not None
    ]
    return max(numbers, default=0) + 1


def ticks(seconds: float) -> int:
    """A delay of the kernel in model ticks (at least one)."""
    return max(1, round(seconds / TICK))


def horizon(seconds: float) -> int:
    """The most ticks that can have passed `seconds` into the run."""
    return int(seconds / TICK) + SLACK


def udp_timeout(trace: ObservedTrace) -> int:
    """The UDP timeout of the run in seconds: the last value the recording writes, else the
    default of Linux 6.18 for a flow with no reply (`nf_conntrack_udp_timeout`)."""
    seconds = UDP_TIMEOUT_DEFAULT
    for e in trace.events:
        if isinstance(e, SysctlEvent) and e.name.endswith("udp_timeout") and e.value.isdigit():
            seconds = int(e.value)
    return seconds


def expiry_of(trace: ObservedTrace, event: FlowEvent) -> float:
    """The earliest time a flow's new conntrack can expire: its creation plus the UDP timeout,
    less `EXPIRY_SLACK` (the harness sees the flow after the confirm that started the
    timeout). A UDP flow of a scenario sends one packet, so its creation is its last packet.
    A TCP connection's timeouts are 10 s or more in every state; a run shorter than that
    sees none expire, and a longer one is not modelled."""
    if event.proto == "udp":
        return event.t + udp_timeout(trace) - EXPIRY_SLACK
    times = [e.t for e in trace.events]
    if max(times) - min(times) >= TCP_TIMEOUT_MIN:
        raise TooLarge(
            f"a TCP connection in a run of {TCP_TIMEOUT_MIN:.0f} s or more (when its timeout "
            "ends depends on its TCP state, which the recording does not show)"
        )
    return math.inf


def model_config(trace: ObservedTrace) -> Config:
    """The 6.x config that an observation is validated against (`Config.observed`).

    Flows keep their numbers from the recording; there is one memory slot per allocation of
    the run, so a run never lacks one (the canonical form keeps the free ones from mattering);
    the table limit starts unlimited (the kernel's default is far above any scenario) and
    follows the recording's writes of `nf_conntrack_max` (`with_limit`). Listeners get model
    names as they open, at most `MAX_LISTENERS` at once (`Naming`)."""
    allocations = _allocations(trace)
    if allocations > OBSERVED_LIMITS["slots"]:
        raise TooLarge(f"{allocations} conntracks allocated (at most {OBSERVED_LIMITS['slots']})")
    writes = [
        ("nf_conntrack_events", int(e.value))
        for e in trace.events
        if isinstance(e, SysctlEvent)
        and e.name.endswith("nf_conntrack_events")
        and e.value.isdigit()
    ]
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
            nf_conntrack_max=0,
            flows=_flow_names(trace),
            slots=max(1, allocations),
            listeners=listeners,
            nf_conntrack_events=1,
            ct_timeout=ticks(udp_timeout(trace)),
            worker_first_delay=ticks(1.0),
            worker_retry_delay=ticks(ECACHE_RETRY_SECONDS),
            sysctl_writes=tuple(sorted(set(writes))),
            listener_churn=True,
            event_bits=("NEW", "STATUS", "PROTOINFO", "DESTROY"),
            netns_exit=any(isinstance(e, NetnsExitEvent) for e in trace.events),
            observed=True,
        )
    except ValueError as exc:
        raise TooLarge(f"not expressible as a model config: {exc}") from None


def with_limit(config: Config, event: SysctlEvent) -> Config:
    """The config after a write of `nf_conntrack_max`: the model reads the limit at each
    allocation (nf_conntrack_alloc() compares the count with it; a lower limit evicts
    nothing), so the search goes on under the new limit over the same states."""
    if not event.value.isdigit() or int(event.value) > OBSERVED_LIMITS["nf_conntrack_max"]:
        raise ValueError(f"nf_conntrack_max {event.value} is not modelled")
    return replace(config, nf_conntrack_max=int(event.value))


class Naming:
    """How the observation's listeners are named in the model, as the run goes.

    A listener that opens takes the place of one that is closed in every consistent state and
    whose port id no conntrack remembers (a held conntrack re-sends excluding the port id it
    remembers); the config is then the same with the new listener's options and name at that
    place. (Flows keep their recorded numbers: see `nfct_spec.kernel.lazyflows` for how
    conntracks that nothing tells apart are kept from multiplying the states.)"""

    def __init__(self, trace: ObservedTrace) -> None:
        self.trace = trace

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


class Search:
    """The validator's search: the config (which changes with the run's option and limit
    writes), the placeholders (`nfct_spec.kernel.lazyflows`), when each conntrack can expire
    and what each listener still reads."""

    def __init__(self, config: Config, hidden: int, traffic: bool) -> None:
        self.config = config
        self.marks = Placeholders(config)
        self.hidden = hidden
        self.traffic = traffic
        self.expires: dict[int, float] = {}
        """Per flow, the earliest time its current conntrack can expire (`expiry_of`)."""
        self.ahead: dict[str, tuple[tuple[str, int | None], ...]] = {}
        """Per listener, the reads the recording still has for it before it next closes."""

    def canonical(self, candidate: Candidate) -> Candidate:
        """The representative of a candidate (timers frozen: expiry is `expire`'s)."""
        return canonical(self.config, candidate, self.marks)

    def _tick(
        self,
        candidate: Candidate,
        successor: Candidate,
        used: int,
        reach: Callable[[Candidate, int, bool], None],
    ) -> None:
        """A tick's successor of a canonical candidate: with the timers frozen, a tick that
        changed only the worker's countdown leaves the candidate canonical (no order of the
        canonical form reads the countdown), so the full canonical form is skipped."""
        state = successor[0]
        worker = state.kernel.worker
        kernel = candidate[0].kernel
        if evolve(kernel, worker=worker) == freeze_timers(self.config, state.kernel):
            reach(
                (evolve(candidate[0], kernel=evolve(kernel, worker=worker)), successor[1]),
                used,
                True,
            )
        else:
            reach(successor, used, False)

    def readable(self, candidate: Candidate) -> bool:
        """Whether every listener's queue agrees with the reads the recording still has for it
        (`ahead`): a queue is read from its head, in order, until the socket closes, so its
        first messages must be those reads, of the same type and flow (a placeholder's flow
        one its pool stands for). Messages beyond the last read may stay unread. A candidate
        that fails this explains nothing that follows; dropping it at once keeps hidden steps
        that queue messages (redeliveries, TCP segments) from multiplying the states."""
        state, pools = candidate
        for i, sock in enumerate(state.kernel.sockets):
            if not sock.queue:
                continue
            reads = self.ahead.get(self.config.listeners[i].name, ())
            for message, (msg, flow) in zip(sock.queue, reads, strict=False):
                if message.expect or _kind(message.bits) != msg:
                    return False
                if flow is None or message.flow == flow:
                    continue
                pool = self.marks.pool_of(message.flow)
                if pool < 0 or flow not in pools[pool]:
                    return False
        return True

    def expire(self, candidate: Candidate, until: float) -> Candidate:
        """Every hashed conntrack that can have expired by `until` (the time of the next
        observation) is expired now: its timeout runs out at the start of the gap. The 6.x
        gc reaps an expired conntrack at any later time, so an expiry taken early loses no
        execution; only a lookup of its tuple would tell (and a lookup of a tuple that an
        expired conntrack with a placeholder may have is not modelled)."""
        state, pools = candidate
        kernel = state.kernel
        due = [
            slot
            for slot in kernel.hash
            if (ct := kernel.cts[slot]) is not None
            and ct.timer > 0
            and self.expires.get(ct.flow, math.inf) <= until
        ]
        if not due:
            return candidate
        cts = list(kernel.cts)
        for slot in due:
            ct = cts[slot]
            assert ct is not None
            cts[slot] = evolve(ct, timer=0)
        return evolve(state, kernel=evolve(kernel, cts=tuple(cts))), pools

    def apply(self, candidate: Candidate, step: Step) -> Iterator[Candidate]:
        """The candidate after `step`, if the step is enabled."""
        successor = apply(self.config, candidate[0], step)
        if successor is not None:
            yield successor, candidate[1]

    def visible(self, candidate: Candidate, event: Event) -> Iterator[Candidate]:
        """Every successor of a candidate that performs the observed `event`."""
        state = candidate[0]
        if isinstance(event, FlowEvent | SendDropEvent | DeleteEvent) and hidden_in_hash(
            candidate, event.flow, self.marks
        ):
            raise Unsupported(
                f"a lookup of flow {event.flow}, which an expired conntrack still hashed may "
                "have (its flow is a placeholder: the validator does not bind it at a lookup)"
            )
        if isinstance(event, FlowEvent | SendDropEvent):
            yield from self._new_flow(candidate, event.flow, isinstance(event, SendDropEvent))
        elif isinstance(event, FlushEvent):
            yield from self._flush(candidate)
        elif isinstance(event, DeleteEvent):
            step = Step(
                "ctnetlink_del_conntrack", (("flow", event.flow), ("requester", "conntrack"))
            )
            yield from self.apply(candidate, step)
        elif isinstance(event, RecvEvent | RecvErrorEvent):
            yield from self._recv(candidate, event)
        elif isinstance(event, NetnsExitEvent):
            order = tuple(sorted(state.kernel.hash))
            yield from self.apply(candidate, Step("env_netns_exit", (("order", order),)))
        elif isinstance(event, CountEvent):
            if state.kernel.ct_count == event.value:
                yield candidate
        elif isinstance(event, ListenerOpenEvent | ListenerCloseEvent):
            opens = isinstance(event, ListenerOpenEvent)
            action = "env_listener_open" if opens else "env_listener_close"
            yield from self.apply(candidate, Step(action, (("listener", event.name),)))
        elif isinstance(event, SysctlEvent):
            if event.name.endswith("nf_conntrack_events") and event.value.isdigit():
                value = int(event.value)
                if state.kernel.nf_conntrack_events == value:
                    yield candidate
                write = Step(
                    "env_sysctl_write", (("name", "nf_conntrack_events"), ("value", value))
                )
                yield from self.apply(candidate, write)
            else:
                yield candidate
        else:
            yield candidate

    def _flush(self, candidate: Candidate) -> Iterator[Candidate]:
        """`conntrack -F`: one order per arrangement of the told-apart conntracks; the
        anonymous ones get the placeholders of a new pool (`nfct_spec.kernel.lazyflows`)."""
        state, pools = candidate
        pool = len(pools)
        if not state.kernel.hash:
            yield state, (*pools, frozenset())
            return
        anonymous = anonymous_slots(state, self.marks)
        count, orders = flush_orders(state, anonymous, self.marks)
        if not orders:
            raise Unsupported(
                f"a flush of {len(state.kernel.hash)} conntracks that the model tells apart "
                f"({count} orders; at most {MAX_ORDERS} are tried)"
            )
        cts = state.kernel.cts
        flows = [ct.flow for slot in anonymous if (ct := cts[slot]) is not None]
        for order in orders:
            step = Step("nf_conntrack_flush_report", (("requester", "conntrack"), ("order", order)))
            for after, _ in self.apply(candidate, step):
                yield anonymise(after, flows, pool, self.marks), (*pools, frozenset(flows))

    def _new_flow(self, candidate: Candidate, flow: int, refused: bool) -> Iterator[Candidate]:
        state = candidate[0]
        arrivals = (
            Step("nf_conntrack_in", (("flow", flow), ("packet", "new"), ("slot", slot)))
            for slot in free_slots(state)
        )
        for allocated in (c for step in arrivals for c in self.apply(candidate, step)):
            candidates = [allocated]
            if allocated[0].kernel.alloc_pending >= 0:
                victims = (-1, *allocated[0].kernel.hash)
                candidates = [
                    c
                    for v in victims
                    for c in self.apply(allocated, Step("early_drop", (("victim", v),)))
                ]
            for current in candidates:
                kernel = current[0].kernel
                fresh = [
                    slot
                    for slot in kernel.unconfirmed
                    if (ct := kernel.cts[slot]) is not None and ct.flow == flow
                ]
                if refused:
                    if not fresh:
                        yield current
                    continue
                for slot in fresh:
                    yield from self.apply(
                        current, Step("__nf_conntrack_confirm", (("slot", slot),))
                    )

    def _recv(self, candidate: Candidate, event: RecvEvent | RecvErrorEvent) -> Iterator[Candidate]:
        try:
            i = self.config.listener_index(event.listener)
        except KeyError:
            return
        sock = candidate[0].kernel.sockets[i]
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
                if self.marks.pool_of(head.flow) < 0:
                    return
                bound = bind(candidate, head.flow, event.flow, self.marks)
                if bound is None:
                    return
                candidate = bound
        yield from self.apply(candidate, Step("env_recv", (("listener", event.listener),)))

    def closure(
        self, candidates: Mapping[Candidate, int], until: int, expiry: float
    ) -> dict[Candidate, int]:
        """Every candidate reachable by internal steps, each in canonical form with the fewest
        ticks (since the run started) that reach it: no more than `until`, the most that can
        have passed by the next observation (`horizon`). The worker and the gc take no time
        (with `traffic`, packets of existing conntracks neither: TCP segments are not recorded
        one by one); a tick counts. Fewer ticks used can only leave more executions open (the
        bound is an upper one), so a candidate is kept once, with its fewest. The closure is
        complete within the bound, so that no execution is missed however many hidden steps it
        takes between two observations (hundreds of redeliveries, say); more than `hidden`
        states raise Unsupported rather than run on."""
        names = ("ecache_work", "gc_worker", "nf_conntrack_in") if self.traffic else FREE_STEPS
        best: dict[Candidate, int] = {}
        buckets: dict[int, list[Candidate]] = {}

        def reach(candidate: Candidate, used: int, canonical: bool = False) -> None:
            if not canonical:
                candidate = self.canonical(candidate)
            if not self.readable(candidate):
                return
            if best.get(candidate, used + 1) > used:
                best[candidate] = used
                buckets.setdefault(used, []).append(candidate)

        for candidate, used in candidates.items():
            reach(self.expire(candidate, expiry), min(used, until))
        while buckets:
            level = min(buckets)
            queue = buckets[level]
            while queue:
                candidate = queue.pop()
                if best[candidate] < level:
                    continue
                for name in names:
                    for step in _internal_steps(candidate[0], name, self.marks):
                        for successor in self.apply(candidate, step):
                            reach(successor, level)
                if level < until:
                    for successor in self.apply(candidate, TICK_STEP):
                        self._tick(candidate, successor, level + 1, reach)
                if len(best) > self.hidden:
                    raise Unsupported(
                        f"more than {self.hidden:,} model states reachable by hidden steps "
                        "between two observations"
                    )
            del buckets[level]
        return best


class Unsupported(Exception):
    """Something of the run that the validator does not model (the message says what)."""


def _internal_steps(state: State, name: str, marks: Placeholders) -> Iterator[Step]:
    """The steps of an internal action; the gc reaps only expired conntracks, and one of each
    class of interchangeable ones (the same pool of placeholders and the same contents)."""
    if name == "gc_worker":
        classes: set[object] = set()
        for slot in state.kernel.hash:
            ct = state.kernel.cts[slot]
            assert ct is not None
            if ct.timer != 0:
                continue
            pool = marks.pool_of(ct.flow)
            key = (pool, interchangeable(ct)) if pool >= 0 else slot
            if key not in classes:
                classes.add(key)
                yield Step(name, (("slot", slot),))
    elif name == "nf_conntrack_in":
        for slot in state.kernel.hash:
            ct = state.kernel.cts[slot]
            assert ct is not None
            for packet in ("assure", "protoinfo"):
                yield Step(name, (("flow", ct.flow), ("packet", packet), ("slot", -1)))
    else:
        yield Step(name)


def validate(trace: ObservedTrace, hidden: int = MAX_HIDDEN) -> Validation:
    """Search for a 6.x model execution that explains the observation (with at most `hidden`
    consistent states between two observations)."""
    config = model_config(trace)
    naming = Naming(trace)
    events = [e for e in trace.events if e.kind not in IGNORED]
    connections = {e.flow for e in events if isinstance(e, FlowEvent) and e.proto == "tcp"}
    if len(connections) > MAX_TCP:
        raise TooLarge(
            f"{len(connections)} TCP connections (at most {MAX_TCP}: their segments are not "
            "recorded one by one, so each is a hidden step of the search)"
        )
    search = Search(config, hidden, traffic=bool(connections))
    times = [e.t for e in events] or [0.0]
    search.ahead = reads_ahead(events, 0)
    try:
        initial: dict[Candidate, int] = {(initial_state(config, KERNEL), ()): 0}
        candidates = search.closure(initial, horizon(times[0]), times[0])
    except Unsupported as exc:
        return Validation(trace.scenario, 0, len(events), None, 0, f"event 0: {exc}")
    peak = len(candidates)
    for index, event in enumerate(events):
        search.ahead = reads_ahead(events, index + 1)
        following = times[min(index + 1, len(times) - 1)]
        until = horizon(following)
        if isinstance(event, FlowEvent):
            search.expires[event.flow] = expiry_of(trace, event)
        try:
            if isinstance(event, ListenerOptionEvent | SysctlEvent) and _changes_config(event):
                if isinstance(event, ListenerOptionEvent):
                    search.config = with_option(search.config, event)
                else:
                    search.config = with_limit(search.config, event)
                candidates = search.closure(candidates, until, following)
                peak = max(peak, len(candidates))
                continue
            if isinstance(event, ListenerOpenEvent):
                states = [c[0] for c in candidates]
                opened = naming.open_listener(search.config, states, event.name)
                if opened is None:
                    what = f"more than {len(search.config.listeners)} listeners"
                    return _beyond(trace, index, events, peak, what)
                search.config = opened
            successors: dict[Candidate, int] = {}
            for candidate, used in candidates.items():
                for successor in search.visible(candidate, event):
                    successors[successor] = min(used, successors.get(successor, used))
            if not successors:
                return Validation(
                    trace.scenario,
                    index,
                    len(events),
                    f"event {index} at t={event.t:.3f}s ({_describe(event)}): no model "
                    f"execution of the {len(candidates)} consistent states explains it; "
                    f"{_candidates(search, candidates)}",
                    peak,
                )
            candidates = search.closure(successors, until, following)
        except (ValueError, Unsupported) as exc:
            return Validation(
                trace.scenario, index, len(events), None, peak, f"event {index}: {exc}"
            )
        peak = max(peak, len(candidates))
    return Validation(trace.scenario, len(events), len(events), None, peak)


def reads_ahead(events: list[Event], start: int) -> dict[str, tuple[tuple[str, int | None], ...]]:
    """Per listener, the (type, flow) of each message it reads from event `start` on, up to
    its next close (which empties its queue)."""
    reads: dict[str, list[tuple[str, int | None]]] = {}
    closed: set[str] = set()
    for event in events[start:]:
        if isinstance(event, ListenerCloseEvent):
            closed.add(event.name)
        elif isinstance(event, RecvEvent) and event.listener not in closed:
            reads.setdefault(event.listener, []).append((event.msg, event.flow))
    return {name: tuple(r) for name, r in reads.items()}


def _changes_config(event: ListenerOptionEvent | SysctlEvent) -> bool:
    """A socket option change, or a write of the table limit: the config changes from here."""
    return isinstance(event, ListenerOptionEvent) or event.name.endswith("nf_conntrack_max")


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


SHOWN_CANDIDATES = 3
"""Consistent states described when an observation is not explained."""


def _candidates(search: Search, candidates: Mapping[Candidate, int]) -> str:
    """The consistent states, as much of each as an observation can contradict (the count,
    the conntracks waiting on the redelivery list, and per listener whether it is open, its
    pending error and its queue: type and flow of each message, a placeholder flow as `?`),
    the first `SHOWN_CANDIDATES` distinct descriptions."""
    seen: dict[str, None] = {}
    for state, _ in sorted(candidates, key=repr):
        kernel = state.kernel
        socks = []
        for i, sock in enumerate(kernel.sockets):
            name = search.config.listeners[i].name
            if not sock.open:
                socks.append(f"{name} closed")
                continue
            queue = " ".join(
                f"{_kind(m.bits)}:{'?' if search.marks.pool_of(m.flow) >= 0 else m.flow}"
                for m in sock.queue[:4]
            )
            more = f" +{len(sock.queue) - 4}" if len(sock.queue) > 4 else ""
            error = " ENOBUFS pending" if sock.sk_err else ""
            socks.append(f"{name} [{queue}{more}]{error}")
        waiting = f", {len(kernel.dying)} waiting" if kernel.dying else ""
        seen.setdefault(f"count {kernel.ct_count}{waiting}, " + ", ".join(socks), None)
    shown = list(seen)[:SHOWN_CANDIDATES]
    rest = len(seen) - len(shown)
    tail = f" (and {rest} more)" if rest > 0 else ""
    return "candidates: " + "; ".join(shown) + tail


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
