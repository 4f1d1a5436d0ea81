"""Small builders for tests: steps by keyword, runs of steps on a preset, and the figures
record the tests that pin measured figures read."""

from __future__ import annotations

from pathlib import Path

from nfct_spec.docs.figures import RECORD, Block, load_figures
from nfct_spec.models.config import Config, ListenerConfig
from nfct_spec.models.registry import ArgValue, Step, apply
from nfct_spec.models.state import State, initial_state

RELIABLE = ListenerConfig("conntrackd", ("new", "update", "destroy"), True, True, 1)
"""A conntrackd-like reliable listener (BE and NO_ENOBUFS) with a one-message buffer."""
PLAIN = ListenerConfig("logger", ("new", "destroy"), False, False, 1)
"""A plain listener with a one-message buffer."""


def step(action: str, **args: ArgValue) -> Step:
    """A Step from keyword arguments."""
    return Step(action, tuple(args.items()))


def run(config: Config, *steps: Step, start: State | None = None) -> State:
    """Apply the steps in order; fails the test if one is not enabled."""
    state = start if start is not None else initial_state(config)
    for i, s in enumerate(steps, start=1):
        successor = apply(config, state, s)
        assert successor is not None, f"step {i} {s} is not enabled"
        state = successor
    return state


def new_confirmed(flow: int, uid: int) -> tuple[Step, Step]:
    """The two steps that create and confirm a conntrack for a new flow."""
    return step("nf_conntrack_in", flow=flow, packet="new"), step("__nf_conntrack_confirm", uid=uid)


ROOT = Path(__file__).resolve().parents[1]


def figures(name: str) -> Block:
    """Block `name` of the figures record (docs/figures.json), which the script named in its
    `command` writes: re-pinning a figure means re-running that script."""
    return load_figures(ROOT / RECORD)[name]
