"""Fairness assumptions for liveness, as named records, and the bounded fair drain.

`destroy-eventually` and `expiry-eventually` are stated under the strongest set below; each
weaker set drops one record, and the engines that search for lassos (explorer, Z3) show what
fails without it (for `destroy-eventually`).
The Hypothesis engine checks the bounded form: from any sampled state, once traffic stops and
the fair steps run, every obligation is met within a bound.

Why timer handlers and reads are under strong fairness, and ticks and pending packets under
weak: a kernel timer fires at its deadline whatever else happens, and a listener is a process of
its own. In the model an allocation that waits for early_drop disables every other step (in the
kernel the allocation and its early drop are one call), so new packets that keep arriving and
being dropped disable a due retry, or a read, again and again; weak fairness would then let it
starve, which no kernel run does. Strong fairness on them excludes exactly that.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from nfct_spec.models.bits import GROUP_DESTROY
from nfct_spec.models.config import Config
from nfct_spec.models.registry import BY_NAME, Step, enabled_steps
from nfct_spec.models.state import State, is_deadlock
from nfct_spec.spec.properties import freed_records


@dataclass(frozen=True)
class Fairness:
    """One assumption about the environment or the scheduler."""

    id: str
    statement: str
    actions: tuple[str, ...]
    strong: tuple[str, ...] = ()
    """The actions of `actions` under strong fairness (an instance enabled infinitely often is
    taken infinitely often); the others are under weak fairness (an instance enabled
    continuously from some point on is taken infinitely often)."""


LISTENERS_READ = Fairness(
    "listeners-read",
    "every open listener that has a pending message or error again and again eventually reads "
    "(strong fairness)",
    ("env_recv",),
    strong=("env_recv",),
)
TIMERS_FIRE = Fairness(
    "timers-fire",
    "time advances (weak fairness) and every timer handler that is enabled again and again "
    "eventually runs (strong fairness)",
    ("env_tick", "death_by_timeout", "death_by_event", "gc_worker", "ecache_work"),
    strong=("death_by_timeout", "death_by_event", "gc_worker", "ecache_work"),
)
PACKETS_COMPLETE = Fairness(
    "packets-complete",
    "a packet in flight is eventually confirmed, and a waiting allocation finishes its early drop",
    ("early_drop", "__nf_conntrack_confirm"),
)
TRAFFIC_STOPS = Fairness(
    "traffic-stops",
    "eventually no packet arrives and no userspace request or sysctl write is made",
    (),
)
TRAFFIC_ACTIONS = frozenset(
    {
        "nf_conntrack_in",
        "ctnetlink_del_conntrack",
        "nf_conntrack_flush_report",
        "nf_ct_expect_related",
        "env_sysctl_write",
        "env_listener_open",
        "env_listener_close",
        "env_fault_arm",
        "env_netns_exit",
        "nf_ct_release_dying_list",
    }
)
"""The registry actions that `traffic-stops` stops: packets, userspace requests and
environment inputs (a namespace's deletion among them, and so the exit of another namespace,
nf_ct_release_dying_list()). Everything else is kernel work that
follows from them (confirmation, early drop, timers) or a listener reading. A fact of the
assumption itself, so the explorer's lasso check and the Z3 liveness proofs read the same
set."""
RETRY_POSITIVE = Fairness(
    "retry-timeout-positive",
    "the retry timeout sysctl is never 0 (the kernel would crash instead)",
    (),
)
FAIRNESS = (LISTENERS_READ, TIMERS_FIRE, PACKETS_COMPLETE, TRAFFIC_STOPS, RETRY_POSITIVE)
"""The records `destroy-eventually` is stated under."""

READS_BEFORE_RETRIES = Fairness(
    "reads-before-retries",
    "a retry runs only when no open listener has a message or error left to read",
    ("env_recv",),
)
"""A stronger assumption than `listeners-read`, not part of the stated fairness: the Z3 ranking
proof of `destroy-eventually` needs it (a retry that fires while a reliable queue is full fails
and re-arms, and the measure does not decrease). With two reliable listeners the property fails
without it: each retry can fail on the listener that has not read yet and refill the other."""

DRAIN_ORDER = (
    "early_drop",
    "__nf_conntrack_confirm",
    "env_recv",
    "death_by_event",
    "ecache_work",
    "death_by_timeout",
    "gc_worker",
    "env_tick",
)
DRAIN_BOUND = 400


def drain(config: Config, state: State, bound: int = DRAIN_BOUND) -> list[tuple[Step, State]]:
    """Run only the fair steps (pending kernel work, then reads, then timer handlers, then
    ticks) until none is enabled or `bound` steps were taken; returns the steps with their
    successors."""
    path: list[tuple[Step, State]] = []
    while len(path) < bound:
        for name in DRAIN_ORDER:
            action = BY_NAME[name]
            if not action.exists_in(config):
                continue
            step = next(iter(enabled_steps(config, state, action)), None)
            if step is not None:
                path.append(step)
                state = step[1]
                break
        else:
            return path
    return path


def obligation_broken(config: Config, pre: State, step: Step, post: State) -> bool:
    """The step frees a conntrack that reported events while a reliable listener (BE,
    subscribed to DESTROY, open) that was open when the conntrack was created has neither
    read nor queued its DESTROY: nothing can make up for it later."""
    for record in freed_records(pre, post):
        if not record.reporting:
            continue
        for i, listener in enumerate(config.listeners):
            if not (listener.broadcast_error and GROUP_DESTROY in listener.groups):
                continue
            if not post.kernel.sockets[i].open:
                continue
            seen = record.seen[i]
            if seen.owed and not seen.has_destroy:
                return True
    return False


def dying_slots(state: State) -> tuple[int, ...]:
    """The conntracks `destroy-eventually` follows: those on the dying list."""
    return state.kernel.dying


def allocated_slots(state: State) -> tuple[int, ...]:
    """The conntracks `expiry-eventually` follows: every allocated one (unconfirmed, hashed or
    dying)."""
    return tuple(slot for slot, ct in enumerate(state.kernel.cts) if ct is not None)


HELD: dict[str, Callable[[State], tuple[int, ...]]] = {
    "destroy-eventually": dying_slots,
    "expiry-eventually": allocated_slots,
}
"""Per liveness property, the conntracks it says are eventually freed (with their DESTROY
read: `obligation_broken` is shared). `expiry-eventually` follows every allocated conntrack, so
it also says that once traffic stops each one expires, by its timer (2.6.x) or the gc worker
(6.x), both under `timers-fire`; `destroy-eventually` only follows those already dying."""
LIVENESS = tuple(HELD)


def obligations_met(config: Config, end: State, prop_id: str) -> bool:
    """At the end of a drain: no conntrack `prop_id` follows is left and the kernel is up (a
    conntrack freed without its DESTROY is caught at the step that frees it, by
    `obligation_broken`)."""
    return not HELD[prop_id](end) and not end.kernel.crashed


def unmet(config: Config, start: State, path: Sequence[tuple[Step, State]], prop_id: str) -> bool:
    """Whether a run from `start` along `path` leaves an obligation of `prop_id` unmet: some
    step breaks one, or the run ends short of `obligations_met`."""
    pre = start
    for step, post in path:
        if obligation_broken(config, pre, step, post):
            return True
        pre = post
    return not obligations_met(config, pre, prop_id)


def assumptions_hold(config: Config, state: State) -> bool:
    """The sampled prefix respects `retry-timeout-positive`: the retry timeout is positive, so
    the kernel has not crashed dividing by it (nor faulted otherwise). A deadlock is assumed
    away by no record: a kernel stuck on a lock (`nfct_spec.models.state.DEADLOCK`) stutters
    there for ever, and the liveness entries judge that like any other stop."""
    crashed = state.kernel.crashed
    return (not crashed or is_deadlock(crashed)) and (
        config.variant != "2.6.31" or state.kernel.events_retry_timeout > 0
    )
