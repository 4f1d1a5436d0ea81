"""The smp configs of `configs/` and the ways the smp tests run steps one call at a time."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from nfct_spec.models.canonical import Canonicaliser
from nfct_spec.models.config import Config, config_from_json
from nfct_spec.models.observers import FULL
from nfct_spec.models.registry import Step, actions_of, apply, enabled_steps, successors
from nfct_spec.models.state import Kernel, State, evolve, initial_state

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
ERAS = (
    "smp-2.6.31",
    "smp-delete-guard",
    "smp-delete-guard-flush",
    "smp-iterator-guard-flush",
    "smp-ecache-timer-flush",
    "smp-all-guards-flush",
    "smp-dying-worker",
    "smp-dying-worker-test-and-set",
    "smp-dying-worker-ecache-state",
)
"""The config files: 2.6.31 as released, then with the fixes one by one (their upstream order
is not modelled: each config names the guards it has)."""


def era(name: str) -> Config:
    """The config `configs/NAME.json`."""
    return config_from_json(json.loads((CONFIGS / f"{name}.json").read_text()))


def reachable(config: Config, limit: int, level: int = FULL) -> Iterator[State]:
    """Up to `limit` reachable states of a config, breadth first, keeping the observers
    `level` (canonical forms, so each stands for its renamings)."""
    canon = Canonicaliser(config, level)
    start = initial_state(config, level)
    seen = {canon(start)}
    queue = deque([start])
    while queue and len(seen) < limit:
        state = queue.popleft()
        yield state
        for _, successor in successors(config, state):
            key = canon(successor)
            if key not in seen:
                seen.add(key)
                queue.append(successor)


def as_smp(config: Config, state: State) -> State:
    """An atomic state as the smp granularity holds it: no call in progress, and every
    allocated conntrack with the one reference its list owns."""
    refs = tuple(0 if ct is None else 1 for ct in state.kernel.cts)
    return State(evolve(state.kernel, refs=refs, calls=()), state.ghost)


def without_smp(kernel: Kernel) -> Kernel:
    """The kernel state without the smp bookkeeping (calls and reference counts)."""
    return evolve(kernel, calls=(), refs=())


def run_alone(config: Config, state: State, entry: Step, bound: int = 40) -> State:
    """`entry` then every step of the call it started, back to back on its CPU, until the
    call returns or the model crashes (fails the test if a step is missing or ambiguous)."""
    after = apply(config, state, entry)
    assert after is not None, f"{entry} is not enabled"
    state = after
    for _ in range(bound):
        if not state.kernel.calls or state.kernel.crashed:
            return state
        assert len(state.kernel.calls) == 1
        steps = [
            (step, post)
            for action in actions_of(config)
            if action.params and action.params[0][0] == "call"
            for step, post in enabled_steps(config, state, action)
        ]
        assert len(steps) == 1, f"{len(steps)} steps of one call: {[str(s) for s, _ in steps]}"
        state = steps[0][1]
    raise AssertionError(f"the call did not return within {bound} steps")
