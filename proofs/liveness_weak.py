"""`destroy-eventually` under the stated fairness, with one reliable listener (2.6.31, 6.x).

The ranking proof of `nfct_spec.proofs.liveness` assumes `reads-before-retries`: no retry runs
while a listener has something to read. The stated fairness of the catalogue does not give that
(`spec/fairness.py`: `listeners-read`, `packets-complete` and ticks weakly fair, timer handlers
strongly fair, `traffic-stops`, `retry-timeout-positive`): a retry may run while the reliable
listener's queue is still full, fail and re-arm. With two reliable listeners that can go on
forever (the explorer's lasso). With one reliable listener (every other slot without
NETLINK_BROADCAST_ERROR) it cannot, and this module proves it by the well-founded response
rule: a measure that no traffic-free step increases, and in every state short of the goal a
helpful action that the fairness forces and that decreases it.

Measure, lexicographic over traffic-free states (T = ct timeout, slot 0 = the reliable one):
    A = sum over allocated slots of  c_U if unconfirmed, timer + c_H if hashed, c_D if dying
        or waiting for redelivery (a retry timer left out: a failed retry re-arms it)
        + c_A if an allocation waits, with c_D = 1, c_H = 2, c_U = T + 3, c_A = c_U + 1;
    B = 3 qlen + sk_err + [qlen > 0 and not congested]   of slot 0;
    C = (6.x) worker delay + 1 while slot 0 is drained and the worker is scheduled, else 0.
A failed retry changes none of them upwards: with one reliable listener it fails only when
slot 0 refuses, so nothing is queued there and its overrun trades the congested bit for sk_err;
C counts the worker's delay only while slot 0 is drained, when a walk cannot fail. The goal is
A = 0 with slot 0 drained: every conntrack is freed and every DESTROY queued for the reliable
listener is read.

Cases, in priority order, each with its helpful action and the fairness that forces it:
    early-drop   an allocation waits for early_drop          early_drop(victim=-1)      weak
    read         slot 0 has a message or an error to read    env_recv(slot 0)           weak
    retry        (2.6.31) a conntrack is dying               death_by_event(it)         strong
    worker-due   (6.x) the ecache worker is due              ecache_work()              strong
    worker-wait  (6.x) entries wait, the worker counts down  env_tick()                 weak
    confirm      a conntrack is unconfirmed                  __nf_conntrack_confirm(it) weak
    expire       a hashed conntrack's timer is 0             death_by_timeout / gc_worker strong
    tick         a conntrack is hashed                       env_tick()                 weak
Obligations, each a Z3 query under the invariants of `liveness.CONJUNCTS[variant]` and `EXTRA`
(proved inductive for every action) and the assumptions (no build failure; 2.6.31 a positive
retry timeout; slot 0 the only reliable slot):
    `no increase`:   every traffic-free step leaves the measure equal or smaller;
    `stutter`:       a step that leaves it equal changes no list, no hashed timer, no waiting
                     allocation, does not close slot 0, and (6.x, slot 0 drained) does not move
                     the worker; with B equal, slot 0 has something to read after it iff
                     before it, so the case and its helpful instances stay as they were;
    `cover`:         a state short of the goal is in one of the cases;
    `enabled`:       in each case its helpful instance is enabled;
    `helps`:         in each case a step of its helpful action decreases the measure;
    `bounded below`: A, B, C >= 0;
    `case satisfiable`: each case occurs in some state of the invariant (vacuity).
Together: while the goal is not reached the measure cannot increase and cannot stay equal
forever (the case's helpful instance stays enabled, so weak or strong fairness takes it, and it
decreases the measure), and it cannot decrease forever.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import z3

from nfct_spec.models.registry import actions_for
from nfct_spec.proofs.actions import execute
from nfct_spec.proofs.induction import Line, Relations, check_induction, solver_status
from nfct_spec.proofs.liveness import CONJUNCTS, RankingReport, assumptions
from nfct_spec.proofs.params import Params, flags_for, symbolic_params
from nfct_spec.proofs.vocab import AState, Shape, fresh_state
from nfct_spec.spec.fairness import TRAFFIC_ACTIONS
from nfct_spec.spec.invariants import BY_ID as INV
from nfct_spec.spec.terms import And, If, Not, Or, Term

VARIANTS = ("2.6.31", "6.x")
EXTRA = ("aux-closed-empty", "no-crash", "deadlock-free")
"""Invariants this proof needs beyond those of the drain proof (proved inductive with them):
with `no-crash` (no fault) and `deadlock-free` (no deadlock) the kernel has not stopped."""
RELIABLE = 0
"""The slot of the one reliable listener."""


def traffic_free_actions(variant: str) -> tuple[str, ...]:
    """The variant's actions that may still run once traffic has stopped."""
    return tuple(a.name for a in actions_for(variant) if a.name not in TRAFFIC_ACTIONS)


