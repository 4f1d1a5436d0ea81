"""`nfct-spec trace minimize`: the shortest, simplest run that still shows the same finding.

Step removal is `nfct_spec.minimize.minimize` (greedy delta debugging by replay). This module
adds argument shrinking: each step's arguments are replaced by a smaller choice from the
action's own domain in the state before it (a lower flow number or memory slot, the first
listener or requester, `victim=-1`, a flush order closer to hash order), kept only if the run
still replays and still shows the finding. Steps name conntracks by slot, so a removal or a
smaller slot is also tried with the later steps' slot arguments following their conntracks
(`nfct_spec.minimize.attempt`). The two alternate until neither changes the run, so the
result is 1-minimal in steps (and in adjacent pairs of steps, and in conntracks dropped with
every step acting on them) and locally minimal in arguments.

A trace without a property, or a lasso, is shrunk by the same rules under what it shows
instead: for a lasso, the prefix and the loop must still replay and the loop must still return
to the state where it starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nfct_spec.minimize import (
    Check,
    Path,
    attempt,
    drop_conntracks,
    liveness_tail,
    replay_steps,
    shows,
)
from nfct_spec.minimize import minimize as drop_steps
from nfct_spec.models.config import Config
from nfct_spec.models.registry import BY_NAME, ArgValue, Step
from nfct_spec.models.state import initial_state
from nfct_spec.spec.catalogue import BY_ID
from nfct_spec.traces import Trace, TraceError, make_trace

MAX_ROUNDS = 20


def _arg_key(config: Config, value: ArgValue) -> tuple[Any, ...]:
    if isinstance(value, str):
        names = [*config.requesters, *(listener.name for listener in config.listeners)]
        return (names.index(value) if value in names else len(names), value)
    if isinstance(value, tuple):
        return (len(value), value)
    return (value,)


def step_key(config: Config, step: Step) -> tuple[Any, ...]:
    """How large a step's arguments are: smaller flow numbers, slots and earlier names first."""
    return tuple(_arg_key(config, v) for _, v in step.args)


def shrink_args(config: Config, check: Check, path: Path) -> Path:
    """Replace each step by the smallest same-action step that keeps `check` true (later slot
    arguments following a conntrack that moved to a smaller slot)."""
    current = path
    i = 0
    while i < len(current):
        pre = current[i - 1][1] if i else initial_state(config)
        step = current[i][0]
        action = BY_NAME[step.action]
        choices = sorted(
            (Step(step.action, tuple(kw.items())) for kw in action.domain(config, pre)),
            key=lambda s: step_key(config, s),
        )
        for candidate in choices:
            if step_key(config, candidate) >= step_key(config, step):
                break
            result = attempt(config, check, current, range(len(current)), {i: candidate})
            if result is not None:
                current = result
                break
        i += 1
    return current


def _lasso_check(config: Config, loop_steps: Sequence[Step]) -> Check:
    def check(prefix: Sequence[Step]) -> Path | None:
        path = replay_steps(config, [*prefix, *loop_steps])
        if path is None:
            return None
        start = path[len(prefix) - 1][1] if prefix else initial_state(config)
        return path[: len(prefix)] if path[-1][1] == start else None

    return check


def _drop_steps(config: Config, check: Check, path: Path) -> Path:
    current = path
    chunk = max(1, len(current) // 2)
    while True:
        removed = False
        start = 0
        while start < len(current):
            keep = [*range(start), *range(start + chunk, len(current))]
            result = attempt(config, check, current, keep)
            if result is not None:
                current = result
                removed = True
            else:
                start += chunk
        if chunk == 1 and not removed:
            return _drop_pairs(config, check, drop_conntracks(config, check, current))
        if not removed:
            chunk = max(1, chunk // 2)


def _drop_pairs(config: Config, check: Check, path: Path) -> Path:
    """Drop adjacent pairs that only make sense together (a close and its reopen, two sysctl
    writes), which single-step removal cannot: without one the other is not enabled."""
    current = path
    i = 0
    while i + 1 < len(current):
        result = attempt(config, check, current, [*range(i), *range(i + 2, len(current))])
        if result is not None:
            current = result
        else:
            i += 1
    return current


def minimize_trace(trace: Trace) -> Trace:
    """A smaller trace with the same finding (or the same lasso); TraceError if the trace does
    not show it to begin with."""
    config = trace.config
    meta = dict(trace.meta)
    if trace.loop is not None:
        loop_steps = trace.steps[trace.loop :]
        check = _lasso_check(config, loop_steps)
        start = check(trace.steps[: trace.loop])
        if start is None:
            raise TraceError("loop: the trace does not replay as a lasso")
        prefix = [step for step, _ in _fixpoint(config, check, start)]
        path = replay_steps(config, [*prefix, *loop_steps])
        assert path is not None
        if isinstance(meta.get("step"), int):
            meta["step"] = len(prefix) + max(0, meta["step"] - trace.loop)
        return make_trace(config, path, initial_state(config), meta, len(prefix))
    prop_id = trace.property_id
    if prop_id is None or prop_id not in BY_ID:
        raise TraceError("#meta.property: minimize needs the property whose finding to keep")
    prop = BY_ID[prop_id]
    steps = list(trace.steps)
    # A liveness trace may end with the fair drain that shows the obligation unmet (Hypothesis
    # writes one) or at the state where it broke (the explorer's): keep the trace's shape.
    drained = False
    if prop.kind == "liveness" and isinstance(meta.get("step"), int):
        drained = len(steps) > meta["step"]
        steps = steps[: meta["step"]]
    try:
        first = drop_steps(config, prop, steps)
    except ValueError:
        raise TraceError(f"#meta.property: the trace does not show a {prop_id} finding") from None
    path = _fixpoint(config, shows(config, prop), first)
    meta["step"] = len(path)
    if drained:
        path = path + (liveness_tail(config, path, prop.id) or [])
    return make_trace(config, path, initial_state(config), meta)


def _fixpoint(config: Config, check: Check, path: Path) -> Path:
    current = path
    for _ in range(MAX_ROUNDS):
        smaller = _drop_steps(config, check, shrink_args(config, check, current))
        if [s for s, _ in smaller] == [s for s, _ in current]:
            break
        current = smaller
    return current
