"""Scenarios run against the live kernel, each recorded as an observed trace.

Every scenario runs in a fresh network namespace (see :mod:`nfct_spec.kernel.netns`) where an
nftables output-hook rule makes conntrack track loopback traffic.  Flow ``i`` is one UDP
conntrack ``127.0.0.1:(20000+i) -> 127.0.0.1:9`` (or TCP ``30000+i -> 8080``), so a message's
original tuple tells which flow it is about.  Every wait is bounded by a parameter with a small
upper limit; a bound that is hit is recorded as a note, never hidden.

Usage: ``run_scenario("reliable-flush", flows=100)``, or ``python -m
nfct_spec.kernel.scenarios reliable-flush --param flows=100 --out trace.json``.
"""

from __future__ import annotations

import argparse
import errno
import functools
import inspect
import platform
import select
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from nfct_spec.files import InputError, check_output
from nfct_spec.kernel.failures import LIVE_ERRORS, failure
from nfct_spec.kernel.monitors import format_verdicts, verdicts
from nfct_spec.kernel.netlink import CountReader, CtnlClient, Listener, ListenerOptions, Tuple
from nfct_spec.kernel.netns import (
    Interrupted,
    Sandbox,
    exit_for,
    sandbox,
)
from nfct_spec.kernel.observe import (
    SIGNATURE,
    WHAT,
    CountEvent,
    DeleteEvent,
    DumpEvent,
    Event,
    FlowEvent,
    FlushEvent,
    ListenerCloseEvent,
    ListenerInfo,
    ListenerOpenEvent,
    ListenerOptionEvent,
    NetnsExitEvent,
    NoteEvent,
    ObservedTrace,
    ParamValue,
    RecvErrorEvent,
    RecvEvent,
    SendDropEvent,
    SysctlEvent,
    format_summary,
    save,
)

__all__ = [
    "SCENARIOS",
    "Harness",
    "Scenario",
    "ScenarioError",
    "format_summary",
    "main",
    "run_scenario",
    "run_scenario_with",
]

LOOPBACK = "127.0.0.1"
UDP_SPORT_BASE = 20000
UDP_SINK_PORT = 9
TCP_SPORT_BASE = 30000
TCP_SERVER_PORT = 8080
BIG_RCVBUF = 1 << 20
NFT_RULESET = """
table inet nfctspec {
  chain out {
    type filter hook output priority 0; policy accept;
    ct state new counter
  }
}
"""
CONNTRACK_MAX = "net.netfilter.nf_conntrack_max"
CONNTRACK_EVENTS = "net.netfilter.nf_conntrack_events"
UDP_TIMEOUT = "net.netfilter.nf_conntrack_udp_timeout"


class ScenarioError(ValueError):
    """An unknown scenario, or a parameter it does not have or outside its limits."""


@dataclass(frozen=True, slots=True)
class Flow:
    index: int
    proto: str
    sport: int
    dport: int

    @property
    def tuple(self) -> Tuple:
        return Tuple(self.proto, LOOPBACK, LOOPBACK, self.sport, self.dport)


def _errno_name(exc: OSError) -> str:
    return errno.errorcode.get(exc.errno or 0, str(exc.errno))


@dataclass
class _ListenerState:
    listener: Listener
    destroyed: Counter[int] = field(default_factory=Counter)
    last_activity: float = 0.0


