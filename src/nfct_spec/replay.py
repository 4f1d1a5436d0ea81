"""Replaying a trace against the model: every step must be enabled and give the recorded state.

The first step that is not a step of the model (an unknown action, or an argument outside the
action's declared domain), that is not enabled, or whose successor differs from the recorded
state, is reported with the argument or the first field that differs. A trace that names a
property must also show its finding at the recorded step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nfct_spec.checking import finding_in_state, finding_on_step
from nfct_spec.minimize import liveness_tail
from nfct_spec.models.observers import FULL, HISTORY
from nfct_spec.models.registry import StepError, apply
from nfct_spec.models.state import initial_state
from nfct_spec.spec.catalogue import BY_ID
from nfct_spec.traces import Trace


@dataclass(frozen=True)
class ReplayReport:
    """The outcome of a replay: ok, or the step (1-based) and what went wrong."""

    ok: bool
    message: str
    step: int | None = None


def first_difference(expected: Any, actual: Any, path: str = "") -> str | None:
    """The dotted path of the first field where two model values differ, or None.

    Records (the model's NamedTuples) are compared field by field, other tuples position by
    position; a free slot (None) against a conntrack is a difference of the slot itself."""
    fields: tuple[str, ...] | None = getattr(type(expected), "_fields", None)
    if fields is not None and type(expected) is type(actual):
        for name in fields:
            found = first_difference(
                getattr(expected, name), getattr(actual, name), f"{path}.{name}" if path else name
            )
            if found:
                return found
        return None
    if isinstance(expected, tuple) and isinstance(actual, tuple):
        if len(expected) != len(actual):
            return f"{path} (length {len(expected)} recorded, {len(actual)} in the model)"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            found = first_difference(e, a, f"{path}[{i}]")
            if found:
                return found
        return None
    if expected != actual:
        return f"{path} (recorded {expected!r}, model gives {actual!r})"
    return None


def replay(trace: Trace) -> ReplayReport:
    """Check a trace step by step against the model of its config, keeping the observers the
    trace was written with (its first state's ghost level: a search keeps only those its
    properties read)."""
    config = trace.config
    level = trace.states[0].ghost.level
    if not 0 <= level <= FULL | HISTORY:
        return ReplayReport(False, f"state 0: ghost.level {level} names no observers", 0)
    state = initial_state(config, level)
    diff = first_difference(trace.states[0], state)
    if diff:
        return ReplayReport(False, f"state 0 is not the initial state: {diff}", 0)
    for i, step in enumerate(trace.steps, start=1):
        try:
            successor = apply(config, state, step)
        except StepError as exc:
            return ReplayReport(False, f"step {i}: {step} is not a step of the model: {exc}", i)
        if successor is None:
            return ReplayReport(False, f"step {i}: {step} is not enabled", i)
        diff = first_difference(trace.states[i], successor)
        if diff:
            return ReplayReport(False, f"step {i}: {step} does not match: {diff}", i)
        state = successor
    return _check_finding(trace)


def _check_finding(trace: Trace) -> ReplayReport:
    prop_id = trace.property_id
    n = len(trace.steps)
    if prop_id is None:
        return ReplayReport(True, f"trace replays: {n} steps")
    prop = BY_ID.get(prop_id)
    if prop is None:
        return ReplayReport(False, f"#meta.property: unknown property id {prop_id!r}")
    at = trace.meta.get("step")
    if not isinstance(at, int) or not 0 <= at <= n:
        return ReplayReport(False, "#meta.step: missing or not a step index of this trace")
    config = trace.config
    if prop.kind == "liveness":
        prefix = list(zip(trace.steps[:at], trace.states[1 : at + 1], strict=True))
        if liveness_tail(config, prefix, prop_id) is None:
            return ReplayReport(
                False,
                f"{prop_id}: the fair drain after step {at} meets every "
                "obligation; the recorded finding does not show",
                at,
            )
    elif at == 0:
        if not finding_in_state(prop, config, trace.states[0]):
            return ReplayReport(False, f"{prop_id}: no finding in the initial state", 0)
    elif not finding_on_step(
        prop, config, trace.states[at - 1], trace.steps[at - 1], trace.states[at]
    ):
        return ReplayReport(False, f"{prop_id}: step {at} does not show the recorded finding", at)
    kind = trace.meta.get("finding", "finding")
    return ReplayReport(True, f"trace replays: {n} steps; {prop_id} {kind} at step {at}", at)