def level_a(s: AState, p: Params) -> Term:
    """A: the conntracks' remaining life (see the module docstring)."""
    c_d, c_h = 1, 2
    c_u = p.ct_timeout + 3
    total: Term = If(s["apend"] >= 0, c_u + 1, 0)
    for u in range(len(s["alloc"])):
        weight = If(s["inU"][u], c_u, If(s["inH"][u], s["timer"][u] + c_h, If(s["inD"][u], c_d, 0)))
        total = total + If(s["alloc"][u], weight, 0)
    return total


def level_b(s: AState) -> Term:
    """B: what the reliable listener still has to read (see the module docstring)."""
    qlen = s["qlen"][RELIABLE]
    return (
        3 * qlen
        + If(s["skerr"][RELIABLE], 1, 0)
        + If(And(qlen > 0, Not(s["cong"][RELIABLE])), 1, 0)
    )


def drained(s: AState) -> Term:
    """The reliable listener has nothing to read."""
    return And(s["qlen"][RELIABLE] == 0, Not(s["skerr"][RELIABLE]))


def level_c(s: AState, variant: str) -> Term:
    """C (6.x): the worker's delay, counted only while the reliable listener is drained."""
    if variant != "6.x":
        return 0
    return If(And(drained(s), s["worker"] >= 0), s["worker"] + 1, 0)


def _levels(s: AState, p: Params, variant: str) -> tuple[Term, Term, Term]:
    return level_a(s, p), level_b(s), level_c(s, variant)


def _lex_less(pre: AState, post: AState, p: Params, variant: str) -> Term:
    (a0, b0, c0), (a1, b1, c1) = _levels(pre, p, variant), _levels(post, p, variant)
    return Or(a1 < a0, And(a1 == a0, Or(b1 < b0, And(b1 == b0, c1 < c0))))


def _equal(pre: AState, post: AState, p: Params, variant: str) -> Term:
    before, after = _levels(pre, p, variant), _levels(post, p, variant)
    return And(*[x == y for x, y in zip(before, after, strict=True)])


def goal(s: AState, p: Params) -> Term:
    """Every conntrack freed and the reliable listener drained."""
    return And(level_a(s, p) == 0, drained(s))


def _slots(s: AState) -> range:
    return range(len(s["alloc"]))


def _on(s: AState, place: str, u: int) -> Term:
    return And(s["alloc"][u], s[place][u])


def cases(s: AState, p: Params, variant: str) -> list[tuple[str, Term]]:
    """The cases in priority order: (name, condition), each excluding the earlier ones."""
    dying = Or(*[_on(s, "inD", u) for u in _slots(s)])
    raw = [
        ("early-drop", s["apend"] >= 0),
        ("read", And(s["open"][RELIABLE], Not(drained(s)))),
    ]
    if variant == "6.x":
        raw += [("worker-due", s["worker"] == 0), ("worker-wait", dying)]
    else:
        raw += [("retry", dying)]
    raw += [
        ("confirm", Or(*[_on(s, "inU", u) for u in _slots(s)])),
        ("expire", Or(*[And(_on(s, "inH", u), s["timer"][u] == 0) for u in _slots(s)])),
        ("tick", Or(*[_on(s, "inH", u) for u in _slots(s)])),
    ]
    out: list[tuple[str, Term]] = []
    earlier: list[Term] = []
    for name, cond in raw:
        out.append((name, And(cond, *[Not(e) for e in earlier])))
        earlier.append(cond)
    return out


HELPFUL = {
    "early-drop": ("early_drop", "weak"),
    "read": ("env_recv", "weak"),
    "retry": ("death_by_event", "strong"),
    "worker-due": ("ecache_work", "strong"),
    "worker-wait": ("env_tick", "weak"),
    "confirm": ("__nf_conntrack_confirm", "weak"),
    "expire": ("death_by_timeout", "strong"),
    "tick": ("env_tick", "weak"),
}
"""Each case's helpful action and the fairness that forces it (`spec/fairness.py`)."""


def helpful_action(name: str, variant: str) -> str:
    """The helpful action of a case (6.x expires through the gc worker)."""
    if name == "expire" and variant == "6.x":
        return "gc_worker"
    return HELPFUL[name][0]


def _guard(action: str, p: Params, s: AState, variant: str, args: Mapping[str, object]) -> Term:
    return execute(action, flags_for(variant), p, s, dict(args))[0]