class Harness:
    """The scenario toolbox: flows, listeners, ctnetlink requests, and the event recorder.

    All methods run with the calling thread inside the sandbox namespace, except global sysctl
    writes, which :class:`~nfct_spec.kernel.netns.SysctlGuard` performs from the initial one.
    """

    def __init__(self, box: Sandbox, verbose: bool = False) -> None:
        self.box = box
        self.verbose = verbose
        self.t0 = time.monotonic()
        self.events: list[Event] = []
        self.infos: list[ListenerInfo] = []
        self.flows: list[Flow] = []
        self._by_key: dict[tuple[str, int, int], int] = {}
        self._listeners: dict[str, _ListenerState] = {}
        self._last_count: int | None = None
        self._elsewhere: set[str] = set()
        self.exited = False
        """The sandbox namespace was deleted (`exit_namespace`): nothing in it can be used."""

    def setup(self) -> None:
        """Bring up ``lo``, load the conntrack rule, open the control and sink sockets."""
        self.box.netns.run(["ip", "link", "set", "lo", "up"])
        self.box.netns.run(["nft", "-f", "-"], stdin=NFT_RULESET)
        self.ctl = CtnlClient()
        self.box.on_cleanup(self.ctl.close)
        self.counter = CountReader()
        self.box.on_cleanup(self.counter.close)
        self.sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.box.on_cleanup(self.sink.close)
        self.sink.bind((LOOPBACK, UDP_SINK_PORT))
        self.note(f"namespace {self.box.netns.name} ready")
        for line in self.box.repaired:
            self.note(f"repaired a previous run: {line}")

    def now(self) -> float:
        """Seconds since the start, to the microsecond (what a trace file keeps)."""
        return round(time.monotonic() - self.t0, 6)

    def record(self, event: Event) -> None:
        self.events.append(event)
        if self.verbose and isinstance(event, NoteEvent):
            print(f"[{event.t:7.3f}] {event.text}", file=sys.stderr, flush=True)

    def note(self, text: str) -> None:
        self.record(NoteEvent(self.now(), text))

    def trace(self, scenario: str, params: dict[str, ParamValue]) -> ObservedTrace:
        return ObservedTrace(
            scenario=scenario,
            params=dict(params),
            kernel=platform.release(),
            listeners=tuple(self.infos),
            events=tuple(self.events),
        )

    def set_sysctl(self, name: str, value: int, *, per_netns: bool) -> str:
        """Write a sysctl (restored at cleanup); returns the value it had before."""
        old = self.box.set_sysctl(name, value, per_netns=per_netns)
        scope = "netns" if per_netns else "global"
        self.record(SysctlEvent(self.now(), name, str(value), scope))
        return old

    def restore_sysctl(self, name: str, *, per_netns: bool) -> None:
        """Put a sysctl back to its original value now rather than at cleanup."""
        value = self.box.sysctls.restore_one(name)
        if value is not None:
            scope = "netns" if per_netns else "global"
            self.record(SysctlEvent(self.now(), name, value, scope))

    def open_listener(
        self,
        name: str,
        groups: Sequence[str],
        *,
        broadcast_error: bool,
        no_enobufs: bool,
        rcvbuf: int,
        elsewhere: bool = False,
    ) -> Listener:
        """A listener in the sandbox namespace, or with `elsewhere` in a second namespace of
        the run with NETLINK_LISTEN_ALL_NSID set, so that it receives the sandbox's events and
        survives `exit_namespace`."""
        if name in self._listeners:
            raise ValueError(f"listener {name!r} already exists")
        options = ListenerOptions(tuple(groups), broadcast_error, no_enobufs, rcvbuf)
        if elsewhere:
            other = self.box.other_namespace()
            with other.entered():
                listener = Listener(name, options)
            self.box.on_cleanup(listener.close)
            listener.listen_all_nsid()
            self._elsewhere.add(name)
            self.note(f"listener {name} is in namespace {other.name} (NETLINK_LISTEN_ALL_NSID)")
        else:
            listener = Listener(name, options)
            self.box.on_cleanup(listener.close)
        self._listeners[name] = _ListenerState(listener, last_activity=self.now())
        self.infos.append(
            ListenerInfo(
                name,
                options.groups,
                broadcast_error,
                no_enobufs,
                rcvbuf,
                listener.rcvbuf_effective,
            )
        )
        self.record(ListenerOpenEvent(self.now(), name))
        return listener

    def close_listener(self, name: str) -> None:
        self._listeners[name].listener.close()
        self.record(ListenerCloseEvent(self.now(), name))

    def set_listener_option(self, name: str, option: str, value: str) -> None:
        """Clear BE (``option="broadcast_error"``) or leave a group (``option="leave"``)."""
        listener = self._listeners[name].listener
        if option == "broadcast_error":
            listener.set_broadcast_error(value == "1")
        elif option == "leave":
            listener.leave_group(value)
        else:
            raise ValueError(f"unknown listener option {option!r}")
        self.record(ListenerOptionEvent(self.now(), name, option, value))

    def _new_flow(self, proto: str) -> Flow:
        index = len(self.flows)
        base, dport = (
            (UDP_SPORT_BASE, UDP_SINK_PORT) if proto == "udp" else (TCP_SPORT_BASE, TCP_SERVER_PORT)
        )
        flow = Flow(index, proto, base + index, dport)
        self.flows.append(flow)
        self._by_key[(proto, flow.sport, flow.dport)] = index
        return flow

    def _flow_created(self, flow: Flow, t: float) -> None:
        found = self.ctl.get(flow.tuple)
        ctid = found.ctid if found is not None else None
        self.record(FlowEvent(t, flow.index, ctid, flow.proto, flow.sport, flow.dport))

    def udp_flow(self) -> int | None:
        """Send one datagram from a new source port; the flow index, or ``None`` if dropped.

        The conntrack is created in the output hook; when ``nf_conntrack_alloc`` finds the table
        full and ``early_drop`` frees nothing, the packet is dropped and ``sendto`` fails with
        EPERM, which is recorded as a ``send_drop``.
        """
        flow = self._new_flow("udp")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((LOOPBACK, flow.sport))
            try:
                sock.sendto(b"nfct-spec", (LOOPBACK, flow.dport))
            except OSError as exc:
                self._dropped(flow, exc)
                return None
        self._flow_created(flow, self.now())
        return flow.index

    def udp_again(self, index: int) -> bool:
        """Send one more datagram of flow ``index`` (same ports): after its conntrack was
        deleted, this creates a new conntrack with the same tuple; false if it was dropped."""
        flow = self.flows[index]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((LOOPBACK, flow.sport))
            try:
                sock.sendto(b"nfct-spec", (LOOPBACK, flow.dport))
            except OSError as exc:
                self._dropped(flow, exc)
                return False
        self._flow_created(flow, self.now())
        return True

    def _dropped(self, flow: Flow, exc: OSError) -> None:
        self.record(
            SendDropEvent(
                self.now(), flow.index, flow.proto, flow.sport, flow.dport, _errno_name(exc)
            )
        )

    def udp_flows(self, n: int) -> list[int]:
        created = [self.udp_flow() for _ in range(n)]
        self.sample_count()
        return [i for i in created if i is not None]

    def tcp_connect(self, server: socket.socket) -> tuple[socket.socket, socket.socket] | None:
        """Open one TCP connection to ``server``; ``None`` if the SYN was dropped."""
        flow = self._new_flow("tcp")
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            client.settimeout(2.0)
            client.bind((LOOPBACK, flow.sport))
            client.connect((LOOPBACK, flow.dport))
            conn, _ = server.accept()
        except OSError as exc:
            client.close()
            self._dropped(flow, exc)
            return None
        self._flow_created(flow, self.now())
        return client, conn

    def flush(self) -> None:
        self.ctl.flush()
        self.record(FlushEvent(self.now()))
        self.sample_count()

    def delete(self, index: int) -> str:
        result = self.ctl.delete(self.flows[index].tuple)
        self.record(DeleteEvent(self.now(), index, result))
        return result

    def dump(self) -> int:
        entries = self.ctl.dump()
        self.record(DumpEvent(self.now()))
        return len(entries)

    def exit_namespace(self) -> None:
        """Delete the sandbox namespace while listeners elsewhere go on reading.

        Everything the harness holds in it is closed and the thread moves out, so that removing
        the name drops its last reference and the kernel runs the namespace's exit
        (cleanup_net() in a workqueue, shortly after).  Listeners in the sandbox itself would
        keep it alive, so they are refused."""
        inside = sorted(set(self._listeners) - self._elsewhere)
        if inside:
            raise ScenarioError(f"exit_namespace: listeners {inside} are inside the namespace")
        for closer in (self.ctl.close, self.counter.close, self.sink.close):
            closer()
        self.box.leave()
        self.box.netns.destroy()
        self.exited = True
        self.record(NetnsExitEvent(self.now()))

    def sample_count(self) -> int:
        """Read ``nf_conntrack_count``; recorded only when it changed since the last sample."""
        if self.exited:
            raise ScenarioError("the namespace has exited: its count cannot be read")
        value = self.counter.read()
        if value != self._last_count:
            self._last_count = value
            self.record(CountEvent(self.now(), value))
        return value

    def read_one(self, name: str) -> bool:
        """Read at most one datagram from a listener; false if its queue was empty."""
        state = self._listeners[name]
        try:
            messages = state.listener.recv()
        except OSError as exc:
            state.last_activity = self.now()
            self.record(RecvErrorEvent(self.now(), name, _errno_name(exc)))
            return True
        if messages is None:
            return False
        t = self.now()
        state.last_activity = t
        for msg in messages:
            flow = self._flow_of(msg.tuple)
            self.record(RecvEvent(t, name, msg.msg, msg.ctid, flow, msg.status, msg.tcp_state))
            if msg.msg == "destroy" and flow is not None:
                state.destroyed[flow] += 1
        return True

    def _flow_of(self, tup: Tuple | None) -> int | None:
        if tup is None:
            return None
        return self._by_key.get((tup.proto, tup.sport, tup.dport))

    def read_all(self, name: str, limit: int = 10000) -> int:
        """Read until the queue is empty (at most ``limit`` datagrams); returns how many."""
        for count in range(limit):
            if not self.read_one(name):
                return count
        return limit

    def readable(self, name: str) -> bool:
        ready, _, _ = select.select([self._listeners[name].listener], [], [], 0)
        return bool(ready)

    def destroyed(self, name: str) -> Counter[int]:
        """How many DESTROYs each flow index got at a listener."""
        return self._listeners[name].destroyed

    def all_destroyed(self, name: str, flows: Iterable[int]) -> bool:
        got = self._listeners[name].destroyed
        return all(got[i] > 0 for i in flows)

    def quiet_for(self, name: str, seconds: float) -> bool:
        return self.now() - self._listeners[name].last_activity >= seconds

    def drain(
        self,
        *,
        slow: Sequence[str] = (),
        fast: Sequence[str] = (),
        pace: float,
        until: Callable[[], bool],
        timeout: float,
        tick: Callable[[], None] | None = None,
    ) -> bool:
        """Read at a controlled pace until ``until()`` or the time bound.

        Each round reads everything queued on the ``fast`` listeners, at most one datagram from
        each ``slow`` one, samples the count, then sleeps ``pace``.  A slow reader keeps its
        buffer full, which is what makes DESTROY deliveries fail and be retried.
        """
        deadline = self.now() + timeout
        while True:
            for name in fast:
                self.read_all(name)
            for name in slow:
                self.read_one(name)
            self.sample_count()
            if tick is not None:
                tick()
            if until():
                return True
            if self.now() >= deadline:
                self.note(f"bound reached: stopped waiting after {timeout:g} s")
                return False
            time.sleep(pace)

    def idle(self, seconds: float, step: float = 0.01) -> None:
        """Read nothing for ``seconds``, sampling the count every ``step``."""
        deadline = self.now() + seconds
        while self.now() < deadline:
            self.sample_count()
            time.sleep(step)

    def watch_count(
        self, seconds: float, until: Callable[[int], bool], step: float = 0.005
    ) -> bool:
        """Sample the count every ``step`` until ``until(count)`` or ``seconds`` pass."""
        deadline = self.now() + seconds
        while True:
            if until(self.sample_count()):
                return True
            if self.now() >= deadline:
                self.note(f"bound reached: count watched for {seconds:g} s")
                return False
            time.sleep(step)


