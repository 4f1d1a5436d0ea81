"""Hypothesis strategies for the Z3 conformance tests: model states reached by random walks
over the registry from the initial state of a preset.

The strategy draws only the preset, the variant and the walk's choices (so a failing example
prints in one line); `visit` replays them into states with all their enabled steps.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from nfct_spec.models.config import Config
from nfct_spec.models.presets import preset
from nfct_spec.models.registry import Step, successors
from nfct_spec.models.state import State, initial_state

WALK_PRESETS = ("ci", "faults", "deep", "crowded", "crowded")
VARIANTS = ("2.6.30", "2.6.31", "2.6.31")
"""2.6.31 twice: only it has the dying list and retries."""
RARE_ENV = ("env_listener_open", "env_listener_close", "env_sysctl_write", "env_fault_arm")
PROGRESS = ("death_by_timeout", "death_by_event", "env_tick", "__nf_conntrack_confirm")
"""Walks favour these (two choices in five) and pick the rare environment steps only at one
choice in five, so that expiries, retries and early drops are frequent."""


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
        return preset(self.preset, self.variant)


def crowded(variant: str) -> Config:
    """A config where early drops, expiries and retries are frequent: a table of one entry,
    short timers, many flows and allocations, small queues."""
    return preset("faults", variant).with_(
        name="crowded",
        nf_conntrack_max=1,
        flows=6,
        max_conntracks=12,
        ct_timeout=1,
        events_retry_timeout=1,
        sysctl_writes=(("events_retry_timeout", 2), ("nf_conntrack_events", 0)),
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


def walks(length: int = 50) -> st.SearchStrategy[WalkPlan]:
    """Random walk plans over the presets of `WALK_PRESETS` and both modelled variants."""
    return st.builds(
        WalkPlan,
        st.sampled_from(WALK_PRESETS),
        st.sampled_from(VARIANTS),
        st.lists(st.integers(0, 10**6), min_size=length, max_size=length).map(tuple),
    )
