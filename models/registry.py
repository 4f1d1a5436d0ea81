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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from nfct_spec.models import core, ctnetlink, env, redelivery
from nfct_spec.models.config import Config
from nfct_spec.models.state import State

ArgValue = int | str | tuple[int, ...]
Args = tuple[tuple[str, ArgValue], ...]


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


Domain = Callable[[Config, State], Iterator[dict[str, ArgValue]]]


@dataclass(frozen=True)
class Action:
    """A registry entry; the docstring of `fn` says what it models and what it leaves out."""

    name: str
    fn: Callable[..., State | None]
    domain: Domain
    kind: str
    variants: frozenset[str]
    modifies: frozenset[str]

    @property
    def doc(self) -> str:
        """The kernel citation and abstraction notes (the function's docstring)."""
        return (self.fn.__doc__ or "").strip()

    @property
    def summary(self) -> str:
        """The first paragraph of the docstring, on one line."""
        return " ".join(self.doc.split("\n\n")[0].split())


def _none(config: Config, state: State) -> Iterator[dict[str, ArgValue]]:
    yield {}


def _flows_packets(config: Config, state: State) -> Iterator[dict[str, ArgValue]]:
    for flow in range(config.flows):
        for packet in core.PACKETS:
            yield {"flow": flow, "packet": packet}


def _victims(config: Config, state: State) -> Iterator[dict[str, ArgValue]]:
    yield {"victim": -1}
    for uid in sorted(state.kernel.hash):
        yield {"victim": uid}


def _uids(attr: str) -> Domain:
    def domain(config: Config, state: State) -> Iterator[dict[str, ArgValue]]:
        for uid in sorted(getattr(state.kernel, attr)):
            yield {"uid": uid}

    return domain


def _requesters(config: Config) -> list[str]:
    return [*config.requesters, *(listener.name for listener in config.listeners)]


def _flows_requesters(config: Config, state: State) -> Iterator[dict[str, ArgValue]]:
    for flow in range(config.flows):
        for requester in _requesters(config):
            yield {"flow": flow, "requester": requester}


def _flush_orders(config: Config, state: State) -> Iterator[dict[str, ArgValue]]:
    for requester in _requesters(config):
        for order in itertools.permutations(sorted(state.kernel.hash)):
            yield {"requester": requester, "order": tuple(order)}


def _flows(config: Config, state: State) -> Iterator[dict[str, ArgValue]]:
    for flow in range(config.flows):
        yield {"flow": flow}


def _listeners(config: Config, state: State) -> Iterator[dict[str, ArgValue]]:
    for listener in config.listeners:
        yield {"listener": listener.name}


def _sysctls(config: Config, state: State) -> Iterator[dict[str, ArgValue]]:
    for name, value in config.sysctl_writes:
        yield {"name": name, "value": value}


ALL = frozenset({"2.6.30", "2.6.31", "6.x"})
OLD = frozenset({"2.6.30", "2.6.31"})
RETRY_TIMER = frozenset({"2.6.31"})
EVENTS_SYSCTL = frozenset({"2.6.31", "6.x"})
MAINLINE = frozenset({"6.x"})
_CT = frozenset({"kernel.cts"})
_LISTS = frozenset({"kernel.hash", "kernel.unconfirmed", "kernel.dying", "kernel.count"})
_WORK = frozenset({"kernel.worker", "kernel.dwork_pending"})
_SEND = frozenset(
    {
        "kernel.sockets",
        "kernel.build_fail_armed",
        "ghost.dropped",
        "ghost.exp_lost",
        "ghost.pending",
        "ghost.reporting",
    }
)
_DEATH = (
    _CT | _LISTS | _SEND | _WORK | frozenset({"kernel.crashed", "ghost.deaths", "ghost.generated"})
)
_ALLOC = frozenset({"kernel.alloc_pending", "ghost.identity", "ghost.generated", "ghost.pending"})


def _a(
    name: str,
    fn: Callable[..., State | None],
    domain: Domain,
    kind: str,
    variants: frozenset[str],
    modifies: frozenset[str],
) -> Action:
    return Action(name, fn, domain, kind, variants, modifies)


