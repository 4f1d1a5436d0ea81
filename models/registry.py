"""The one registry of actions that every engine iterates.

An action is a pure function `(config, state, **args) -> state | None` plus the declarations
the engines need: its kind (kernel or environment), the variants that have it, the argument
domain to enumerate in a given state, and the state fields it may modify (the frame: every
other field is unchanged, which a test checks on generated states).

Two rules hold for all actions: nothing is enabled once the kernel has crashed, and while an
allocation waits for early_drop nothing else is.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from nfct_spec.models import core, ctnetlink, env, redelivery, smp
from nfct_spec.models.config import SYSCTLS, Config
from nfct_spec.models.observers import settle
from nfct_spec.models.sourcedoc import docstring
from nfct_spec.models.state import NO_TIMER, State, new_state
from nfct_spec.models.variants import variant_of

ArgValue = int | str | tuple[int, ...]
Args = tuple[tuple[str, ArgValue], ...]


class StepError(ValueError):
    """A step that no action of the model can take as written: an unknown action, or an
    argument that is missing, unexpected, of the wrong type or outside its declared domain."""


@dataclass(frozen=True)
class Step:
    """One step of a trace: the action's name and its arguments (in declaration order)."""

    action: str
    args: Args = ()

    @property
    def kwargs(self) -> dict[str, ArgValue]:
        """The arguments as keyword arguments for the action function."""
        return dict(self.args)

    def __str__(self) -> str:
        inner = ", ".join(f"{k}={list(v) if isinstance(v, tuple) else v!r}" for k, v in self.args)
        return f"{self.action}({inner})"

    def __reduce__(self) -> tuple[type[Step], tuple[str, Args]]:
        """Pickled by its constructor: a compiled frozen dataclass cannot be restored by
        assigning its fields (the proof workers send steps back to the parent)."""
        return (Step, (self.action, self.args))


Domain = Callable[[Config, State], Iterator[dict[str, ArgValue]]]
Check = Callable[[Config, object], str | None]
"""What is wrong with one argument value in a config (None if nothing)."""


@dataclass(frozen=True)
class Action:
    """A registry entry; the docstring of `fn` says what it models and what it leaves out.

    `params` declares each argument with the check of its static domain (what any state of
    the config could accept); `domain` enumerates the arguments worth trying in one state.
    """

    name: str
    fn: Callable[..., State | None]
    domain: Domain
    kind: str
    variants: frozenset[str]
    modifies: frozenset[str]
    params: tuple[tuple[str, Check], ...] = ()
    granularities: frozenset[str] = frozenset({"atomic", "smp"})
    """The granularities that have the action: a kernel function split into CPU-level steps
    is `atomic` only, and its steps are `smp` only (`nfct_spec.models.smp`)."""

    def exists_in(self, config: Config) -> bool:
        """The action is one of the config's: its variant and its granularity have it."""
        return config.variant in self.variants and config.granularity in self.granularities

    @property
    def doc(self) -> str:
        """The kernel citation and abstraction notes (the function's docstring)."""
        return docstring(self.fn).strip()

    @property
    def summary(self) -> str:
        """The first paragraph of the docstring, on one line."""
        return " ".join(self.doc.split("\n\n")[0].split())


def _int_in(low: int, high: Callable[[Config], int]) -> Check:
    def check(config: Config, value: object) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be an integer, got {value!r}"
        top = high(config)
        if not low <= value < top:
            return f"must be between {low} and {top - 1}, got {value}"
        return None

    return check


def _one_of(values: Callable[[Config], Sequence[str]]) -> Check:
    def check(config: Config, value: object) -> str | None:
        known = values(config)
        if value not in known:
            return f"must be one of {', '.join(known)}, got {value!r}"
        return None

    return check


def _order(config: Config, value: object) -> str | None:
    if not isinstance(value, tuple) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        return f"must be a list of slots, got {value!r}"
    if len(set(value)) != len(value) or not all(0 <= v < config.slots for v in value):
        return f"must list distinct slots between 0 and {config.slots - 1}, got {list(value)}"
    return None


