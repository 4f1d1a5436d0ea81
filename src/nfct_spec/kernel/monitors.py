"""Property monitors over observed traces.

A monitor reads one trace and returns a :class:`MonitorResult`: whether the property held on
that run, and for a failure the first offending event.  Safety monitors (``holds`` means
nothing bad was seen) and witness monitors (``holds`` means the documented behaviour was
seen at least once) are both plain functions; :data:`EXPECTED` says, per scenario, which
outcome the kernel facts predict for 6.x, so a checker can compare instead of guessing.

Conntrack ids are not unique over time: a new conntrack of the same tuple may get the id of
one whose DESTROY is still waiting, and its NEW can reach a listener before that DESTROY.  So
monitors key a conntrack instance by ``(ctid, flow)`` and count instances from the harness's
``flow`` events (one per conntrack it created), never by the id alone.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass

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
    RecvEvent,
    SendDropEvent,
    SysctlEvent,
    event_to_dict,
)

Key = tuple[int | None, int | None]


@dataclass(frozen=True, slots=True)
class MonitorResult:
    """``holds`` on this trace; ``detail`` names the first offending event or the witness.

    ``applicable`` is false when the trace has nothing the monitor can judge (no reliable
    listener, no limit set, ...); ``holds`` is then true and says nothing.
    """

    name: str
    holds: bool
    detail: str
    applicable: bool = True


Monitor = Callable[[ObservedTrace], MonitorResult]


def _describe(event: Event, index: int) -> str:
    """``event #12 at t=1.036733 (recv: listener=fast, msg=destroy, ...)``."""
    fields = event_to_dict(event)
    inner = ", ".join(f"{k}={v}" for k, v in fields.items() if k not in ("t", "kind"))
    return f"event #{index} at t={event.t:.6f} ({event.kind}: {inner})"


def _key(event: RecvEvent | FlowEvent) -> Key:
    return (event.ctid, event.flow)


def _instances(trace: ObservedTrace) -> Counter[Key]:
    """Conntrack instances the harness created, per ``(ctid, flow)`` key."""
    return Counter(_key(e) for e in trace.of(FlowEvent))


def _ended_at(trace: ObservedTrace) -> dict[str, float]:
    """When each listener stopped being a plain subscriber (closed, BE cleared, group left)."""
    ended: dict[str, float] = {}
    for event in trace.events:
        if isinstance(event, ListenerCloseEvent | ListenerOptionEvent):
            ended.setdefault(event.name, event.t)
    return ended


def _reliable(trace: ObservedTrace) -> list[ListenerInfo]:
    return [info for info in trace.listeners if info.reliable]


def _unreliable(trace: ObservedTrace) -> list[ListenerInfo]:
    return [info for info in trace.listeners if "destroy" in info.groups and not info.reliable]


def no_event_after_destroy(trace: ObservedTrace) -> MonitorResult:
    """No NEW/UPDATE for a conntrack instance reaches a listener after its DESTROY did.

    A message for ``(ctid, flow)`` after a DESTROY of that key is explained only by a later
    instance: it is an offence when the DESTROYs seen so far already account for every instance
    created by then.  Consecutive DESTROYs of one key count once (a listener without BE can get
    copies), which can only hide offences, never invent one.
    """
    name = "no-event-after-destroy"
    created = Counter[Key]()
    closed: dict[tuple[str, Key], int] = defaultdict(int)
    last_was_destroy: dict[tuple[str, Key], bool] = {}
    for index, event in enumerate(trace.events):
        if isinstance(event, FlowEvent):
            created[_key(event)] += 1
            continue
        if not isinstance(event, RecvEvent) or event.ctid is None:
            continue
        slot = (event.listener, _key(event))
        if event.msg == "destroy":
            if not last_was_destroy.get(slot, False):
                closed[slot] += 1
            last_was_destroy[slot] = True
            continue
        last_was_destroy[slot] = False
        alive = max(created[_key(event)], 1)
        if closed[slot] >= alive:
            return MonitorResult(
                name, False, f"{event.msg} after destroy: {_describe(event, index)}"
            )
    return MonitorResult(name, True, "no NEW/UPDATE followed a DESTROY of the same instance")


def _deleted_flows(trace: ObservedTrace) -> dict[int, FlowEvent]:
    """Flows deleted by the harness: created before the last flush or the namespace's exit
    (which kills every conntrack of it), or deleted by tuple."""
    flush_times = [e.t for e in trace.events if isinstance(e, FlushEvent | NetnsExitEvent)]
    last = flush_times[-1] if flush_times else -1.0
    deleted = {e.flow for e in trace.of(DeleteEvent) if e.result == "ok"}
    return {e.flow: e for e in trace.of(FlowEvent) if e.t <= last or e.flow in deleted}