def helpful(name: str, s: AState, p: Params, variant: str) -> tuple[str, Term]:
    """The helpful action of a case and 'an instance of it is enabled' in `s`."""
    action = helpful_action(name, variant)
    fixed: dict[str, Mapping[str, object]] = {
        "env_recv": {"listener": RELIABLE},
        "early_drop": {"victim": -1},
        "env_tick": {},
        "ecache_work": {},
    }
    if action in fixed:
        return action, _guard(action, p, s, variant, fixed[action])
    place = {"retry": "inD", "confirm": "inU", "expire": "inH"}[name]
    return action, Or(
        *[
            And(
                _on(s, place, u),
                s["timer"][u] == 0 if name == "expire" else True,
                _guard(action, p, s, variant, {"slot": u}),
            )
            for u in _slots(s)
        ]
    )


def _stutter_keeps(pre: AState, post: AState, variant: str) -> Term:
    """What an equal measure must leave unchanged for the case to persist."""
    parts: list[Term] = [post["apend"] == pre["apend"]]
    for u in _slots(pre):
        for place in ("alloc", "inU", "inH", "inD"):
            parts.append(post[place][u] == pre[place][u])
        parts.append(Or(Not(_on(pre, "inH", u)), post["timer"][u] == pre["timer"][u]))
    parts.append(post["open"][RELIABLE] == pre["open"][RELIABLE])
    if variant == "6.x":
        parts.append(Or(Not(drained(pre)), post["worker"] == pre["worker"]))
    return And(*parts)


def _sat(status: str) -> str:
    """A vacuity query is good when satisfiable: `proved` for sat, `cti` for unsat."""
    return {"cti": "proved", "proved": "cti"}.get(status, status)


def _query(assertions: list[Term], timeout_ms: int) -> tuple[str, float]:
    solver = z3.Solver()
    solver.set("timeout", max(1, timeout_ms))
    solver.add(*assertions)
    started = time.perf_counter()
    return solver_status(solver.check()), time.perf_counter() - started


def check_weak_fairness(
    shape: Shape,
    timeout_ms: int = 20000,
    relations: Relations | None = None,
    one_reliable: bool = True,
    variant: str = "2.6.31",
) -> RankingReport:
    """Check every obligation of the module docstring for `variant` on `shape` (`one_reliable`
    False lets every slot be reliable: the mutant that the two-listener lasso refutes)."""
    flags = flags_for(variant)
    conjuncts = [*CONJUNCTS[variant], *EXTRA]
    assumed = assumptions(variant)
    params, base = symbolic_params(shape)
    others = [Not(params.be[i]) for i in range(len(params.be)) if i != RELIABLE]
    base = [*base, *[a.constraint(params) for a in assumed], *(others if one_reliable else [])]
    pre, post = fresh_state(shape, "pre"), fresh_state(shape, "post")
    inv = And(*[INV[c].pred(pre, params) for c in conjuncts])
    support = check_induction(
        flags, shape, conjuncts, assumed, None, timeout_ms, relations=relations
    )
    lines: list[Line] = list(support.lines)
    cache = relations if relations is not None else Relations()
    ctx = [*base, inv]
    levels = _levels(pre, params, variant)
    status, secs = _query([*ctx, Or(*[x < 0 for x in levels])], timeout_ms)
    lines.append(Line("state", "bounded below", status, secs))
    named = cases(pre, params, variant)
    status, secs = _query([*ctx, Not(goal(pre, params)), *[Not(c) for _, c in named]], timeout_ms)
    lines.append(Line("state", "cover", status, secs))
    for name, cond in named:
        status, secs = _query([*ctx, cond], timeout_ms)
        lines.append(Line(name, "case satisfiable", _sat(status), secs))
        _, enabled = helpful(name, pre, params, variant)
        status, secs = _query([*ctx, cond, Not(enabled)], timeout_ms)
        lines.append(Line(name, "enabled", status, secs))
    for action in traffic_free_actions(variant):
        transition = cache.step(flags, params, shape, pre, post, action)
        variants, step = transition.variants, transition.formula
        less = _lex_less(pre, post, params, variant)
        equal = _equal(pre, post, params, variant)
        status, secs = _query([*ctx, step, Not(Or(less, equal))], timeout_ms)
        lines.append(Line(action, "no increase", status, secs))
        keeps = _stutter_keeps(pre, post, variant)
        status, secs = _query([*ctx, step, equal, Not(keeps)], timeout_ms)
        lines.append(Line(action, "stutter", status, secs))
        for name, cond in named:
            if helpful_action(name, variant) != action:
                continue
            instance = (
                Or(*[v["listener"] == RELIABLE for v in variants]) if action == "env_recv" else True
            )
            status, secs = _query([*ctx, cond, step, instance, Not(less)], timeout_ms)
            lines.append(Line(action, f"helps in case {name}", status, secs))
    return RankingReport(lines)
