"""Z3 paths made traces: BMC findings and lassos, run through the Python model and replayed.

`nfct_spec.proofs.bmc` finds a shortest path in the encoding and decodes it into registry
steps. Here each decoded step is applied to the Python model: it must be enabled there, and
every abstract state Z3 gives must equal the projection of the model's state. The resulting
trace must replay with its finding (`nfct_spec.replay.replay`); a lasso's cycle is repeated in
the model until it closes, and must be fair as the explorer judges fairness
(`nfct_spec.engines.lasso.check_lasso`). A path the model does not reproduce is a
`BmcMismatch`: the encoding disagrees with the model, and the path is never written out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nfct_spec.engines.lasso import check_lasso, same_state
from nfct_spec.models.config import Config
from nfct_spec.models.registry import Step, apply
from nfct_spec.models.state import State, initial_state
from nfct_spec.proofs.bmc import (
    Found,
    PathTarget,
    Target,
    decode_path,
    loop_index,
    search,
    search_last,
)
from nfct_spec.proofs.lasso_z3 import WEAKER, lasso_target
from nfct_spec.proofs.params import Flags
from nfct_spec.proofs.vocab import project, shape_for
from nfct_spec.replay import replay
from nfct_spec.traces import Trace, make_trace


class BmcMismatch(AssertionError):
    """A Z3 path that the Python model does not reproduce: the encoding disagrees with the
    model at `action` (the action of the first step that differs)."""

    def __init__(self, action: str, message: str) -> None:
        super().__init__(message)
        self.action = action
        self.message = message


@dataclass
class BmcResult:
    """A found path (decoded and replayed), or None within the depth and time budget."""

    trace: Trace | None
    depth: int
    seconds: float
    status: str


def run_bmc(
    config: Config,
    target: Target,
    max_depth: int,
    meta: dict[str, Any],
    timeout_ms: int = 60000,
    flags: Flags | None = None,
) -> BmcResult:
    """The shortest path of at most `max_depth` steps whose last step satisfies `target`, as a
    replayed trace (BmcMismatch if the model does not reproduce it)."""
    hit = search_last(config, target, max_depth, timeout_ms, flags)
    if hit.model is None:
        return BmcResult(None, hit.depth, hit.seconds, hit.status)
    trace = _concretize(config, hit, {**meta, "step": hit.depth})
    return BmcResult(trace, hit.depth, hit.seconds, "found")


def run_lasso(
    config: Config, target: PathTarget, max_depth: int, meta: dict[str, Any], timeout_ms: int
) -> tuple[BmcResult, int | None]:
    """A shortest path whose last abstract state equals an earlier one (`LOOP_VAR` in the
    model), decoded and replayed; returns the trace (ending where the loop closes in the
    Python model) and the ITF `loop` index."""
    hit = search(config, target, max_depth, timeout_ms)
    if hit.model is None:
        return BmcResult(None, hit.depth, hit.seconds, hit.status), None
    loop = loop_index(hit)
    trace = _concretize(config, hit, meta)
    trace, loop_at = _close_loop(config, trace, loop)
    return BmcResult(trace, hit.depth, hit.seconds, "found"), loop_at


def find_lasso(
    config: Config, max_depth: int, timeout_ms: int, fairness: tuple[str, ...] = WEAKER
) -> tuple[BmcResult, int | None]:
    """The shortest fair lasso of `destroy-eventually` under `fairness` found
    (`nfct_spec.proofs.lasso_z3`), replayed, or a result without a trace: a lasso that is not
    fair as `check_lasso` judges the cycle is not reported."""
    meta = {
        "lasso-of": "destroy-eventually",
        "finding": "fair lasso",
        "fairness": list(fairness),
        "engine": "z3",
        "variant": config.variant,
    }
    found, loop = run_lasso(config, lasso_target(fairness), max_depth, meta, timeout_ms)
    if found.trace is None or loop is None:
        return BmcResult(None, found.depth, found.seconds, found.status), None
    trace = found.trace
    why = check_lasso(config, trace.states, trace.steps, loop, fairness)
    if why is not None:
        return BmcResult(None, found.depth, found.seconds, f"unfair: {why}"), None
    trace.meta["step"] = loop
    return found, loop


def _close_loop(config: Config, trace: Trace, loop: int) -> tuple[Trace, int | None]:
    """Repeat the cycle in the Python model until its end state is the same state as one of the
    cycle region (as `check_lasso` compares them: the previous step's freed records and the
    saturating `drops` counters aside; the counters may need a few turns). Returns the trace
    ending in that state and its index (the ITF `loop`), or None if none repeats. An empty
    cycle (the last state stutters) is closed as it is."""
    cycle = list(trace.steps[loop:])
    states = list(trace.states)
    steps = list(trace.steps)
    if not cycle:
        path = list(zip(steps, states[1:], strict=True))
        return make_trace(config, path, states[0], trace.meta, loop=loop), loop
    same = same_state(config, states[0].ghost.level)
    for _ in range(5):
        region = [same(s) for s in states[loop:-1]]
        end = same(states[-1])
        if end in region:
            at = loop + region.index(end)
            path = list(zip(steps, states[1:], strict=True))
            return make_trace(config, path, states[0], trace.meta, loop=at), at
        for step in cycle:
            nxt = apply(config, states[-1], step)
            if nxt is None:
                raise BmcMismatch(step.action, f"cycle step {step} is not enabled when repeated")
            states.append(nxt)
            steps.append(step)
    return trace, None


def _concretize(config: Config, hit: Found, meta: dict[str, Any]) -> Trace:
    """The found path run through the Python model, as a trace that replays (BmcMismatch at
    the first step the model does not reproduce)."""
    shape = shape_for(config)
    state: State = initial_state(config)
    path: list[tuple[Step, State]] = []
    for j, decoded in enumerate(decode_path(config, hit), start=1):
        step = decoded.step
        successor = apply(config, state, step)
        if successor is None:
            raise BmcMismatch(step.action, f"Z3 step {j} {step} is not enabled in the Python model")
        got = project(config, successor, shape)
        for name, want in decoded.post.items():
            if want != got[name]:
                raise BmcMismatch(
                    step.action,
                    f"Z3 step {j} {step}: field {name} is {want} in Z3, "
                    f"{got[name]} in the Python model",
                )
        path.append((step, successor))
        state = successor
    trace = make_trace(config, path, initial_state(config), meta)
    report = replay(trace)
    if not report.ok:
        at = report.step if report.step else len(trace.steps)
        action = trace.steps[at - 1].action if trace.steps else "(no step)"
        raise BmcMismatch(action, f"Z3 trace does not replay: {report.message}")
    return trace