def reliable_destroy_complete(trace: ObservedTrace) -> MonitorResult:
    """Every flushed or deleted flow's DESTROY reaches each reliable listener that stayed.

    Only flows created while the listener was open count, and only listeners that were not
    closed or changed before the trace ended; with ``nf_conntrack_events`` 0 no DESTROY exists
    to deliver, so such traces are not judged.
    """
    name = "reliable-destroy-complete"
    if any(
        e.name.endswith("nf_conntrack_events") and e.value == "0" for e in trace.of(SysctlEvent)
    ):
        return MonitorResult(name, True, "nf_conntrack_events was 0: not judged", False)
    flushed = _deleted_flows(trace)
    ended = _ended_at(trace)
    judged = [i for i in _reliable(trace) if i.name not in ended]
    if not flushed or not judged:
        return MonitorResult(name, True, "no deletion seen by a reliable listener", False)
    opened = _opened_at(trace)
    for info in judged:
        got = {
            e.flow for e in trace.of(RecvEvent) if e.listener == info.name and e.msg == "destroy"
        }
        due = [f for f, e in sorted(flushed.items()) if e.t >= opened.get(info.name, 0.0)]
        missing = [f for f in due if f not in got]
        if missing:
            shown = ", ".join(map(str, missing[:10]))
            return MonitorResult(
                name,
                False,
                f"{info.name}: {len(missing)}/{len(due)} flows without DESTROY: {shown}",
            )
    detail = f"all {len(flushed)} deleted flows destroyed at {len(judged)} reliable listener(s)"
    return MonitorResult(name, True, detail)


def _opened_at(trace: ObservedTrace) -> dict[str, float]:
    return {e.name: e.t for e in trace.of(ListenerOpenEvent)}


def _duplicates(trace: ObservedTrace, listeners: list[ListenerInfo]) -> tuple[int, str]:
    """Count DESTROY/NEW messages beyond one per created instance; describe the first."""
    names = {info.name for info in listeners}
    instances = _instances(trace)
    seen: Counter[tuple[str, str, Key]] = Counter()
    extra = 0
    first = ""
    for index, event in enumerate(trace.events):
        if not isinstance(event, RecvEvent) or event.listener not in names:
            continue
        if event.msg == "update" or event.ctid is None:
            continue
        slot = (event.listener, event.msg, _key(event))
        seen[slot] += 1
        if seen[slot] > max(instances[_key(event)], 1):
            extra += 1
            first = first or _describe(event, index)
    return extra, first


def no_duplicate_at_reliable(trace: ObservedTrace) -> MonitorResult:
    """A reliable listener never gets the same NEW or DESTROY twice for one instance."""
    name = "no-duplicate-at-reliable"
    listeners = _reliable(trace)
    if not listeners:
        return MonitorResult(name, True, "no reliable listener", False)
    extra, first = _duplicates(trace, listeners)
    if extra:
        return MonitorResult(name, False, f"{extra} duplicate(s), first: {first}")
    return MonitorResult(name, True, "no duplicates at reliable listeners")


def duplicates_at_unreliable(trace: ObservedTrace) -> MonitorResult:
    """Witness: a listener without BE received a copy of a DESTROY (a resend for another)."""
    name = "duplicates-at-unreliable"
    listeners = _unreliable(trace)
    if not listeners:
        return MonitorResult(name, False, "no DESTROY listener without BE", False)
    extra, first = _duplicates(trace, listeners)
    if extra:
        return MonitorResult(name, True, f"{extra} duplicate(s), first: {first}")
    return MonitorResult(name, False, "no duplicates seen")


def _limits(trace: ObservedTrace) -> list[tuple[float, int]]:
    return [
        (e.t, int(e.value)) for e in trace.of(SysctlEvent) if e.name.endswith("nf_conntrack_max")
    ]


def count_bounded(trace: ObservedTrace) -> MonitorResult:
    """``nf_conntrack_count`` never exceeds the ``nf_conntrack_max`` in force when sampled."""
    name = "count-bounded"
    if not _limits(trace):
        return MonitorResult(name, True, "no limit set by the scenario", False)
    limit: int | None = None
    highest = 0
    for index, event in enumerate(trace.events):
        if isinstance(event, SysctlEvent) and event.name.endswith("nf_conntrack_max"):
            limit = int(event.value)
        elif isinstance(event, CountEvent) and limit:
            highest = max(highest, event.value)
            if event.value > limit:
                return MonitorResult(
                    name, False, f"count above limit {limit}: {_describe(event, index)}"
                )
    return MonitorResult(name, True, f"highest count {highest} within the limit")


