"""Shrinking a finding: drop steps while the run still replays and still shows the finding.

A path "shows" a finding for a property when, replayed from the initial state, every step is
enabled and some step is a finding (the path is then cut right after the first one). For
liveness the path is a prefix: it shows the finding when the bounded fair drain that follows it
leaves an obligation unmet. Removal is greedy by halving chunks (delta debugging), so the
result is 1-minimal: no single remaining step can be dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from nfct_spec.checking import finding_in_state, finding_on_step
from nfct_spec.models.config import Config
from nfct_spec.models.registry import ArgValue, Step, apply
from nfct_spec.models.state import State, initial_state
from nfct_spec.spec.catalogue import Property
from nfct_spec.spec.fairness import assumptions_hold, drain, unmet

Path = list[tuple[Step, State]]


def replay_steps(config: Config, steps: Sequence[Step]) -> Path | None:
    """The path the steps take from the initial state, or None if one is not enabled."""
    state = initial_state(config)
    path: Path = []
    for step in steps:
        successor = apply(config, state, step)
        if successor is None:
            return None
        path.append((step, successor))
        state = successor
    return path


def first_finding(config: Config, prop: Property, path: Path) -> int | None:
    """The number of steps after which the finding first shows (0: the initial state)."""
    state = initial_state(config)
    if finding_in_state(prop, config, state):
        return 0
    for i, (step, successor) in enumerate(path, start=1):
        if finding_on_step(prop, config, state, step, successor):
            return i
        state = successor
    return None


def liveness_tail(config: Config, path: Path) -> Path | None:
    """The drain after `path` if the run with it leaves an obligation unmet (the finding),
    else None."""
    end = path[-1][1] if path else initial_state(config)
    if not assumptions_hold(config, end):
        return None
    tail = drain(config, end)
    return tail if unmet(config, initial_state(config), [*path, *tail]) else None


def shows(config: Config, prop: Property) -> Callable[[Sequence[Step]], Path | None]:
    """A predicate on step lists: the (cut) path if it shows the finding, else None."""

    def check(steps: Sequence[Step]) -> Path | None:
        path = replay_steps(config, steps)
        if path is None:
            return None
        if prop.kind == "liveness":
            tail = liveness_tail(config, path)
            return None if tail is None else path
        at = first_finding(config, prop, path)
        return None if at is None else path[:at]

    return check


UID_ARGS = ("uid", "victim")


def _allocated(config: Config, path: Path, start: int, stop: int) -> list[int]:
    """The uids that the steps path[start:stop] allocated."""
    before = path[start - 1][1].next_uid if start else initial_state(config).next_uid
    after = path[stop - 1][1].next_uid if stop else before
    return list(range(before, after))


def _renumber(steps: Sequence[Step], removed: list[int]) -> list[Step] | None:
    """The steps with every uid argument renumbered as if the `removed` allocations had never
    happened; None when a step names a removed uid."""
    if not removed:
        return list(steps)

    def new_uid(uid: int) -> int:
        if uid in removed:
            raise LookupError(uid)
        return uid - sum(1 for r in removed if r < uid)

    out = []
    try:
        for step in steps:
            args: list[tuple[str, ArgValue]] = []
            for name, value in step.args:
                if name in UID_ARGS and isinstance(value, int) and value >= 0:
                    value = new_uid(value)
                elif name == "order" and isinstance(value, tuple):
                    value = tuple(new_uid(u) for u in value)
                args.append((name, value))
            out.append(Step(step.action, tuple(args)))
    except LookupError:
        return None
    return out


def minimize(config: Config, prop: Property, steps: Sequence[Step]) -> Path:
    """A 1-minimal sub-sequence of `steps` that still shows the finding; ValueError if the
    original does not show it.

    Dropping a step that allocated a conntrack shifts the uids of every later allocation, so a
    removal is tried as is and, if that fails, with the later steps' uid arguments renumbered.
    """
    check = shows(config, prop)
    best = check(steps)
    if best is None:
        raise ValueError(f"the steps do not show a finding for {prop.id}")
    chunk = max(1, len(best) // 2)
    while True:
        best, removed = _removal_pass(config, check, best, chunk, slide=chunk <= 3)
        if removed:
            continue
        if chunk > 1:
            chunk //= 2
            continue
        for width in (2, 3):
            best, removed = _removal_pass(config, check, best, width, slide=True)
            if removed:
                break
        else:
            return best


def _removal_pass(
    config: Config,
    check: Callable[[Sequence[Step]], Path | None],
    best: Path,
    chunk: int,
    slide: bool,
) -> tuple[Path, bool]:
    """Try to drop every window of `chunk` steps (aligned, or at every offset when `slide`)."""
    removed = False
    start = 0
    while start < len(best):
        current = [step for step, _ in best]
        path = check(current[:start] + current[start + chunk :])
        if path is None:
            gone = _allocated(config, best, start, min(start + chunk, len(best)))
            renumbered = _renumber(current[start + chunk :], gone)
            if gone and renumbered is not None:
                path = check(current[:start] + renumbered)
        if path is not None:
            best = path
            removed = True
        else:
            start += 1 if slide else chunk
    return best, removed
