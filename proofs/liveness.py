"""`destroy-eventually` for 2.6.31 by a ranking function, under the fair drain schedule.

Setting (the `drain` of `nfct_spec.spec.fairness`): traffic has stopped, so only the fair
steps run (early_drop, __nf_conntrack_confirm, env_recv, death_by_event, death_by_timeout,
env_tick), and a listener with something to read reads before a retry timer fires
(`listeners-read` as a priority, `timers-fire`, `packets-complete`, `traffic-stops`);
`retry-timeout-positive` and no build-failure fault are assumed.

Measure, over the abstract state (R = retry timeout, L = listener slots, T = ct timeout):
    M = sum over listeners of (qlen + sk_err)
      + sum over allocated slots of  c_U            if unconfirmed
                                     timer + c_H    if hashed
                                     timer + c_D    if on the dying list
      + c_A if an allocation waits,
with c_D = L + 1, c_H = L + R + c_D, c_U = T + L + 1 + c_H, c_A = c_U + c_H + L + 1.
Each fair step decreases M by at least 1 and M >= 0 (checked per action by Z3 under the
proved invariants), so the drain ends within M(s) steps of any state s where traffic stops:
that is the bounded form. When it ends no fair step is enabled; a dying conntrack always has a
retry pending (dying-has-retry), so the dying list is empty, and every socket queue is empty,
so each DESTROY that destroy-before-free put in a reliable listener's queue has been read.

The priority matters: a retry that fires while a reliable queue is still full fails and
re-arms, and M does not decrease (the weaker fairness where new traffic keeps that queue full
has lassos; see the report, they are not searched here).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import z3

from nfct_spec.proofs.actions import relation, symbolic_args
from nfct_spec.proofs.induction import (
    NO_BUILD_FAILURE,
    RETRY_POSITIVE,
    Line,
    check_induction,
    solver_status,
)
from nfct_spec.proofs.invariants import BY_ID as INV
from nfct_spec.proofs.params import Params, flags_for, symbolic_params
from nfct_spec.proofs.terms import And, If, Not, Or, Term
from nfct_spec.proofs.vocab import AState, Shape, fresh_state

FAIR_ACTIONS = (
    "early_drop",
    "__nf_conntrack_confirm",
    "env_recv",
    "death_by_event",
    "death_by_timeout",
    "env_tick",
)
CONJUNCTS = (
    "dying-has-retry",
    "aux-timers-valid",
    "aux-retry-positive",
    "aux-no-fault-unarmed",
    "one-place",
    "aux-fresh",
    "aux-alloc-waits",
    "aux-queues-sane",
    "aux-timers-placed",
)


def measure(s: AState, p: Params) -> Term:
    """The ranking function M (see the module docstring)."""
    slots = len(p.be)
    c_d = slots + 1
    c_h = slots + s["retry"] + c_d
    c_u = p.ct_timeout + slots + 1 + c_h
    c_a = c_u + c_h + slots + 1
    total: Term = If(s["apend"] >= 0, c_a, 0)
    for i in range(slots):
        total = total + s["qlen"][i] + If(s["skerr"][i], 1, 0)
    for u in range(len(s["alloc"])):
        weight = If(
            s["inU"][u],
            c_u,
            If(s["inH"][u], s["timer"][u] + c_h, If(s["inD"][u], s["timer"][u] + c_d, 0)),
        )
        total = total + If(s["alloc"][u], weight, 0)
    return total


def _reads_pending(s: AState, p: Params) -> Term:
    return Or(
        *[
            And(i < p.nl, s["open"][i], Or(s["skerr"][i], s["qlen"][i] > 0))
            for i in range(len(p.be))
        ]
    )


@dataclass
class RankingReport:
    """One line per (fair action, obligation)."""

    lines: list[Line]

    @property
    def proved(self) -> bool:
        """Every obligation unsat."""
        return all(line.status == "proved" for line in self.lines)


def check_ranking(shape: Shape, timeout_ms: int = 20000, priority: bool = True) -> RankingReport:
    """Check that the invariants M relies on are inductive for every 2.6.31 action (traffic may
    stop in any reachable state), and that M is >= 0 and decreases on every fair step of the
    drain schedule (`priority`: reads before retries; False drops it, for the vacuity test)."""
    flags = flags_for("2.6.31")
    params, base = symbolic_params(shape)
    base = [*base, NO_BUILD_FAILURE.constraint(params), RETRY_POSITIVE.constraint(params)]
    pre, post = fresh_state(shape, "pre"), fresh_state(shape, "post")
    preds = [INV[c].pred for c in CONJUNCTS]
    names = list(CONJUNCTS)
    inv_pre = And(*[pred(pre, params) for pred in preds])
    support = check_induction(
        flags, shape, list(CONJUNCTS), [NO_BUILD_FAILURE, RETRY_POSITIVE], None, timeout_ms
    )
    lines: list[Line] = list(support.lines)
    for action in FAIR_ACTIONS:
        step = z3.Or(
            *[
                relation(action, flags, params, pre, post, a)
                for a in symbolic_args(action, shape, "r")
            ]
        )
        solver = z3.Solver()
        solver.set("timeout", max(1, timeout_ms))
        solver.add(*base, inv_pre, step)
        if action == "death_by_event" and priority:
            solver.add(Not(_reads_pending(pre, params)))
        goals = [(n, Not(pred(post, params))) for n, pred in zip(names, preds, strict=True)]
        goals.append(("M >= 0", measure(pre, params) < 0))
        goals.append(("M decreases", measure(post, params) >= measure(pre, params)))
        for name, goal in goals:
            solver.push()
            solver.add(goal)
            started = time.perf_counter()
            status = solver_status(solver.check())
            solver.pop()
            lines.append(Line(action, name, status, time.perf_counter() - started))
    return RankingReport(lines)
