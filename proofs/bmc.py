"""Bounded model checking on one config: the search for a shortest path, and its decoding.

The unrolling `s_0 .. s_k` starts from the projected initial state of the config (concrete
parameters); each step selects one action (and one value of its enumerated arguments) by a
Boolean selector and relates `s_j` to `s_{j+1}` by that action's relation. Depth grows one step
at a time, so the first model found is a shortest one. `decode_path` reads the model as
registry steps, each with the abstract states Z3 gives before and after it.

What a path is worth is decided above this layer: `nfct_spec.engines.z3_bmc` runs the decoded
steps through the Python model (every Z3 state must equal the projection of the model's state)
and replays the resulting trace with its finding. This module stays the encoding's side only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import z3

from nfct_spec.models.config import Config
from nfct_spec.models.registry import ArgValue, Step
from nfct_spec.models.state import initial_state
from nfct_spec.proofs.actions import BUILDERS, arg_vars, builders_for, relation, symbolic_args
from nfct_spec.proofs.induction import decode
from nfct_spec.proofs.params import Flags, Params, concrete_params, flags_for
from nfct_spec.proofs.vocab import AState, Shape, fresh_state, leaves, lift, project, shape_for
from nfct_spec.spec.terms import Term

Target = Callable[[Params, AState, AState, "StepSel"], Term]


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
class Found:
    """The outcome of a search: the model of the path found (None: `status` says why not:
    `none` within the depth, `unknown` on a timeout), with the unrolled states and step
    selectors it is read from."""

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
        for action in builders_for(config.variant, params.era):
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


def search(
    config: Config,
    target: PathTarget,
    max_depth: int,
    timeout_ms: int,
    flags: Flags | None = None,
) -> Found:
    """Unroll one step at a time until `target` (over the whole path) is satisfiable."""
    flags = flags or flags_for(config.variant)
    shape: Shape = shape_for(config)
    params = concrete_params(config, shape)
    started = time.perf_counter()
    solver = z3.Solver()
    states: list[AState] = [lift(project(config, initial_state(config), shape))]
    sels: list[StepSel] = []
    unrolling = _Unrolling(config, flags, params, shape)

    def found(status: str, depth: int, model: z3.ModelRef | None = None) -> Found:
        return Found(model, states, sels, depth, time.perf_counter() - started, status)

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


def search_last(
    config: Config,
    target: Target,
    max_depth: int,
    timeout_ms: int = 60000,
    flags: Flags | None = None,
) -> Found:
    """The shortest path of at most `max_depth` steps whose last step satisfies `target`."""

    def last(p: Params, states: list[AState], sels: list[StepSel]) -> Term:
        return target(p, states[-2], states[-1], sels[-1])

    return search(config, last, max_depth, timeout_ms, flags)


LOOP_VAR = "lasso.loop"
"""The Z3 integer a lasso target constrains to the index of the state the path returns to."""


def loop_index(found: Found) -> int:
    """The index of the state a lasso found by `search` returns to (`LOOP_VAR` in its model)."""
    assert found.model is not None, "no path was found"
    return int(found.model.eval(z3.Int(LOOP_VAR), model_completion=True).as_long())


@dataclass(frozen=True)
class DecodedStep:
    """One step of a found path: the registry step, and the abstract states Z3 gives before
    and after it (to be compared with the Python model's)."""

    step: Step
    pre: AState
    post: AState


def decode_path(config: Config, found: Found) -> list[DecodedStep]:
    """The steps of a found path, in order, read from its model."""
    model = found.model
    assert model is not None, "no path was found"
    out: list[DecodedStep] = []
    for j, step_sel in enumerate(found.sels):
        pre = decode(model, found.states[j])
        chosen = [(c.action, c.args) for c in step_sel.choices if z3.is_true(model.eval(c.sel))]
        action, args = chosen[0]
        step = _decode_args(config, model, pre, action, args)
        out.append(DecodedStep(step, pre, decode(model, found.states[j + 1])))
    return out
