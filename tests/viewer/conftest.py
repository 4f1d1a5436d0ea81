"""Traces built on the model for the viewer tests: a violation, a witness, a lasso, a memory
slot allocated again while a listener still holds a message of its first conntrack, and a
500-step random walk."""

from __future__ import annotations

import random
from typing import Any

import pytest

from helpers import REUSED_SLOT, one_message_queues, step
from nfct_spec.checking import finding_verdict
from nfct_spec.minimize import replay_steps
from nfct_spec.models.config import Config
from nfct_spec.models.presets import preset
from nfct_spec.models.registry import Step, successors
from nfct_spec.models.state import initial_state
from nfct_spec.spec.catalogue import BY_ID
from nfct_spec.traces import Trace, make_trace


def build(config: Config, steps: list[Step], prop: str | None, at: int | None, **kw: Any) -> Trace:
    """A trace of `steps` on `config`, recording the finding of `prop` at step `at`."""
    path = replay_steps(config, steps)
    assert path is not None, "the test's steps must replay"
    meta: dict[str, Any] = {"variant": config.variant, "engine": "test", "seed": 0}
    if prop is not None:
        meta.update(
            property=prop,
            statement=BY_ID[prop].statement,
            finding=finding_verdict(BY_ID[prop]),
            step=at,
        )
    return make_trace(config, path, initial_state(config), meta, **kw)


@pytest.fixture
def violation() -> Trace:
    """table-bound on 2.6.31: early_drop moves its victim to the dying list, count stays."""
    steps = [
        step("nf_conntrack_in", flow=0, packet="new", slot=0),
        step("nf_conntrack_in", flow=2, packet="new", slot=1),
        step("__nf_conntrack_confirm", slot=1),
        step("nf_conntrack_in", flow=1, packet="new", slot=2),
        step("early_drop", victim=1),
    ]
    return build(one_message_queues(preset("ci", "2.6.31")), steps, "table-bound", 5)


@pytest.fixture
def witness() -> Trace:
    """may-lose-without-be on 2.6.31, padded with two sysctl writes for minimization."""
    steps = [
        step("env_listener_close", listener="logger"),
        step("env_listener_open", listener="logger"),
        step("nf_conntrack_in", flow=2, packet="new", slot=0),
        step("__nf_conntrack_confirm", slot=0),
        step("env_recv", listener="conntrackd"),
        step("ctnetlink_del_conntrack", flow=2, requester="conntrackd"),
    ]
    return build(one_message_queues(preset("ci", "2.6.31")), steps, "may-lose-without-be", 6)


@pytest.fixture
def reuse() -> Trace:
    """id-reuse on 2.6.31 (`helpers.REUSED_SLOT`): the first conntrack of slot 2 stays
    observed after its free while the logger holds its NEW."""
    return build(one_message_queues(preset("ci", "2.6.31")), list(REUSED_SLOT), "id-reuse", 8)


@pytest.fixture
def lasso() -> Trace:
    """A lasso on tiny 2.6.31: a ct waits on the dying list while new packets keep finding
    the table full and early_drop finds no victim, forever (time never advances)."""
    steps = [
        step("nf_conntrack_in", flow=0, packet="new", slot=0),
        step("__nf_conntrack_confirm", slot=0),
        step("ctnetlink_del_conntrack", flow=0, requester="conntrackd"),
        step("nf_conntrack_in", flow=0, packet="new", slot=1),
        step("early_drop", victim=-1),
    ]
    return build(preset("tiny", "2.6.31"), steps, "destroy-eventually", 3, loop=3)


def random_walk(config: Config, length: int, seed: int = 0) -> Trace:
    """A deterministic random walk of `length` steps that avoids the retry-timeout crash."""
    rng = random.Random(seed)
    steps: list[Step] = []
    state = initial_state(config)
    while len(steps) < length:
        options = [(s, n) for s, n in successors(config, state) if not n.kernel.crashed]
        if not options:
            break
        chosen, state = options[rng.randrange(len(options))]
        steps.append(chosen)
    return build(config, steps, None, None)


@pytest.fixture(scope="session")
def long_trace() -> Trace:
    """500 steps on the ci preset of 2.6.31."""
    trace = random_walk(preset("ci", "2.6.31"), 500)
    assert len(trace.steps) == 500
    return trace