def drops_while_full(trace: ObservedTrace) -> MonitorResult:
    """Witness: a new flow is dropped while flushed entries still wait for their DESTROY.

    "Waiting" is judged at a reliable listener: after the first flush, fewer of the flows it
    deleted have had their DESTROY read there than it deleted.
    """
    name = "drops-while-full"
    listeners = {info.name for info in _reliable(trace)}
    flushes = trace.of(FlushEvent)
    if not listeners or not flushes:
        return MonitorResult(name, False, "no flush with a reliable listener", False)
    flush_t = flushes[0].t
    flushed = {e.flow for e in trace.of(FlowEvent) if e.t <= flush_t}
    delivered: set[int] = set()
    for index, event in enumerate(trace.events):
        if isinstance(event, RecvEvent) and event.listener in listeners and event.msg == "destroy":
            if event.flow in flushed:
                delivered.add(event.flow)
        elif isinstance(event, SendDropEvent) and event.t >= flush_t:
            waiting = len(flushed) - len(delivered)
            if waiting > 0:
                return MonitorResult(
                    name, True, f"{_describe(event, index)} while {waiting} entries waited"
                )
    return MonitorResult(name, False, "no drop while entries waited")


def id_reused(trace: ObservedTrace) -> MonitorResult:
    """Two conntrack instances with the same tuple got the same id (CTA_ID): a listener that
    keys state by tuple and id sees the key come back after its DESTROY."""
    name = "id-reused"
    repeated = {key: n for key, n in _instances(trace).items() if n > 1 and key[0] is not None}
    if not any(n for n in _instances(trace).values()):
        return MonitorResult(name, False, "no conntrack created", False)
    if not repeated:
        return MonitorResult(name, False, "every instance got an id of its own")
    (ctid, flow), n = max(repeated.items(), key=lambda item: item[1])
    created = sum(_instances(trace).values())
    detail = f"flow {flow} got id {ctid} for {n} instances ({created} instances in all)"
    return MonitorResult(name, True, detail)


MONITORS: dict[str, Monitor] = {
    "no-event-after-destroy": no_event_after_destroy,
    "reliable-destroy-complete": reliable_destroy_complete,
    "no-duplicate-at-reliable": no_duplicate_at_reliable,
    "duplicates-at-unreliable": duplicates_at_unreliable,
    "count-bounded": count_bounded,
    "drops-while-full": drops_while_full,
    "id-reused": id_reused,
}

SAFETY = ("no-event-after-destroy", "reliable-destroy-complete", "no-duplicate-at-reliable")

EXPECTED: dict[str, dict[str, bool]] = {
    "reliable-flush": {name: True for name in SAFETY},
    "unreliable-flush": {"no-event-after-destroy": True},
    "table-full": {
        **{name: True for name in SAFETY},
        "count-bounded": True,
        "drops-while-full": True,
    },
    "slow-and-fast": {**{name: True for name in SAFETY}, "duplicates-at-unreliable": True},
    "expiry": {name: True for name in SAFETY},
    "tcp-events": {name: True for name in SAFETY},
    "events-sysctl": {"no-event-after-destroy": True},
    "listener-close": {"no-event-after-destroy": True, "no-duplicate-at-reliable": True},
    "id-reuse": {**{name: True for name in SAFETY}, "id-reused": True},
    "congestion": {"no-event-after-destroy": True},
    "netns-exit": {
        "no-event-after-destroy": True,
        "no-duplicate-at-reliable": True,
        "reliable-destroy-complete": False,
    },
}
"""Per scenario, the outcome each applicable monitor should have on 6.x (Linux 5.19 and later,
checked on 6.18; the README's "The live kernel" lists what was observed).

Monitors not listed for a scenario are informative there (for instance duplicates at an
unreliable listener are possible but not promised outside ``slow-and-fast``).
"""


@dataclass(frozen=True, slots=True)
class Verdict:
    """A monitor's result next to the outcome :data:`EXPECTED` predicts (``None``: no claim)."""

    result: MonitorResult
    expected: bool | None

    @property
    def as_expected(self) -> bool:
        if self.expected is None:
            return True
        return self.result.applicable and self.result.holds == self.expected


def check(trace: ObservedTrace, names: list[str] | None = None) -> list[MonitorResult]:
    """Run the named monitors (all by default) over one trace."""
    return [MONITORS[name](trace) for name in names or list(MONITORS)]


def verdicts(trace: ObservedTrace) -> list[Verdict]:
    """Every monitor on the trace, each with the outcome expected for its scenario.

    An expected monitor that finds nothing to judge is not as expected: the scenario did not
    produce what the claim is about, which is worth a look rather than a pass.
    """
    expected = EXPECTED.get(trace.scenario, {})
    return [Verdict(result, expected.get(result.name)) for result in check(trace)]


def format_verdicts(results: list[Verdict]) -> str:
    lines = []
    for verdict in results:
        r = verdict.result
        state = "n/a" if not r.applicable else ("holds" if r.holds else "fails")
        want = (
            ""
            if verdict.expected is None
            else f" (expected {'holds' if verdict.expected else 'fails'})"
        )
        mark = "ok " if verdict.as_expected else "BAD"
        lines.append(f"{mark} {r.name}: {state}{want} - {r.detail}")
    return "\n".join(lines)
