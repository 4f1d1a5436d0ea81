"""Bounded model checking on one config: shortest violations and witnesses, replayed.

The unrolling `s_0 .. s_k` starts from the projected initial state of the config (concrete
parameters); each step selects one action (and one value of its enumerated arguments) by a
Boolean selector and relates `s_j` to `s_{j+1}` by that action's relation. Depth grows one step
at a time, so the first model found is a shortest one. The model is decoded into registry
steps, which are then run through the Python model: every Z3 state must equal the projection
of the model's state (`BmcMismatch` otherwise), and the resulting trace must replay with its
finding (`nfct_spec.replay.replay`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import z3

from nfct_spec.engines.lasso import same_state
from nfct_spec.models.config import Config
from nfct_spec.models.registry import ArgValue, Step, apply
from nfct_spec.models.state import State, initial_state
from nfct_spec.proofs.actions import BUILDERS, arg_vars, builders_for, relation, symbolic_args
from nfct_spec.proofs.induction import decode
from nfct_spec.proofs.params import Flags, Params, concrete_params, flags_for
from nfct_spec.proofs.vocab import AState, Shape, fresh_state, leaves, lift, project, shape_for
from nfct_spec.replay import replay
from nfct_spec.spec.terms import Term
from nfct_spec.traces import Trace, make_trace

Target = Callable[[Params, AState, AState, "StepSel"], Term]


class BmcMismatch(AssertionError):
    """A Z3 trace that the Python model does not reproduce (an encoding error)."""


@dataclass(frozen=True)
class Choice:
    """One way to take an unrolled step: an action with one kind of its enumerated arguments,
    and its selector."""

    action: str
    args: dict[str, Any]
    sel: z3.BoolRef


@dataclass
class StepSel:
    """The selectors and arguments of one unrolled step."""

    choices: list[Choice]

    def taken(self, action: str) -> Term:
        """The step is an instance of `action`."""
        return z3.Or([c.sel for c in self.choices if c.action == action] or [False])

    def arg(self, action: str, name: str) -> Any:
        """An argument term of `action` (shared by its enumerated variants)."""
        for choice in self.choices:
            if choice.action == action:
                return choice.args[name]
        raise KeyError(f"{action}.{name}")


@dataclass
class BmcResult:
    """A found path (decoded and replayed), or None within the depth and time budget."""

    trace: Trace | None
    depth: int
    seconds: float
    status: str


def _decode_args(
    config: Config, model: z3.ModelRef, pre: AState, action: str, args: dict[str, Any]
) -> Step:
    def val(t: Any) -> Any:
        if isinstance(t, z3.ExprRef):
            return model.eval(t, model_completion=True).as_long()
        return t

    out: list[tuple[str, ArgValue]] = []
    picks = BUILDERS[action].picks
    for name, value in args.items():
        if name in picks:
            continue
        if name == "listener":
            out.append((name, config.listeners[val(value)].name))
        elif name == "requester":
            portid = val(value)
            nl = len(config.listeners)
            who = (
                config.listeners[portid - 1].name
                if portid <= nl
                else config.requesters[portid - nl - 1]
            )
            out.append((name, who))
        elif name == "order":
            hashed = sum(1 for a, h in zip(pre["alloc"], pre["inH"], strict=True) if a and h)
            out.append((name, tuple(val(v) for v in value[:hashed])))
        else:
            out.append((name, val(value)))
    return Step(action, tuple(out))


PathTarget = Callable[[Params, list[AState], list[StepSel]], Term]


@dataclass
class _Found:
    model: z3.ModelRef | None
    states: list[AState]
    sels: list[StepSel]
    depth: int
    seconds: float
    status: str


def _expr(term: Term) -> z3.ExprRef:
    return term if isinstance(term, z3.ExprRef) else z3.BoolVal(bool(term))


def _pairs(template: AState, state: AState) -> list[tuple[z3.ExprRef, z3.ExprRef]]:
    pairs = []
    for name in template:
        pairs += list(zip(leaves(template, name), leaves(state, name), strict=True))
    return pairs


@dataclass(frozen=True)
class _Template:
    action: str
    kind: int
    args: dict[str, Any]
    formula: z3.ExprRef


class _Unrolling:
    """Each action's relation, built once over template states and instantiated for each
    unrolled step by substitution (building it through the builders costs more than that)."""

    def __init__(self, config: Config, flags: Flags, params: Params, shape: Shape) -> None:
        self.shape = shape
        self.pre = fresh_state(shape, "tpre")
        self.post = fresh_state(shape, "tpost")
        self.templates: list[_Template] = []
        for action in builders_for(config.variant):
            for k, args in enumerate(symbolic_args(action, shape, "t")):
                formula = relation(action, flags, params, self.pre, self.post, args)
                self.templates.append(_Template(action, k, args, _expr(formula)))

    def step(self, pre: AState, post: AState, depth: int) -> list[_Template]:
        """Every template instantiated for one unrolled step: its arguments renamed and its
        relation over the step's states."""
        states = _pairs(self.pre, pre) + _pairs(self.post, post)
        fresh: dict[str, list[dict[str, Any]]] = {}
        out = []
        for tpl in self.templates:
            if tpl.action not in fresh:
                fresh[tpl.action] = symbolic_args(tpl.action, self.shape, f"d{depth}")
            mine = fresh[tpl.action][tpl.kind]
            pairs = states + list(zip(arg_vars(tpl.args), arg_vars(mine), strict=True))
            out.append(_Template(tpl.action, tpl.kind, mine, z3.substitute(tpl.formula, *pairs)))
        return out