ACTIONS: tuple[Action, ...] = (
    _a("nf_conntrack_in", core.nf_conntrack_in, _flows_packets, "kernel", ALL, _DEATH | _ALLOC),
    _a("early_drop", core.early_drop, _victims, "kernel", ALL, _DEATH | _ALLOC),
    _a(
        "__nf_conntrack_confirm",
        core.__nf_conntrack_confirm,
        _uids("unconfirmed"),
        "kernel",
        ALL,
        _CT | _LISTS | _SEND,
    ),
    _a(
        "destroy_conntrack",
        core.destroy_conntrack,
        _uids("unconfirmed"),
        "kernel",
        ALL,
        _CT | _LISTS,
    ),
    _a("death_by_timeout", core.death_by_timeout, _uids("hash"), "kernel", OLD, _DEATH),
    _a("death_by_event", core.death_by_event, _uids("dying"), "kernel", RETRY_TIMER, _DEATH),
    _a("gc_worker", redelivery.gc_worker, _uids("hash"), "kernel", MAINLINE, _DEATH),
    _a("ecache_work", redelivery.ecache_work, _none, "kernel", MAINLINE, _DEATH),
    _a(
        "ctnetlink_del_conntrack",
        ctnetlink.ctnetlink_del_conntrack,
        _flows_requesters,
        "kernel",
        ALL,
        _DEATH,
    ),
    _a(
        "nf_conntrack_flush_report",
        ctnetlink.nf_conntrack_flush_report,
        _flush_orders,
        "kernel",
        ALL,
        _DEATH,
    ),
    _a("nf_ct_expect_related", core.nf_ct_expect_related, _flows, "kernel", ALL, _SEND),
    _a(
        "env_recv", env.env_recv, _listeners, "env", ALL, frozenset({"kernel.sockets", "ghost.got"})
    ),
    _a(
        "env_listener_open",
        env.env_listener_open,
        _listeners,
        "env",
        ALL,
        frozenset({"kernel.sockets", "ghost.got", "ghost.dropped", "ghost.since"}),
    ),
    _a(
        "env_listener_close",
        env.env_listener_close,
        _listeners,
        "env",
        ALL,
        frozenset({"kernel.sockets"}),
    ),
    _a(
        "env_sysctl_write",
        env.env_sysctl_write,
        _sysctls,
        "env",
        EVENTS_SYSCTL,
        frozenset({"kernel.nf_conntrack_events", "kernel.events_retry_timeout"}),
    ),
    _a(
        "env_fault_arm",
        env.env_fault_arm,
        _none,
        "env",
        ALL,
        frozenset({"kernel.build_fail_armed"}),
    ),
    _a("env_tick", env.env_tick, _none, "env", ALL, _CT | frozenset({"kernel.worker"})),
)

BY_NAME: Mapping[str, Action] = {action.name: action for action in ACTIONS}


def actions_for(variant: str) -> tuple[Action, ...]:
    """The registry entries of one variant, in registry order."""
    return tuple(action for action in ACTIONS if variant in action.variants)


def apply(config: Config, state: State, step: Step) -> State | None:
    """The successor of `state` by `step`, or None if the step is not enabled."""
    action = BY_NAME.get(step.action)
    if action is None or config.variant not in action.variants:
        return None
    if state.kernel.crashed:
        return None
    if state.kernel.alloc_pending >= 0 and action.name != "early_drop":
        return None
    try:
        return action.fn(config, state, **step.kwargs)
    except TypeError:
        return None


def enabled_steps(config: Config, state: State, action: Action) -> Iterator[tuple[Step, State]]:
    """Every enabled step of one action in `state`, with its successor, in domain order."""
    for kwargs in action.domain(config, state):
        step = Step(action.name, tuple(kwargs.items()))
        successor = apply(config, state, step)
        if successor is not None:
            yield step, successor


def successors(config: Config, state: State) -> Iterator[tuple[Step, State]]:
    """Every enabled step in `state`, in registry then domain order (deterministic)."""
    for action in actions_for(config.variant):
        yield from enabled_steps(config, state, action)


def step_from_json(data: Mapping[str, Any]) -> Step:
    """A Step from `{"action": name, "args": {...}}` (lists become tuples)."""
    args = tuple(
        (str(k), tuple(v) if isinstance(v, list) else v) for k, v in dict(data["args"]).items()
    )
    return Step(str(data["action"]), args)


def step_to_json(step: Step) -> dict[str, Any]:
    """The JSON form of a step: action name and an args object."""
    return {
        "action": step.action,
        "args": {k: list(v) if isinstance(v, tuple) else v for k, v in step.args},
    }
