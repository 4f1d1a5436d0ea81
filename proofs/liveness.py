"""`destroy-eventually` by a ranking function, under the fair drain schedule (2.6.31 and 6.x).

Setting (the `drain` of `nfct_spec.spec.fairness`): traffic has stopped, so only the fair
steps run (the actions of `listeners-read`, `timers-fire` and `packets-complete` that the
variant has), and a listener with something to read reads before a retry (2.6.31
death_by_event, 6.x ecache_work) runs: `listeners-read` as a priority, as in the drain order.
No build-failure fault is assumed, and for 2.6.31 `retry-timeout-positive`.

Measure, over the abstract state (L = listener slots, T = ct timeout):
    M = sum over listeners of (qlen + sk_err)
      + sum over allocated slots of  c_U            if unconfirmed
                                     timer + c_H    if hashed
                                     c_D (+ timer)  if on the dying list
      + c_A if an allocation waits
      (6.x) + worker + 1 if the ecache worker is scheduled.
2.6.31 (R = retry timeout; a dying slot counts its retry timer):
    c_D = L + 1, c_H = L + R + c_D, c_U = T + L + 1 + c_H, c_A = c_U + c_H + L + 1.
6.x (W1, WR = the worker's first and retry delays): a run of the worker frees at least the
head of the list (nothing to read means every queue has room), a walk queues at most one
message per listener and send, and a failed DESTROY schedules the worker:
    c_D = 2L + WR + 1, c_H = c_D + L + W1 + 2, c_U = T + c_H + L + 1, c_A = c_U + L + 1.
M >= 0 in every state of the invariant, and each fair step decreases M by at least 1 (checked
per action by Z3 under the proved invariants, case by case on the acting slot), so the drain
ends within M(s) steps of any state s where traffic stops: that is the bounded form. When it
ends no fair step is enabled; a dying conntrack always has a retry pending (dying-has-retry:
its timer, or the 6.x worker, which runs when due), so the dying list is empty, and every
socket queue is empty, so each DESTROY that destroy-before-free put in a reliable listener's
queue has been read.

The priority matters: a retry that fires while a reliable queue is still full fails and
re-arms (2.6.31) or reschedules the worker (6.x), and M does not decrease (the weaker fairness
where new traffic keeps that queue full has lassos; see the report, they are not searched
here).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import z3

from nfct_spec.models.registry import actions_for
from nfct_spec.proofs.induction import (
    NO_BUILD_FAILURE,
    RETRY_POSITIVE,
    Assumption,
    Line,
    Relations,
    check_induction,
    solver_status,
)
from nfct_spec.proofs.params import Params, flags_for, symbolic_params
from nfct_spec.proofs.vocab import AState, Shape, fresh_state
from nfct_spec.spec.fairness import LISTENERS_READ, PACKETS_COMPLETE, TIMERS_FIRE
from nfct_spec.spec.invariants import BY_ID as INV
from nfct_spec.spec.terms import And, If, Not, Or, Term

RETRIES = ("death_by_event", "ecache_work")
"""The retries, which run only when no listener has something to read (the priority)."""
VARIANTS = ("2.6.31", "6.x")
"""The variants whose catalogue entry expects destroy-eventually to hold."""
SHARED_CONJUNCTS = (
    "aux-no-fault-unarmed",
    "one-place",
    "aux-alloc-waits",
    "aux-queues-sane",
    "aux-timers-placed",
)
"""The invariants both variants' measures rely on."""
CONJUNCTS: dict[str, tuple[str, ...]] = {
    "2.6.31": (
        "dying-has-retry",
        "aux-timers-valid",
        "aux-retry-positive",
        *SHARED_CONJUNCTS,
        "aux-worker-idle",
    ),
    "6.x": (
        "dying-has-retry",
        "aux-redelivery-untimed",
        "aux-dying-order",
        "aux-worker-valid",
        "aux-live-until-deleted",
        *SHARED_CONJUNCTS,
    ),
}
"""The invariants M relies on, proved inductive for every action of the variant (traffic may
stop in any reachable state)."""


def fair_actions(variant: str) -> tuple[str, ...]:
    """The variant's actions named by the fairness records of the drain (`listeners-read`,
    `timers-fire`, `packets-complete`), in registry order."""
    named = {a for f in (LISTENERS_READ, TIMERS_FIRE, PACKETS_COMPLETE) for a in f.actions}
    return tuple(a.name for a in actions_for(variant) if a.name in named)