def _search(
    config: Config, target: PathTarget, max_depth: int, timeout_ms: int, flags: Flags
) -> _Found:
    """Unroll one step at a time until `target` (over the whole path) is satisfiable."""
    shape: Shape = shape_for(config)
    params = concrete_params(config, shape)
    started = time.perf_counter()
    solver = z3.Solver()
    states: list[AState] = [lift(project(config, initial_state(config), shape))]
    sels: list[StepSel] = []
    unrolling = _Unrolling(config, flags, params, shape)

    def found(status: str, depth: int, model: z3.ModelRef | None = None) -> _Found:
        return _Found(model, states, sels, depth, time.perf_counter() - started, status)

    for depth in range(1, max_depth + 1):
        pre = states[-1]
        post = fresh_state(shape, f"s{depth}")
        choices: list[Choice] = []
        for step in unrolling.step(pre, post, depth):
            sel = z3.Bool(f"sel{depth}.{step.action}.{step.kind}")
            solver.add(z3.Implies(sel, step.formula))
            choices.append(Choice(step.action, step.args, sel))
        solver.add(z3.Or([c.sel for c in choices]))
        states.append(post)
        sels.append(StepSel(choices))
        solver.push()
        solver.add(target(params, states, sels))
        left = max(1, timeout_ms) - int((time.perf_counter() - started) * 1000)
        if left <= 0:
            return found("unknown", depth)
        solver.set("timeout", left)
        result = solver.check()
        if result == z3.sat:
            return found("found", depth, solver.model())
        solver.pop()
        if result != z3.unsat:
            return found("unknown", depth)
    return found("none", max_depth)


def run_bmc(
    config: Config,
    target: Target,
    max_depth: int,
    meta: dict[str, Any],
    timeout_ms: int = 60000,
    flags: Flags | None = None,
) -> BmcResult:
    """The shortest path of at most `max_depth` steps whose last step satisfies `target`."""

    def last(p: Params, states: list[AState], sels: list[StepSel]) -> Term:
        return target(p, states[-2], states[-1], sels[-1])

    hit = _search(config, last, max_depth, timeout_ms, flags or flags_for(config.variant))
    if hit.model is None:
        return BmcResult(None, hit.depth, hit.seconds, hit.status)
    trace = _concretize(config, hit.model, hit.states, hit.sels, {**meta, "step": hit.depth})
    return BmcResult(trace, hit.depth, hit.seconds, "found")


def run_lasso(
    config: Config, target: PathTarget, max_depth: int, meta: dict[str, Any], timeout_ms: int
) -> tuple[BmcResult, int | None]:
    """A shortest path whose last abstract state equals an earlier one (`loop_index` in the
    model), decoded and replayed; returns the trace (ending where the loop closes in the
    Python model) and the ITF `loop` index."""
    hit = _search(config, target, max_depth, timeout_ms, flags_for(config.variant))
    if hit.model is None:
        return BmcResult(None, hit.depth, hit.seconds, hit.status), None
    loop = hit.model.eval(z3.Int(LOOP_VAR), model_completion=True).as_long()
    trace = _concretize(config, hit.model, hit.states, hit.sels, meta)
    trace, loop_at = _close_loop(config, trace, loop)
    return BmcResult(trace, hit.depth, hit.seconds, "found"), loop_at


LOOP_VAR = "lasso.loop"
"""The Z3 integer a lasso target constrains to the index of the state the path returns to."""


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
                raise BmcMismatch(f"cycle step {step} is not enabled when repeated")
            states.append(nxt)
            steps.append(step)
    return trace, None


def _concretize(
    config: Config,
    model: z3.ModelRef,
    states: list[AState],
    sels: list[StepSel],
    meta: dict[str, Any],
) -> Trace:
    shape = shape_for(config)
    state: State = initial_state(config)
    path: list[tuple[Step, State]] = []
    for j, step_sel in enumerate(sels):
        pre_abs = decode(model, states[j])
        chosen = [(c.action, c.args) for c in step_sel.choices if z3.is_true(model.eval(c.sel))]
        action, args = chosen[0]
        step = _decode_args(config, model, pre_abs, action, args)
        successor = apply(config, state, step)
        if successor is None:
            raise BmcMismatch(f"Z3 step {j + 1} {step} is not enabled in the Python model")
        want = decode(model, states[j + 1])
        got = project(config, successor, shape)
        for name in want:
            if want[name] != got[name]:
                raise BmcMismatch(
                    f"Z3 step {j + 1} {step}: field {name} is {want[name]} in Z3, "
                    f"{got[name]} in the Python model"
                )
        path.append((step, successor))
        state = successor
    trace = make_trace(config, path, initial_state(config), meta)
    report = replay(trace)
    if not report.ok:
        raise BmcMismatch(f"Z3 trace does not replay: {report.message}")
    return trace