ScenarioFn = Callable[..., None]
Limits = dict[str, tuple[float, float] | tuple[str, ...]]


@dataclass(frozen=True)
class Scenario:
    """A named scenario: its function, parameter defaults and the limits each may take."""

    name: str
    fn: ScenarioFn
    limits: Limits

    @property
    def doc(self) -> str:
        return inspect.getdoc(self.fn) or ""

    @property
    def defaults(self) -> dict[str, ParamValue]:
        sig = inspect.signature(self.fn)
        out: dict[str, ParamValue] = {}
        for name, param in sig.parameters.items():
            if param.kind is inspect.Parameter.KEYWORD_ONLY:
                out[name] = param.default
        return out

    def resolve(self, params: dict[str, ParamValue]) -> dict[str, ParamValue]:
        """Defaults overridden by ``params``, each checked against its type and limits."""
        merged = self.defaults
        for key, value in params.items():
            if key not in merged:
                known = ", ".join(sorted(merged))
                raise ScenarioError(f"{self.name}: unknown parameter {key!r} (known: {known})")
            merged[key] = _check_param(self.name, key, value, merged[key], self.limits.get(key))
        return merged

    def __call__(self, **params: ParamValue) -> ObservedTrace:
        return run_scenario(self.name, **params)


def _check_param(
    scenario: str,
    key: str,
    value: ParamValue,
    default: ParamValue,
    limit: tuple[float, float] | tuple[str, ...] | None,
) -> ParamValue:
    where = f"{scenario}: parameter {key}"
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ScenarioError(f"{where}: expected true/false, got {value!r}")
        return value
    if isinstance(default, int | float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ScenarioError(f"{where}: expected a number, got {value!r}")
        if isinstance(default, int) and not isinstance(value, int):
            raise ScenarioError(f"{where}: expected an integer, got {value!r}")
        if limit is not None and isinstance(limit[0], int | float):
            low, high = float(limit[0]), float(limit[1])
            if not low <= value <= high:
                raise ScenarioError(f"{where}: {value} is outside [{limit[0]}, {limit[1]}]")
        return value
    if not isinstance(value, str) or (limit is not None and value not in limit):
        raise ScenarioError(f"{where}: expected one of {limit}, got {value!r}")
    return value


SCENARIOS: dict[str, Scenario] = {}


def _scenario(
    name: str, **limits: tuple[float, float] | tuple[str, ...]
) -> Callable[[ScenarioFn], ScenarioFn]:
    def register(fn: ScenarioFn) -> ScenarioFn:
        SCENARIOS[name] = Scenario(name, fn, dict(limits))
        return fn

    return register


_FLOWS = (1, 1000)
_RCVBUF = (0, 1 << 22)
_PACE = (0.0, 0.1)
_BOUND = (0.1, 10.0)


def _reliable(
    h: Harness,
    name: str,
    rcvbuf: int,
    groups: Sequence[str] = ("destroy",),
    elsewhere: bool = False,
) -> None:
    h.open_listener(
        name, groups, broadcast_error=True, no_enobufs=True, rcvbuf=rcvbuf, elsewhere=elsewhere
    )


@_scenario("reliable-flush", flows=_FLOWS, rcvbuf=_RCVBUF, pace=_PACE, drain_timeout=_BOUND)
def reliable_flush(
    h: Harness,
    *,
    flows: int = 200,
    rcvbuf: int = 1024,
    pace: float = 0.002,
    no_enobufs: bool = True,
    drain_timeout: float = 8.0,
) -> None:
    """A reliable listener (BE, DESTROY group, tiny buffer) and a flush, drained slowly.

    ``nf_ct_delete`` sends each DESTROY; the ones the full buffer refuses fail (BE), so the
    entries go to the redelivery list and ``ecache_work`` resends them.  Expected on 6.x: every
    DESTROY arrives, none twice; the count falls only as DESTROYs are queued.  With
    ``no_enobufs=false`` the listener also sees ENOBUFS read errors, yet loses nothing.
    """
    h.open_listener(
        "reliable", ["destroy"], broadcast_error=True, no_enobufs=no_enobufs, rcvbuf=rcvbuf
    )
    created = h.udp_flows(flows)
    h.flush()
    h.drain(
        slow=["reliable"],
        pace=pace,
        until=lambda: h.all_destroyed("reliable", created) and h.sample_count() == 0,
        timeout=drain_timeout,
    )
    h.drain(slow=["reliable"], pace=pace, until=lambda: h.quiet_for("reliable", 0.2), timeout=1.0)


@_scenario("unreliable-flush", flows=_FLOWS, rcvbuf=_RCVBUF, pace=_PACE, drain_timeout=_BOUND)
def unreliable_flush(
    h: Harness,
    *,
    flows: int = 200,
    rcvbuf: int = 1024,
    pace: float = 0.002,
    drain_timeout: float = 2.0,
) -> None:
    """Like ``reliable-flush`` without BE: overruns are not failures, nothing is retried.

    Expected: the listener gets what its buffer holds, the rest is lost, and the count drops to
    0 at the flush (every ``nf_ct_delete`` succeeds and frees its entry).
    """
    h.open_listener(
        "unreliable", ["destroy"], broadcast_error=False, no_enobufs=True, rcvbuf=rcvbuf
    )
    h.udp_flows(flows)
    h.flush()
    h.drain(
        slow=["unreliable"],
        pace=pace,
        until=lambda: h.quiet_for("unreliable", 0.3) and h.sample_count() == 0,
        timeout=drain_timeout,
    )


@_scenario(
    "table-full",
    limit=(10, 500),
    probes=(0, 100),
    probe_every=(0.01, 1.0),
    after=(0, 100),
    rcvbuf=_RCVBUF,
    pace=_PACE,
    drain_timeout=_BOUND,
)
def table_full(
    h: Harness,
    *,
    limit: int = 50,
    probes: int = 20,
    probe_every: float = 0.1,
    after: int = 5,
    rcvbuf: int = 1024,
    pace: float = 0.002,
    drain_timeout: float = 8.0,
) -> None:
    """Fill a small table, flush without reading, and try new flows while entries wait.

    ``nf_conntrack_max`` is global (set from the initial namespace and restored afterwards).
    Entries waiting for redelivery still count but are not in the hash, so ``early_drop`` finds
    no victim and ``nf_conntrack_alloc`` fails: new flows are dropped with EPERM.  ``probes``
    new flows are tried every ``probe_every`` seconds while the listener drains; ``after`` more
    once it has drained, which should all pass.
    """
    _reliable(h, "reliable", rcvbuf)
    h.set_sysctl(CONNTRACK_MAX, limit, per_netns=False)
    created = h.udp_flows(limit)
    h.flush()
    tried = 0
    next_probe = h.now()

    def probe() -> None:
        nonlocal tried, next_probe
        if tried < probes and h.now() >= next_probe:
            tried += 1
            next_probe = h.now() + probe_every
            h.udp_flow()

    probe()
    h.drain(
        slow=["reliable"],
        pace=pace,
        until=lambda: h.all_destroyed("reliable", created) and tried >= probes,
        timeout=drain_timeout,
        tick=probe,
    )
    h.note("drained; trying new flows again")
    h.udp_flows(after)
    h.restore_sysctl(CONNTRACK_MAX, per_netns=False)


@_scenario(
    "slow-and-fast",
    flows=_FLOWS,
    slow_rcvbuf=_RCVBUF,
    fast_rcvbuf=_RCVBUF,
    pace=_PACE,
    drain_timeout=_BOUND,
)
def slow_and_fast(
    h: Harness,
    *,
    flows: int = 60,
    slow_rcvbuf: int = 1024,
    fast_rcvbuf: int = BIG_RCVBUF,
    pace: float = 0.01,
    drain_timeout: float = 8.0,
) -> None:
    """A slow reliable listener and a fast unreliable one on the same DESTROY group.

    Every resend for the slow one is a broadcast that the fast one accepts, so the fast one gets
    a copy of each attempt: duplicates by design of ``netlink_broadcast_filtered``.
    """
    _reliable(h, "slow", slow_rcvbuf)
    h.open_listener(
        "fast", ["destroy"], broadcast_error=False, no_enobufs=False, rcvbuf=fast_rcvbuf
    )
    created = h.udp_flows(flows)
    h.flush()
    h.drain(
        slow=["slow"],
        fast=["fast"],
        pace=pace,
        until=lambda: h.all_destroyed("slow", created),
        timeout=drain_timeout,
    )
    h.drain(
        slow=["slow"],
        fast=["fast"],
        pace=pace,
        until=lambda: h.quiet_for("fast", 0.2) and h.quiet_for("slow", 0.2),
        timeout=1.0,
    )


@_scenario(
    "expiry",
    flows=(1, 200),
    udp_timeout=(1, 5),
    rcvbuf=_RCVBUF,
    pace=_PACE,
    gc_wait=_BOUND,
    drain_timeout=_BOUND,
)
def expiry(
    h: Harness,
    *,
    flows: int = 20,
    udp_timeout: int = 1,
    rcvbuf: int = 1024,
    pace: float = 0.002,
    gc_wait: float = 2.0,
    drain_timeout: float = 6.0,
) -> None:
    """Let UDP entries time out with a reliable tiny-buffer listener, then drain.

    Since 4.9 there is no per-conntrack timer: an expired entry is deleted when the gc worker,
    a lookup or a dump walks it.  The harness waits up to ``gc_wait`` seconds after the expiry
    for the first DESTROY; if none came it dumps the table (``ctnetlink_dump_table`` kills the
    expired entries it sees) and says so in the trace.  DESTROYs refused by the full buffer are
    redelivered like flushed ones.
    """
    h.set_sysctl(UDP_TIMEOUT, udp_timeout, per_netns=True)
    _reliable(h, "reliable", rcvbuf)
    created = h.udp_flows(flows)
    expires = h.now() + udp_timeout
    h.note(f"entries expire at t={expires:.3f}")
    seen = h.drain(pace=0.01, until=lambda: h.readable("reliable"), timeout=udp_timeout + gc_wait)
    if not seen:
        h.note("no DESTROY after the expiry: dumping the table to delete expired entries")
        h.dump()
    time.sleep(0.1)
    dumps = 0
    last_progress = h.now()
    progress = 0

    def redump_when_stuck() -> None:
        nonlocal dumps, last_progress, progress
        done = sum(1 for i in created if h.destroyed("reliable")[i])
        if done != progress:
            progress, last_progress = done, h.now()
        elif h.now() - last_progress > 2.0 and dumps < 3 and h.sample_count() > 0:
            dumps += 1
            last_progress = h.now()
            h.note("no progress for 2 s: dumping the table again")
            h.dump()

    h.drain(
        slow=["reliable"],
        pace=pace,
        until=lambda: h.all_destroyed("reliable", created),
        timeout=drain_timeout,
        tick=redump_when_stuck,
    )
    h.note("flushing what is left, so that every flow has been deleted")
    h.flush()
    if not h.all_destroyed("reliable", created):
        h.drain(
            slow=["reliable"],
            pace=pace,
            until=lambda: h.all_destroyed("reliable", created),
            timeout=drain_timeout,
        )


@_scenario("tcp-events", conns=(1, 100), rcvbuf=_RCVBUF, pace=_PACE, drain_timeout=_BOUND)
def tcp_events(
    h: Harness,
    *,
    conns: int = 8,
    rcvbuf: int = 1024,
    pace: float = 0.002,
    read_during_traffic: bool = True,
    drain_timeout: float = 8.0,
) -> None:
    """TCP connections with NEW/UPDATE/DESTROY subscribed, seen by a congested reliable listener.

    A ``reference`` listener with a big buffer and no BE shows every message the kernel sent.
    Failed NEW/UPDATE bits go to ``missed`` and ride on the next message for that conntrack,
    carrying its state at that time, so the reliable listener sees merged sequences.
    """
    groups = ("new", "update", "destroy")
    _reliable(h, "reliable", rcvbuf, groups)
    h.open_listener("reference", groups, broadcast_error=False, no_enobufs=True, rcvbuf=BIG_RCVBUF)
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    h.box.on_cleanup(server.close)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((LOOPBACK, TCP_SERVER_PORT))
    server.listen(conns)
    server.settimeout(2.0)

    def step() -> None:
        h.read_all("reference")
        if read_during_traffic:
            h.read_one("reliable")

    created = []
    for _ in range(conns):
        pair = h.tcp_connect(server)
        step()
        if pair is None:
            continue
        client, conn = pair
        created.append(h.flows[-1].index)
        _exchange(client, conn, step)
    h.sample_count()
    h.flush()
    h.drain(
        slow=["reliable"],
        fast=["reference"],
        pace=pace,
        until=lambda: h.all_destroyed("reliable", created),
        timeout=drain_timeout,
    )
    h.drain(
        slow=["reliable"],
        fast=["reference"],
        pace=pace,
        until=lambda: h.quiet_for("reliable", 0.2),
        timeout=1.0,
    )


def _exchange(client: socket.socket, conn: socket.socket, step: Callable[[], None]) -> None:
    """Request, response and an orderly close from the client, reading events in between."""
    with client, conn:
        conn.settimeout(2.0)
        client.sendall(b"ping")
        conn.recv(16)
        step()
        conn.sendall(b"pong")
        client.recv(16)
        step()
        client.shutdown(socket.SHUT_WR)
        conn.recv(16)
        step()
        conn.shutdown(socket.SHUT_WR)
        client.recv(16)
        step()


@_scenario("events-sysctl", flows_per_case=(1, 20), settle=(0.05, 2.0))
def events_sysctl(h: Harness, *, flows_per_case: int = 2, settle: float = 0.3) -> None:
    """Does a conntrack emit DESTROY, by ``nf_conntrack_events`` and listener timing?

    The sysctl is sampled once, when the conntrack is created (``nf_ct_ecache_ext_add``): 0
    gives no event extension, 1 always one, 2 one only if a ctnetlink listener exists then.
    Cases: each mode with the listener opened before or after the traffic, and a ``changed``
    case (created with 1, sysctl set to 0 before the flush).  Listeners have a big buffer and no
    BE, so the only question is whether an event was generated.  Each flow is deleted by its
    tuple (``ctnetlink_del_conntrack`` with ``CTA_TUPLE_ORIG``).
    """
    cases = [(mode, timing) for mode in (0, 1, 2) for timing in ("before", "after")]
    cases.append((1, "changed"))
    for mode, timing in cases:
        name = f"events{mode}-{timing}"
        h.note(f"case {name}")
        h.set_sysctl(CONNTRACK_EVENTS, mode, per_netns=True)
        if timing != "after":
            _big_listener(h, name)
        created = [i for i in (h.udp_flow() for _ in range(flows_per_case)) if i is not None]
        h.sample_count()
        if timing == "after":
            _big_listener(h, name)
        if timing == "changed":
            h.set_sysctl(CONNTRACK_EVENTS, 0, per_netns=True)
        for index in created:
            h.delete(index)
        h.drain(
            fast=[name],
            pace=0.005,
            until=functools.partial(h.all_destroyed, name, created),
            timeout=settle,
        )
        got = sum(1 for i in created if h.destroyed(name)[i])
        h.note(f"case {name}: {got}/{len(created)} flows got a DESTROY")
        h.close_listener(name)


def _big_listener(h: Harness, name: str) -> None:
    h.open_listener(name, ["destroy"], broadcast_error=False, no_enobufs=True, rcvbuf=BIG_RCVBUF)


@_scenario(
    "listener-close",
    flows=_FLOWS,
    rcvbuf=_RCVBUF,
    wait=(0.0, 3.0),
    watch=_BOUND,
    how=("close", "clear-be", "leave-group"),
)
def listener_close(
    h: Harness,
    *,
    flows: int = 50,
    rcvbuf: int = 1024,
    wait: float = 0.3,
    watch: float = 3.0,
    how: str = "close",
) -> None:
    """Entries wait for a reliable listener; then it closes (or clears BE, or leaves the group).

    With no BE listener left on the group, the next ``ecache_work`` resend counts as delivered
    (``ctnetlink_conntrack_event`` sees no listener, or ``netlink_broadcast_filtered`` no BE
    failure), so every waiting entry is freed and its DESTROY is lost.
    """
    _reliable(h, "reliable", rcvbuf)
    h.udp_flows(flows)
    h.flush()
    h.idle(wait)
    if how == "close":
        h.close_listener("reliable")
    elif how == "clear-be":
        h.set_listener_option("reliable", "broadcast_error", "0")
    else:
        h.set_listener_option("reliable", "leave", "destroy")
    h.watch_count(watch, until=lambda count: count == 0, step=0.002)
    if how != "close":
        h.read_all("reliable")


@_scenario("congestion", rcvbuf=_RCVBUF, burst=(2, 50))
def congestion(h: Harness, *, rcvbuf: int = 1280, burst: int = 3) -> None:
    """An overrun marks a listener without NETLINK_NO_ENOBUFS congested until its queue is
    empty, even when a read has made room.

    A listener without BE or NO_ENOBUFS subscribes to DESTROY with a small buffer; ``burst``
    conntracks are deleted one by one, one more than the buffer takes, so the last overruns:
    netlink_overrun() sets NETLINK_S_CONGESTED and ENOBUFS.  The listener reads the error and
    one message, which leaves room; the DESTROY of one more deletion is still refused, because
    netlink_broadcast_deliver() takes nothing while the socket is congested.  The listener then
    reads its queue empty (netlink_rcv_wake() clears the congestion) and the DESTROY of a last
    deletion arrives.
    """
    h.open_listener("watch", ["destroy"], broadcast_error=False, no_enobufs=False, rcvbuf=rcvbuf)
    created = h.udp_flows(burst + 2)
    if len(created) != burst + 2:
        raise ScenarioError("congestion: a datagram was dropped while creating the flows")
    for index in created[:burst]:
        h.delete(index)
    h.read_one("watch")
    h.read_one("watch")
    h.delete(created[burst])
    h.read_all("watch")
    h.delete(created[burst + 1])
    h.read_all("watch")
    h.sample_count()


@_scenario("netns-exit", flows=_FLOWS, rcvbuf=_RCVBUF, wait=(0.0, 0.9), watch=_BOUND)
def netns_exit(
    h: Harness,
    *,
    flows: int = 20,
    rcvbuf: int = 1024,
    wait: float = 0.3,
    watch: float = 3.0,
    flush: bool = True,
) -> None:
    """The conntracks' namespace is deleted while a reliable listener in another namespace
    (NETLINK_LISTEN_ALL_NSID) holds their DESTROYs back.

    The flush queues the DESTROY that fits the listener's buffer and moves the others to the
    redelivery list; ``wait`` (less than the worker's first delay of one second) later, the
    namespace is deleted without the listener having read anything.  Its exit frees the
    waiting entries and their DESTROYs are never sent: for ``watch`` seconds (several retry
    periods) the listener reads what was queued before, and nothing more.  With ``flush``
    false the conntracks are still hashed when the namespace goes: the exit kills them after
    it removed the namespace's event callback, so no DESTROY at all is sent, whatever room the
    listener has.
    """
    _reliable(h, "reliable", rcvbuf, elsewhere=True)
    h.udp_flows(flows)
    if flush:
        h.flush()
    h.idle(wait)
    h.exit_namespace()
    deadline = h.now() + watch
    while h.now() < deadline:
        h.read_all("reliable")
        time.sleep(0.01)


@_scenario("id-reuse", rounds=(1, 200), settle=(0.0, 1.0))
def id_reuse(h: Harness, *, rounds: int = 20, settle: float = 0.02) -> None:
    """One UDP tuple created, deleted and created again, ``rounds`` times, with a reliable
    listener on NEW and DESTROY that reads everything.

    ``nf_ct_get_id()`` hashes the object's address with its tuple; a deleted conntrack with no
    message left to send is freed at once, and the slab hands its memory to the next
    allocation, so the next conntrack of the same tuple often gets the same id.  Expected on
    6.x: some instance repeats an earlier instance's tuple and id (the monitor ``id-reused``),
    and nothing of an instance arrives after its DESTROY.
    """
    h.open_listener(
        "reliable", ["new", "destroy"], broadcast_error=True, no_enobufs=True, rcvbuf=1 << 16
    )
    index = h.udp_flow()
    if index is None:
        raise ScenarioError("id-reuse: the first datagram was dropped")
    for _ in range(rounds):
        h.drain(
            fast=["reliable"],
            pace=0.002,
            until=lambda: h.quiet_for("reliable", settle),
            timeout=1.0,
        )
        h.delete(index)
        h.drain(
            fast=["reliable"],
            pace=0.002,
            until=lambda: h.quiet_for("reliable", settle),
            timeout=1.0,
        )
        h.udp_again(index)
    h.delete(index)
    h.drain(fast=["reliable"], pace=0.002, until=lambda: h.quiet_for("reliable", 0.1), timeout=1.0)


def run_scenario(name: str, /, **params: ParamValue) -> ObservedTrace:
    """Run one scenario in a fresh namespace and return its observed trace.

    Raises :class:`~nfct_spec.kernel.netns.KernelUnavailable` (with the reason) when the live
    kernel cannot be used, :class:`ScenarioError` for unknown scenarios or bad parameters, and
    :class:`~nfct_spec.kernel.netns.Interrupted` after cleanup if a signal stopped the run.
    """
    return run_scenario_with(name, params)


def run_scenario_with(
    name: str, params: dict[str, ParamValue], *, verbose: bool = False
) -> ObservedTrace:
    """:func:`run_scenario` with the parameters as a dict; ``verbose`` prints phases."""
    if name not in SCENARIOS:
        raise ScenarioError(f"unknown scenario {name!r} (known: {', '.join(SCENARIOS)})")
    spec = SCENARIOS[name]
    resolved = spec.resolve(params)
    with sandbox() as box:
        harness = Harness(box, verbose)
        with box.netns.entered():
            harness.setup()
            harness.note(f"scenario {name} starts")
            spec.fn(harness, **resolved)
            if not harness.exited:
                harness.sample_count()
            harness.note(f"scenario {name} ends")
    return harness.trace(name, resolved)


def parse_param(text: str) -> tuple[str, ParamValue]:
    """`KEY=VALUE` as a scenario parameter: true/false, an int, a float, else a string."""
    key, sep, raw = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    value: ParamValue
    if raw in ("true", "false"):
        value = raw == "true"
    else:
        try:
            value = int(raw)
        except ValueError:
            try:
                value = float(raw)
            except ValueError:
                value = raw
    return key.replace("-", "_"), value


def main(argv: list[str] | None = None) -> int:
    """``python -m nfct_spec.kernel.scenarios NAME``: run, save, print a summary.

    Exit status as for ``nfct-spec kernel run`` (see :mod:`nfct_spec.cli`): 0 every monitor as
    expected, 1 some monitor not as expected, 2 bad usage, 4 the live kernel is unavailable
    here, 5 it answered something the harness cannot handle; after a signal the process dies
    of that signal once the namespace and sysctls are restored.
    """
    parser = argparse.ArgumentParser(prog="python -m nfct_spec.kernel.scenarios")
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--param", "-p", action="append", default=[], type=parse_param)
    parser.add_argument("--out", "-o", help="write the observed trace (JSON) here")
    parser.add_argument("--verbose", "-v", action="store_true", help="print phases to stderr")
    args = parser.parse_args(argv)
    try:
        if args.out:
            check_output(args.out, WHAT, SIGNATURE)
        trace = run_scenario_with(args.scenario, dict(args.param), verbose=args.verbose)
        if args.out:
            save(trace, args.out)
    except (ScenarioError, InputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except LIVE_ERRORS as exc:
        code, text = failure(exc)
        print(text, file=sys.stderr)
        return code
    except Interrupted as exc:
        print(f"{exc}; namespace removed and sysctls restored", file=sys.stderr)
        exit_for(exc)
    print(format_summary(trace))
    results = verdicts(trace)
    print(format_verdicts(results))
    return 0 if all(v.as_expected for v in results) else 1


if __name__ == "__main__":
    sys.exit(main())
