"""Model states where the encoding is compared with the model: random walks over the registry
from the initial state of a preset, or of a config made to reach rare steps.

A walk is a plan (a preset, a variant and the choice taken at each state), so that the
agreement tests can draw plans with Hypothesis (a failing example prints in one line) and the
guard of the Z3 engine (`nfct_spec.proofs.guard`) can draw them from a seeded generator;
`visit` replays a plan into states with all their enabled steps.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from nfct_spec.models.config import Config
from nfct_spec.models.presets import preset
from nfct_spec.models.registry import Step, successors
from nfct_spec.models.state import State, initial_state

WALK_PRESETS = ("ci", "faults", "deep", "crowded", "crowded")
VARIANTS = ("2.6.30", "2.6.31", "2.6.31")
"""2.6.31 twice: of the 2.6.x variants only it has the dying list and retries."""
WALK_PRESETS_6X = ("ci", "faults", "deep", "crowded", "crowded-fixed", "crowded-relock")
"""6.x walks: the worker as shipped, with the posted ecache_work() fix, and the version under
review that takes dying_lock twice at a batch end."""
RARE_ENV = ("env_listener_open", "env_listener_close", "env_sysctl_write", "env_fault_arm")
PROGRESS = (
    "death_by_timeout",
    "death_by_event",
    "gc_worker",
    "ecache_work",
    "env_tick",
    "__nf_conntrack_confirm",
    "nf_ct_release_dying_list",
)
"""Walks favour these (two choices in five) and pick the rare environment steps only at one
choice in five, so that expiries, retries, redeliveries and early drops are frequent."""


SMP_WALK_ERAS: dict[str, dict[str, bool]] = {
    "smp": {},
    "smp-delete-guard": {"delete_takes_timer": True},
    "smp-iterator-guard": {"delete_takes_timer": True, "iterator_takes_timer": True},
    "smp-ecache-timer": {"delete_takes_timer": True, "retry_timer_separate": True},
    "smp-dying-worker": {
        "delete_takes_timer": True,
        "iterator_takes_timer": True,
        "retry_timer_separate": True,
        "retry_by_worker": True,
    },
    "smp-test-and-set": {
        "delete_takes_timer": True,
        "iterator_takes_timer": True,
        "retry_timer_separate": True,
        "retry_by_worker": True,
        "delete_test_and_set_dying": True,
    },
    "smp-ecache-state": {
        "delete_takes_timer": True,
        "iterator_takes_timer": True,
        "retry_timer_separate": True,
        "retry_by_worker": True,
        "delete_test_and_set_dying": True,
        "ecache_destroy_state": True,
    },
    "smp-netns-exit": {"other_netns_exit": True},
    "smp-netns-exit-delete-guard": {"other_netns_exit": True, "delete_takes_timer": True},
    "smp-netns-exit-iterator-guard": {
        "other_netns_exit": True,
        "delete_takes_timer": True,
        "iterator_takes_timer": True,
    },
}
"""The smp walks (2.6.31): each kernel era's flags (`nfct_spec.models.smp`), and as released
with another namespace's exit (`Config.other_netns_exit`), on `smp_crowded`."""


@dataclass(frozen=True)
class WalkPlan:
    """A preset, a variant and the index of the step taken at each state (modulo)."""

    preset: str
    variant: str
    choices: tuple[int, ...]

    @property
    def config(self) -> Config:
        """The walk's config."""
        if self.preset == "crowded":
            return crowded(self.variant)
        if self.preset == "crowded-fixed":
            return crowded_fixed(self.variant)
        if self.preset == "crowded-relock":
            return crowded_fixed(self.variant).with_(
                name="crowded-relock", worker_relocks_twice=True, ecache_batch=2
            )
        if self.preset in SMP_WALK_ERAS:
            return smp_crowded(self.preset)
        return preset(self.preset, self.variant)


def crowded(variant: str) -> Config:
    """A config where early drops, expiries and retries are frequent: a table of one entry,
    short timers, many flows and memory slots, small queues (6.x: the events sysctl toggles
    between off and auto, as it has no retry timeout)."""
    writes: tuple[tuple[str, int], ...] = (("events_retry_timeout", 2), ("nf_conntrack_events", 0))
    if variant == "6.x":
        writes = (("nf_conntrack_events", 0), ("nf_conntrack_events", 2))
    base = preset("faults", variant)
    return base.with_(
        name="crowded",
        nf_conntrack_max=1,
        flows=6,
        slots=12,
        ct_timeout=1,
        events_retry_timeout=1,
        sysctl_writes=writes,
        listeners=tuple(replace(listener, capacity=1) for listener in base.listeners),
    )


def crowded_fixed(variant: str) -> Config:
    """`crowded` with the fixed ecache_work() (it walks on after a success), a table of three
    (so the dying list can hold three), a reliable listener that holds two messages (so a
    walk can deliver two and fail at the third), and a worker that is due at once after a
    failure and re-runs without delay while it fails."""
    base = crowded(variant)
    reliable, *others = base.listeners
    return base.with_(
        name="crowded-fixed",
        nf_conntrack_max=3,
        listeners=(replace(reliable, capacity=2), *others),
        ecache_work_fixed=True,
        worker_first_delay=0,
        worker_retry_delay=0,
    )


def smp_crowded(era: str) -> Config:
    """A 2.6.31 smp config where the CPU-level races are frequent: two CPUs, two flows in a
    table of one entry (early drop), three memory slots, expiry after one tick, a retry bound
    of two (and writes of 1 and 0: a retry timeout of 0 crashes), flushes and deletes from the
    tool and the listener, one-message queues, and the flags of `era` (of SMP_WALK_ERAS)."""
    base = preset("faults", "2.6.31")
    return base.with_(
        name=era,
        granularity="smp",
        cpus=2,
        nf_conntrack_max=1,
        flows=2,
        slots=3,
        ct_timeout=1,
        events_retry_timeout=2,
        sysctl_writes=(("events_retry_timeout", 1), ("events_retry_timeout", 0)),
        flush=True,
        listeners=tuple(replace(listener, capacity=1) for listener in base.listeners),
        **SMP_WALK_ERAS[era],
    )


Visited = list[tuple[State, list[tuple[Step, State]]]]


def visit(plan: WalkPlan) -> Visited:
    """The states of the walk, each with all its enabled steps and their successors.

    Each choice picks an enabled action first, then one of its steps, so that rare actions
    (retries, early drops) are not drowned by the many flush orders."""
    config = plan.config
    state = initial_state(config)
    visited: Visited = []
    for choice in plan.choices:
        steps = list(successors(config, state))
        visited.append((state, steps))
        if not steps:
            break
        actions = sorted({step.action for step, _ in steps})
        if choice % 5 == 0:
            pass
        elif choice % 5 < 3 and any(a in PROGRESS for a in actions):
            actions = [a for a in actions if a in PROGRESS]
        else:
            actions = [a for a in actions if a not in RARE_ENV] or actions
        action = actions[choice % len(actions)]
        mine = [s for s in steps if s[0].action == action]
        state = mine[(choice // len(actions)) % len(mine)][1]
    return visited
