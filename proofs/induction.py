r"""Inductive invariant checking, one query per (action, conjunct), mypyvy style.

For an invariant Inv = C_1 /\ ... /\ C_k (the catalogue property plus its auxiliary
invariants) the checker asks Z3, under the symbolic parameters and the proof's assumptions:
`Init /\ not C_i` for each conjunct, and `Inv /\ T_a /\ not C_i'` for each action a of the
variant and each conjunct. Every query answers `proved` (unsat), `cti` (sat: a counterexample
to induction, decoded into pre- and post-state) or `unknown` (timeout or solver gave up).
An action property P(pre, post) (destroy-before-free) is checked as `Inv /\ T_a /\ not P`, P
reading the post-state's transient fields (the instances the step freed).

Fields that no conjunct mentions are left free in the pre-state, so each proof works on the
projection onto the fields its conjuncts read (`projection`), and every other field ranges over
all values: the action's effect on the projection is over-approximated by construction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import z3

from nfct_spec.proofs.actions import ActionPred, arg_vars, builders_for, relation, symbolic_args
from nfct_spec.proofs.params import ATOMIC, Era, Flags, Params, symbolic_params
from nfct_spec.proofs.vocab import FIELDS, AState, Shape, fresh_state
from nfct_spec.spec.invariants import BY_ID as INV
from nfct_spec.spec.terms import And, Implies, Not, Or, Term


class Relations:
    """The transition formulas of the proofs, built once per (variant, shape, action) and
    shared by every proof of a run that gets the same object.

    A proof's formulas depend on nothing else: the pre- and post-states, the parameters and the
    step arguments always carry the same Z3 names (`pre`, `post`, `cfg`, tag `a`), and the
    builders are deterministic. A run that changes the builders (a seeded mutant) must not
    share a cache with one that does not; `check_induction` without one builds afresh."""

    def __init__(self) -> None:
        self._formulas: dict[tuple[str, Shape, str], Step] = {}
        self.reports: dict[tuple[object, ...], InductionReport] = {}
        """Induction reports by query set, for proofs that ask the same queries (an auxiliary
        invariant's plan and the proof it is a conjunct of)."""

    def step(
        self, flags: Flags, params: Params, shape: Shape, pre: AState, post: AState, action: str
    ) -> Step:
        """The symbolic steps of `action`: one per kind of its enumerated arguments."""
        key = (flags.name, shape, action)
        if key not in self._formulas:
            self._formulas[key] = _step(flags, params, shape, pre, post, action)
        return self._formulas[key]


@dataclass(frozen=True)
class Step:
    """The symbolic steps of one action: per kind of its enumerated arguments (packet kind,
    sysctl name) the argument dict, and the disjunction of their relations."""

    variants: list[dict[str, Any]]
    formula: Term


def _step(
    flags: Flags, params: Params, shape: Shape, pre: AState, post: AState, action: str
) -> Step:
    variants = symbolic_args(action, shape, "a")
    return Step(variants, z3.Or(*[relation(action, flags, params, pre, post, a) for a in variants]))


def init_state(p: Params, shape: Shape) -> AState:
    """The abstract initial state (nf_conntrack_init() plus the configured sockets)."""
    state: AState = {}
    for f in FIELDS:
        if f.shape == "scalar":
            state[f.name] = f.default
        elif f.shape == "slot":
            state[f.name] = [f.default] * shape.n
        elif f.shape == "listener":
            state[f.name] = [f.default] * shape.listeners
        elif f.shape == "cpu":
            state[f.name] = [f.default] * shape.cpus
        else:
            state[f.name] = [[f.default] * shape.n for _ in range(shape.listeners)]
    state["open"] = [And(i < p.nl, p.open0[i]) for i in range(shape.listeners)]
    state["events"] = p.events0
    state["retry"] = p.retry0
    return state


@dataclass(frozen=True)
class Assumption:
    """A named restriction of the configs or environment a proof covers."""

    id: str
    statement: str
    constraint: Callable[[Params], Term]


NO_BUILD_FAILURE = Assumption(
    "no-build-failure",
    "the config has no message build failure fault",
    lambda p: Not(p.faults),
)
BUILD_FAILURE_REPORTED = Assumption(
    "build-failure-reported",
    "the config has no message build failure fault, or every NETLINK_BROADCAST_ERROR listener "
    "also sets NETLINK_NO_ENOBUFS (as conntrackd and ulogd2 do in reliable mode), so that "
    "nfnetlink_set_err() makes ctnetlink report an unbuilt message as failed (2.6.35 and later)",
    lambda p: Or(
        Not(p.faults),
        And(*[Implies(And(i < p.nl, p.be[i]), p.noenob[i]) for i in range(len(p.be))]),
    ),
)
RETRY_POSITIVE = Assumption(
    "retry-timeout-positive",
    "the retry timeout starts positive and is never written 0",
    lambda p: And(p.retry0 > 0, Not(p.sysctl_ok(1, 0))),
)


@dataclass
class Line:
    """One query: (transition or `init`, conjunct) and its answer."""

    transition: str
    conjunct: str
    status: str
    seconds: float
    model: dict[str, Any] | None = None


@dataclass
class InductionReport:
    """All lines of one proof attempt."""

    lines: list[Line] = field(default_factory=list)

    @property
    def proved(self) -> bool:
        """Every query answered unsat."""
        return bool(self.lines) and all(line.status == "proved" for line in self.lines)

    @property
    def unknown(self) -> bool:
        """Some query gave up (and none found a CTI)."""
        statuses = {line.status for line in self.lines}
        return "unknown" in statuses and "cti" not in statuses

    @property
    def slowest(self) -> float:
        """The longest single query, in seconds."""
        return max((line.seconds for line in self.lines), default=0.0)


def _solver(timeout_ms: int) -> z3.Solver:
    solver = z3.Solver()
    solver.set("timeout", max(1, timeout_ms))
    return solver


def solver_status(result: z3.CheckSatResult) -> str:
    """`proved` (unsat), `cti` (sat) or `unknown`."""
    if result == z3.unsat:
        return "proved"
    if result == z3.sat:
        return "cti"
    return "unknown"


def _only(state: AState, names: set[str]) -> AState:
    return {k: v for k, v in state.items() if k in names}


def decode(model: z3.ModelRef, state: AState) -> AState:
    """The concrete values of an abstract state in a model."""

    def value(term: Any) -> Any:
        if isinstance(term, list):
            return [value(t) for t in term]
        if not isinstance(term, z3.ExprRef):
            return term
        v = model.eval(term, model_completion=True)
        if z3.is_true(v) or z3.is_false(v):
            return z3.is_true(v)
        return v.as_long() if z3.is_bv_value(v) or z3.is_int_value(v) else str(v)

    return {k: value(v) for k, v in state.items()}


def projection(conjuncts: list[str], shape: Shape) -> list[str]:
    """The abstract fields the conjuncts read (the projection a proof works on)."""
    params, _ = symbolic_params(shape)
    state = fresh_state(shape, "proj")
    seen: set[str] = set()
    todo = [INV[c].pred(state, params) for c in conjuncts]
    visited: set[int] = set()
    while todo:
        term = todo.pop()
        if not isinstance(term, z3.ExprRef) or term.get_id() in visited:
            continue
        visited.add(term.get_id())
        if z3.is_const(term) and term.decl().kind() == z3.Z3_OP_UNINTERPRETED:
            name = str(term)
            if name.endswith("_proj") or "_proj[" in name:
                seen.add(name.split("_proj")[0])
        todo.extend(term.children())
    return [f.name for f in FIELDS if f.name in seen]


def check_induction(
    flags: Flags,
    shape: Shape,
    conjuncts: list[str],
    assumptions: list[Assumption],
    action_props: dict[str, ActionPred] | None = None,
    timeout_ms: int = 20000,
    only_actions: list[str] | None = None,
    on_line: Callable[[Line], None] | None = None,
    relations: Relations | None = None,
    era: Era = ATOMIC,
) -> InductionReport:
    """Run every (transition, conjunct) query; stop early at nothing (all lines are wanted).
    `relations` shares the transition formulas with other proofs of the same run (atomic
    only); `era` fixes the granularity and the smp era flags (`shape.cpus` CPUs)."""
    report = InductionReport()
    params, base = symbolic_params(shape, era=era)
    base = base + [a.constraint(params) for a in assumptions]
    preds = [(c, INV[c].pred) for c in conjuncts]
    keep = set(projection(conjuncts, shape)) | {"alloc", "inU", "inH", "inD", "count"}

    def add(line: Line) -> None:
        report.lines.append(line)
        if on_line is not None:
            on_line(line)

    init = init_state(params, shape)
    solver = _solver(timeout_ms)
    solver.add(*base)
    for name, pred in preds:
        solver.push()
        solver.add(Not(pred(init, params)))
        started = time.perf_counter()
        status = solver_status(solver.check())
        model = None
        if status == "cti":
            model = {"pre": _only(decode(solver.model(), init), keep)}
        solver.pop()
        add(Line("init", name, status, time.perf_counter() - started, model))
    pre = fresh_state(shape, "pre")
    post = fresh_state(shape, "post")
    inv_pre = And(*[pred(pre, params) for _, pred in preds])
    for action in builders_for(flags.name, era):
        if only_actions is not None and action not in only_actions:
            continue
        if relations is None or era.smp:
            step = _step(flags, params, shape, pre, post, action)
        else:
            step = relations.step(flags, params, shape, pre, post, action)
        variants = step.variants
        solver = _solver(timeout_ms)
        solver.add(*base)
        solver.add(inv_pre, step.formula)
        goals: list[tuple[str, Term]] = [(n, Not(pred(post, params))) for n, pred in preds]
        for name, prop in (action_props or {}).items():
            goals.append((name, Not(prop(params, pre, post))))
        for name, goal in goals:
            solver.push()
            solver.add(goal)
            started = time.perf_counter()
            status = solver_status(solver.check())
            model = None
            if status == "cti":
                m = solver.model()
                model = {
                    "config": {
                        name: m.eval(getattr(params, name), model_completion=True).as_long()
                        for name in ("limit", "slots", "ct_timeout", "retry0")
                    },
                    "pre": _only(decode(m, pre), keep),
                    "post": _only(decode(m, post), keep),
                    "args": {
                        str(v): m.eval(v, model_completion=True).as_long()
                        for a in variants
                        for v in arg_vars(a)
                    },
                }
            solver.pop()
            add(Line(action, name, status, time.perf_counter() - started, model))
    return report