def measure(s: AState, p: Params, variant: str = "2.6.31") -> Term:
    """The ranking function M of the variant (see the module docstring)."""
    slots = len(p.be)
    if variant == "6.x":
        c_d = 2 * slots + p.worker_retry_delay + 1
        c_h = c_d + slots + p.worker_first_delay + 2
        c_u = p.ct_timeout + c_h + slots + 1
        c_a = c_u + slots + 1
        total: Term = If(s["worker"] >= 0, s["worker"] + 1, 0)
        dying: Term = c_d
    else:
        c_d = slots + 1
        c_h = slots + s["retry"] + c_d
        c_u = p.ct_timeout + slots + 1 + c_h
        c_a = c_u + c_h + slots + 1
        total = 0
    total = total + If(s["apend"] >= 0, c_a, 0)
    for i in range(slots):
        total = total + s["qlen"][i] + If(s["skerr"][i], 1, 0)
    for u in range(len(s["alloc"])):
        if variant != "6.x":
            dying = s["timer"][u] + c_d
        weight = If(
            s["inU"][u],
            c_u,
            If(s["inH"][u], s["timer"][u] + c_h, If(s["inD"][u], dying, 0)),
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


SLOT_ARGS = ("slot", "victim")
"""Step arguments that name the conntrack slot a step acts on."""


def slot_cases(variants: list[dict[str, Any]], shape: Shape) -> list[Term]:
    """A case split of a query on the slot the step acts on: one case per slot value and one
    for every other value, so the cases cover everything. In each case Z3's preprocessing fixes
    the slot and the other slots' terms of M cancel out: many small queries are much cheaper
    than one that reasons about the If-chains of a symbolic slot."""
    for name in SLOT_ARGS:
        var = variants[0].get(name) if variants else None
        if isinstance(var, z3.ArithRef):
            low = -1 if name == "victim" else 0
            inside = [var == k for k in range(low, shape.n)]
            return [*inside, Or(var < low, var >= shape.n)]
    return [True]


def _check_split(assertions: list[Term], cases: list[Term], timeout_ms: int) -> str:
    """`proved` if every case is unsat, each in a solver of its own: the measure's sums are
    cheap once the preprocessing has fixed the acting slot, which an incremental solver does
    not redo after a push."""
    status = "proved"
    for case in cases:
        solver = z3.Solver()
        solver.set("timeout", max(1, timeout_ms))
        solver.add(*assertions, case)
        found = solver_status(solver.check())
        if found == "cti":
            return found
        if found == "unknown":
            status = found
    return status


@dataclass
class RankingReport:
    """The lines of a liveness proof: one per (fair action, obligation) here, one per
    obligation in `nfct_spec.proofs.liveness_weak`."""

    lines: list[Line]

    @property
    def proved(self) -> bool:
        """Every obligation unsat."""
        return all(line.status == "proved" for line in self.lines)


def assumptions(variant: str) -> list[Assumption]:
    """No build-failure fault; for 2.6.31 also a positive retry timeout."""
    if variant == "2.6.31":
        return [NO_BUILD_FAILURE, RETRY_POSITIVE]
    return [NO_BUILD_FAILURE]


def check_ranking(
    shape: Shape,
    timeout_ms: int = 20000,
    priority: bool = True,
    variant: str = "2.6.31",
    relations: Relations | None = None,
) -> RankingReport:
    """Check that the invariants M relies on are inductive for every action of the variant
    (traffic may stop in any reachable state), and that M is >= 0 and decreases on every fair
    step of the drain schedule (`priority`: reads before retries; False drops it, for the
    vacuity test)."""
    flags = flags_for(variant)
    conjuncts = list(CONJUNCTS[variant])
    assumed = assumptions(variant)
    params, base = symbolic_params(shape)
    base = [*base, *[a.constraint(params) for a in assumed]]
    pre, post = fresh_state(shape, "pre"), fresh_state(shape, "post")
    preds = [INV[c].pred for c in conjuncts]
    inv_pre = And(*[pred(pre, params) for pred in preds])
    support = check_induction(
        flags, shape, conjuncts, assumed, None, timeout_ms, relations=relations
    )
    lines: list[Line] = list(support.lines)
    cache = relations if relations is not None else Relations()
    started = time.perf_counter()
    status = _check_split([*base, inv_pre, measure(pre, params, variant) < 0], [True], timeout_ms)
    lines.append(Line("state", "M >= 0", status, time.perf_counter() - started))
    decreases = measure(post, params, variant) >= measure(pre, params, variant)
    for action in fair_actions(variant):
        transition = cache.step(flags, params, shape, pre, post, action)
        variants, step = transition.variants, transition.formula
        drained = Not(_reads_pending(pre, params)) if action in RETRIES and priority else True
        started = time.perf_counter()
        status = _check_split(
            [*base, inv_pre, step, drained, decreases], slot_cases(variants, shape), timeout_ms
        )
        lines.append(Line(action, "M decreases", status, time.perf_counter() - started))
    return RankingReport(lines)