def _sysctl_value(config: Config, value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return f"must be an integer, got {value!r}"
    return None


_FLOW = _int_in(0, lambda c: c.flows)
_SLOT = _int_in(0, lambda c: c.slots)
_SLOT_OR_NONE = _int_in(-1, lambda c: c.slots)
_PACKET = _one_of(lambda c: core.PACKETS)
_LISTENER = _one_of(lambda c: [listener.name for listener in c.listeners])
_REQUESTER = _one_of(lambda c: _requesters(c))
_SYSCTL = _one_of(lambda c: SYSCTLS)


def _none(config: Config, state: State) -> Iterator[dict[str, ArgValue]]:
    yield {}


def free_slots(state: State) -> list[int]:
    """The free slots a new conntrack can get, one per class of interchangeable ones.

    Free slots that nothing refers to (no queued message names them as a conntrack's id, no
    observer remembers them) are interchangeable: relabelling them maps every run to a run.
    So the lowest of them stands for all; free slots that something refers to are each listed,
    since reusing one reuses an id that a listener may still see.
    """
    kernel, ghost = state.kernel, state.ghost
    named = {m.slot for sock in kernel.sockets for m in sock.queue}
    named.update(r.slot for r in ghost.records)
    named.update(slot for slot, (flow, _) in enumerate(ghost.previous) if flow >= 0)
    out: list[int] = []
    fresh = False
    for slot, ct in enumerate(kernel.cts):
        if ct is not None or slot == kernel.alloc_slot:
            continue
        if slot in named:
            out.append(slot)
        elif not fresh:
            fresh = True
            out.append(slot)
    return out


def _flows_packets(config: Config, state: State) -> Iterator[dict[str, ArgValue]]:
    kernel = state.kernel
    free = free_slots(state)
    gc = variant_of(config.variant).gc_expiry
    pending = {ct.flow for slot in kernel.unconfirmed if (ct := kernel.cts[slot]) is not None}
    for flow in range(config.flows):
        if flow in pending:
            continue
        hashed = state.hashed_slot_of_flow(flow)
        ct = kernel.cts[hashed] if hashed >= 0 else None
        if ct is not None and not (gc and ct.timer == 0):
            for packet in core.PACKETS[1:]:
                if core.packet_bits(config, ct, packet) is not None:
                    yield {"flow": flow, "packet": packet, "slot": -1}
            continue
        slots = sorted({*free, hashed}) if ct is not None else free
        for slot in slots:
            yield {"flow": flow, "packet": "new", "slot": slot}


def _victims(config: Config, state: State) -> Iterator[dict[str, ArgValue]]:
    kernel = state.kernel
    if kernel.alloc_pending < 0:
        return
    yield {"victim": -1}
    for slot in kernel.hash:
        ct = kernel.cts[slot]
        if ct is not None and not ct.assured and ct.timer != NO_TIMER:
            yield {"victim": slot}


def _slots_on(attr: str) -> Domain:
    def domain(config: Config, state: State) -> Iterator[dict[str, ArgValue]]:
        for slot in sorted(getattr(state.kernel, attr)):
            yield {"slot": slot}

    return domain


def _expired(config: Config, state: State) -> Iterator[dict[str, ArgValue]]:
    cts = state.kernel.cts
    for slot in state.kernel.hash:
        ct = cts[slot]
        if ct is not None and ct.timer == 0:
            yield {"slot": slot}


def _retrying(config: Config, state: State) -> Iterator[dict[str, ArgValue]]:
    cts = state.kernel.cts
    for slot in sorted(state.kernel.dying):
        ct = cts[slot]
        if ct is not None and ct.timer >= 0:
            yield {"slot": slot}


def _requesters(config: Config) -> list[str]:
    return [*config.requesters, *(listener.name for listener in config.listeners)]


def _open_requesters(config: Config, state: State) -> list[str]:
    sockets = state.kernel.sockets
    return [
        *config.requesters,
        *(listener.name for i, listener in enumerate(config.listeners) if sockets[i].open),
    ]


def _flows_requesters(config: Config, state: State) -> Iterator[dict[str, ArgValue]]:
    if not state.kernel.hash:
        return
    requesters = _open_requesters(config, state)
    for flow in range(config.flows):
        if state.hashed_slot_of_flow(flow) < 0:
            continue
        for requester in requesters:
            yield {"flow": flow, "requester": requester}


def _flush_orders(config: Config, state: State) -> Iterator[dict[str, ArgValue]]:
    if not state.kernel.hash:
        return
    for requester in _open_requesters(config, state):
        for order in itertools.permutations(state.kernel.hash):
            yield {"requester": requester, "order": tuple(order)}


def _hashed_flows(config: Config, state: State) -> Iterator[dict[str, ArgValue]]:
    if not config.expectations:
        return
    cts = state.kernel.cts
    for flow in sorted({ct.flow for slot in state.kernel.hash if (ct := cts[slot]) is not None}):
        yield {"flow": flow}


def _readers(config: Config, state: State) -> Iterator[dict[str, ArgValue]]:
    for sock, listener in zip(state.kernel.sockets, config.listeners, strict=True):
        if sock.open and (sock.sk_err or sock.queue):
            yield {"listener": listener.name}


def _churn(opening: bool) -> Domain:
    def domain(config: Config, state: State) -> Iterator[dict[str, ArgValue]]:
        if not config.listener_churn:
            return
        for sock, listener in zip(state.kernel.sockets, config.listeners, strict=True):
            if sock.open != opening:
                yield {"listener": listener.name}

    return domain


def _sysctls(config: Config, state: State) -> Iterator[dict[str, ArgValue]]:
    for name, value in config.sysctl_writes:
        yield {"name": name, "value": value}


def _fault(config: Config, state: State) -> Iterator[dict[str, ArgValue]]:
    if "build_failure" in config.faults and not state.kernel.build_fail_armed:
        yield {}


def _exit_orders(config: Config, state: State) -> Iterator[dict[str, ArgValue]]:
    """The orders in which the exit loop may kill the hashed conntracks: every permutation
    in 2.6.x, where the order decides which DESTROYs fail; the sorted one in 6.x, where no
    DESTROY is sent and every order leads to the same state."""
    kernel = state.kernel
    if not config.netns_exit or kernel.exiting or kernel.unconfirmed:
        return
    if variant_of(config.variant).single_winner_delete:
        yield {"order": kernel.hash}
        return
    for order in itertools.permutations(kernel.hash):
        yield {"order": tuple(order)}


def _calls_at(*pcs: str) -> Domain:
    """The in-progress calls at one of these program points (identical calls once)."""

    def domain(config: Config, state: State) -> Iterator[dict[str, ArgValue]]:
        calls = state.kernel.calls
        for index, call in enumerate(calls):
            if call.pc in pcs and (index == 0 or calls[index - 1] != call):
                yield {"call": index}

    return domain


def _corpses(config: Config, state: State) -> Iterator[dict[str, ArgValue]]:
    for args in _calls_at("next_corpse")(config, state):
        for slot in state.kernel.hash:
            yield {**args, "slot": slot}


def _due(config: Config, state: State) -> Iterator[dict[str, ArgValue]]:
    for slot, ct in enumerate(state.kernel.cts):
        if ct is not None and ct.timer == 0:
            yield {"slot": slot}


def _flush_requesters(config: Config, state: State) -> Iterator[dict[str, ArgValue]]:
    if not config.flush or not state.kernel.hash:
        return
    for requester in _open_requesters(config, state):
        yield {"requester": requester}


ALL = frozenset({"2.6.30", "2.6.31", "6.x"})
OLD = frozenset({"2.6.30", "2.6.31"})
RETRY_TIMER = frozenset({"2.6.31"})
EVENTS_SYSCTL = frozenset({"2.6.31", "6.x"})
MAINLINE = frozenset({"6.x"})
_CT = frozenset({"kernel.cts"})
_LISTS = frozenset({"kernel.hash", "kernel.unconfirmed", "kernel.dying", "kernel.ct_count"})
_WORK = frozenset({"kernel.worker", "kernel.dwork_pending"})
_SEND = frozenset({"kernel.sockets", "kernel.build_fail_armed", "ghost.records", "ghost.exp_lost"})
_DEATH = (
    _CT | _LISTS | _SEND | _WORK | frozenset({"kernel.crashed", "ghost.deaths", "ghost.previous"})
)
_ALLOC = frozenset({"kernel.alloc_pending", "kernel.alloc_slot", "ghost.next_uid"})
_COLLECT = frozenset({"kernel.sockets", "ghost.records", "ghost.deaths"})
_SMP = frozenset({"kernel.calls", "kernel.refs"})
_CALL = _int_in(0, lambda c: c.cpus)
ATOMIC = frozenset({"atomic"})
SMP = frozenset({"smp"})


def _a(
    name: str,
    fn: Callable[..., State | None],
    domain: Domain,
    kind: str,
    variants: frozenset[str],
    modifies: frozenset[str],
    *params: tuple[str, Check],
    granularities: frozenset[str] = frozenset({"atomic", "smp"}),
) -> Action:
    return Action(name, fn, domain, kind, variants, modifies, params, granularities)


def _step(name: str, fn: Callable[..., State | None], *pcs: str) -> Action:
    """A CPU-level step of a call in progress (granularity smp, 2.6.31)."""
    return _a(
        name,
        fn,
        _calls_at(*pcs),
        "kernel",
        RETRY_TIMER,
        _DEATH | _SMP,
        ("call", _CALL),
        granularities=SMP,
    )


ACTIONS: tuple[Action, ...] = (
    _a(
        "nf_conntrack_in",
        core.nf_conntrack_in,
        _flows_packets,
        "kernel",
        ALL,
        _DEATH | _ALLOC | _SMP,
        ("flow", _FLOW),
        ("packet", _PACKET),
        ("slot", _SLOT_OR_NONE),
    ),
    _a(
        "early_drop",
        core.early_drop,
        _victims,
        "kernel",
        ALL,
        _DEATH | _ALLOC | _SMP,
        ("victim", _SLOT_OR_NONE),
    ),
    _a(
        "__nf_conntrack_confirm",
        core.__nf_conntrack_confirm,
        _slots_on("unconfirmed"),
        "kernel",
        ALL,
        _CT
        | _LISTS
        | _SEND
        | _SMP
        | frozenset({"ghost.previous", "ghost.deaths", "kernel.crashed"}),
        ("slot", _SLOT),
    ),
    _a(
        "destroy_conntrack",
        core.destroy_conntrack,
        _slots_on("unconfirmed"),
        "kernel",
        ALL,
        _CT
        | _LISTS
        | _SMP
        | frozenset({"ghost.records", "ghost.deaths", "ghost.previous", "kernel.crashed"}),
        ("slot", _SLOT),
    ),
    _a(
        "death_by_timeout",
        core.death_by_timeout,
        _expired,
        "kernel",
        OLD,
        _DEATH,
        ("slot", _SLOT),
        granularities=ATOMIC,
    ),
    _a(
        "death_by_event",
        core.death_by_event,
        _retrying,
        "kernel",
        RETRY_TIMER,
        _DEATH | _SMP,
        ("slot", _SLOT),
    ),
    _a(
        "nf_ct_release_dying_list",
        core.nf_ct_release_dying_list,
        _none,
        "kernel",
        RETRY_TIMER,
        _DEATH | _SMP,
    ),
    _a(
        "gc_worker",
        redelivery.gc_worker,
        _expired,
        "kernel",
        MAINLINE,
        _DEATH,
        ("slot", _SLOT),
    ),
    _a("ecache_work", redelivery.ecache_work, _none, "kernel", MAINLINE, _DEATH),
    _a(
        "ctnetlink_del_conntrack",
        ctnetlink.ctnetlink_del_conntrack,
        _flows_requesters,
        "kernel",
        ALL,
        _DEATH,
        ("flow", _FLOW),
        ("requester", _REQUESTER),
        granularities=ATOMIC,
    ),
    _a(
        "nf_conntrack_flush_report",
        ctnetlink.nf_conntrack_flush_report,
        _flush_orders,
        "kernel",
        ALL,
        _DEATH,
        ("requester", _REQUESTER),
        ("order", _order),
        granularities=ATOMIC,
    ),
    _a(
        "nf_ct_expect_related",
        core.nf_ct_expect_related,
        _hashed_flows,
        "kernel",
        ALL,
        _SEND,
        ("flow", _FLOW),
    ),
    _a(
        "ctnetlink_del_conntrack_lookup",
        smp.ctnetlink_del_lookup,
        _flows_requesters,
        "kernel",
        RETRY_TIMER,
        _DEATH | _SMP,
        ("flow", _FLOW),
        ("requester", _REQUESTER),
        granularities=SMP,
    ),
    _a(
        "death_by_timeout_expire",
        smp.death_by_timeout_expire,
        _due,
        "kernel",
        RETRY_TIMER,
        _DEATH | _SMP,
        ("slot", _SLOT),
        granularities=SMP,
    ),
    _a(
        "nf_conntrack_flush_report_start",
        smp.flush_start,
        _flush_requesters,
        "kernel",
        RETRY_TIMER,
        _DEATH | _SMP,
        ("requester", _REQUESTER),
        granularities=SMP,
    ),
    _a(
        "get_next_corpse",
        smp.flush_next_corpse,
        _corpses,
        "kernel",
        RETRY_TIMER,
        _DEATH | _SMP,
        ("call", _CALL),
        ("slot", _SLOT),
        granularities=SMP,
    ),
    _step("get_next_corpse_found", smp.flush_found, "found"),
    _step("nf_conntrack_flush_report_done", smp.flush_done, "next_corpse"),
    _step("del_timer", smp.del_timer, "del_timer"),
    _step("test_bit_dying", smp.test_dying, "test_dying"),
    _step("nf_conntrack_event_report", smp.report_destroy, "report"),
    _step("set_bit_dying", smp.set_dying, "set_dying"),
    _step("nf_ct_delete_from_lists", smp.unlink, "unlink"),
    _step("nf_ct_insert_dying_list", smp.insert_dying, "insert_dying"),
    _step("nf_ct_put", smp.put, "put", "put_base"),
    _a(
        "ecache_work_evict_list",
        smp.ecache_work_evict_list,
        _none,
        "kernel",
        RETRY_TIMER,
        _DEATH | _SMP,
        granularities=SMP,
    ),
    _a(
        "env_recv",
        env.env_recv,
        _readers,
        "env",
        ALL,
        _COLLECT | frozenset({"ghost.previous"}),
        ("listener", _LISTENER),
    ),
    _a(
        "env_listener_open",
        env.env_listener_open,
        _churn(opening=True),
        "env",
        ALL,
        frozenset({"kernel.sockets", "ghost.records", "ghost.previous"}),
        ("listener", _LISTENER),
    ),
    _a(
        "env_listener_close",
        env.env_listener_close,
        _churn(opening=False),
        "env",
        ALL,
        _COLLECT,
        ("listener", _LISTENER),
    ),
    _a(
        "env_sysctl_write",
        env.env_sysctl_write,
        _sysctls,
        "env",
        EVENTS_SYSCTL,
        frozenset({"kernel.nf_conntrack_events", "kernel.events_retry_timeout"}),
        ("name", _SYSCTL),
        ("value", _sysctl_value),
    ),
    _a(
        "env_fault_arm",
        env.env_fault_arm,
        _fault,
        "env",
        ALL,
        frozenset({"kernel.build_fail_armed"}),
    ),
    _a("env_tick", env.env_tick, _none, "env", ALL, _CT | frozenset({"kernel.worker"})),
    _a(
        "env_netns_exit",
        env.env_netns_exit,
        _exit_orders,
        "env",
        ALL,
        _DEATH | frozenset({"kernel.exiting"}),
        ("order", _order),
        granularities=ATOMIC,
    ),
)

BY_NAME: Mapping[str, Action] = {action.name: action for action in ACTIONS}


@cache
def actions_for(variant: str) -> tuple[Action, ...]:
    """The registry entries of one variant at the atomic granularity, in registry order."""
    return tuple(
        action
        for action in ACTIONS
        if variant in action.variants and "atomic" in action.granularities
    )


@cache
def _smp_actions_for(variant: str) -> tuple[Action, ...]:
    return tuple(
        action for action in ACTIONS if variant in action.variants and "smp" in action.granularities
    )


def actions_of(config: Config) -> tuple[Action, ...]:
    """The registry entries of a config (its variant and granularity), in registry order."""
    if config.granularity == "atomic":
        return actions_for(config.variant)
    return _smp_actions_for(config.variant)


def check_step(config: Config, step: Step) -> Action:
    """The action of `step` after checking its arguments against the declared domains;
    StepError names the action or the argument that is wrong."""
    action = BY_NAME.get(step.action)
    if action is None:
        raise StepError(f"unknown action {step.action!r}")
    if config.variant not in action.variants:
        raise StepError(f"action {step.action!r} does not exist in variant {config.variant}")
    if config.granularity not in action.granularities:
        raise StepError(
            f"action {step.action!r} does not exist at granularity {config.granularity}"
        )
    given = dict(step.args)
    names = [name for name, _ in action.params]
    for name in given:
        if name not in names:
            raise StepError(f"{step.action}: unexpected argument {name!r}")
    for name, check in action.params:
        if name not in given:
            raise StepError(f"{step.action}: missing argument {name!r}")
        problem = check(config, given[name])
        if problem is not None:
            raise StepError(f"{step.action}: argument {name!r} {problem}")
    return action


def apply(config: Config, state: State, step: Step) -> State | None:
    """The successor of `state` by `step`, or None if the step is not enabled.

    The step's arguments are checked first (StepError if they are not in the declared
    domains). Whatever the action itself raises propagates: a fault in the model must never
    look like a disabled step.
    """
    return _apply(config, state, check_step(config, step), step)


def take(config: Config, state: State, step: Step) -> State | None:
    """The successor of `state` by a step an engine enumerated itself (from an action's own
    domain, in this or another state of the config), or None if it is not enabled here.

    Its arguments are not checked again: a domain only yields values of the declared static
    domains. The partial-order reduction takes the steps of one state in another, on the hot
    path of the search."""
    return _apply(config, state, BY_NAME[step.action], step)


def _apply(config: Config, state: State, action: Action, step: Step) -> State | None:
    if state.kernel.crashed:
        return None
    if state.kernel.alloc_pending >= 0 and action.name != "early_drop":
        return None
    if _waits_for_lock(state, action):
        return None
    return action.fn(config, settled(state), **step.kwargs)


def _waits_for_lock(state: State, action: Action) -> bool:
    """An atomic kernel step waits while a call in progress holds nf_conntrack_lock (smp)."""
    return (
        bool(state.kernel.calls)
        and action.kind == "kernel"
        and "atomic" in action.granularities
        and smp.lock_holder(state) >= 0
    )


def settled(state: State) -> State:
    """The state as a step starts from it: the previous step's freed records dropped."""
    ghost = state.ghost
    return new_state(state.kernel, settle(ghost)) if ghost.freed else state


def enabled_steps(config: Config, state: State, action: Action) -> Iterator[tuple[Step, State]]:
    """Every enabled step of one action in `state`, with its successor, in domain order."""
    return _enabled(config, state, (action,))


def _enabled(
    config: Config, state: State, actions: tuple[Action, ...]
) -> Iterator[tuple[Step, State]]:
    """Every enabled step of `actions` in `state`, in their order then domain order. One
    generator for all of them: the checks that concern the state alone (crashed, an allocation
    waiting for early_drop, the previous step's freed records) are made once, not once per
    action, and no generator is set up per action (a state is tried against some twenty)."""
    kernel = state.kernel
    if kernel.crashed:
        return
    waiting = kernel.alloc_pending >= 0
    state = settled(state)
    for action in actions:
        if waiting and action.name != "early_drop":
            continue
        if _waits_for_lock(state, action):
            continue
        fn, name = action.fn, action.name
        for kwargs in action.domain(config, state):
            successor = fn(config, state, **kwargs)
            if successor is not None:
                yield _interned_step(name, tuple(kwargs.items())), successor


_STEPS: dict[tuple[str, Args], Step] = {}
"""Every step the registry has given, by action and arguments. A config has a few hundred
distinct steps and a search meets each millions of times: a look-up here is cheaper than
building the frozen dataclass again, and equal steps are then one object (shared by the
graphs that store them)."""


def _interned_step(action: str, args: Args) -> Step:
    key = (action, args)
    found = _STEPS.get(key)
    if found is None:
        found = _STEPS[key] = Step(action, args)
    return found


def successors(config: Config, state: State) -> Iterator[tuple[Step, State]]:
    """Every enabled step in `state`, in registry then domain order (deterministic)."""
    return _enabled(config, state, actions_of(config))


def step_from_json(data: Mapping[str, Any]) -> Step:
    """A Step from `{"action": name, "args": {...}}` (lists become tuples); StepError when
    the shape is wrong (an argument that is not an integer, a string or a list of integers)."""
    action, raw = data.get("action"), data.get("args", {})
    if not isinstance(action, str) or not isinstance(raw, dict):
        raise StepError("a step needs an action name and an object of arguments")
    args: list[tuple[str, ArgValue]] = []
    for name, value in raw.items():
        if isinstance(value, list) and all(_is_int(v) for v in value):
            args.append((str(name), tuple(value)))
        elif _is_int(value) or isinstance(value, str):
            args.append((str(name), value))
        else:
            raise StepError(f"{action}: argument {name!r} has an unexpected value {value!r}")
    return Step(action, tuple(args))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def step_to_json(step: Step) -> dict[str, Any]:
    """The JSON form of a step: action name and an args object."""
    return {
        "action": step.action,
        "args": {k: list(v) if isinstance(v, tuple) else v for k, v in step.args},
    }
