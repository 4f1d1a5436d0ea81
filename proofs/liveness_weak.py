"""`destroy-eventually` for 2.6.31 under the stated fairness, with one reliable listener.

The ranking proof of `nfct_spec.proofs.liveness` assumes `reads-before-retries`: no retry runs
while a listener has something to read. The stated fairness of the catalogue does not give that
(`spec/fairness.py`: `listeners-read`, `packets-complete` and ticks weakly fair, timer handlers
strongly fair, `traffic-stops`, `retry-timeout-positive`): a retry may fire while the reliable
listener's queue is still full, fail and re-arm. With two reliable listeners that can go on
forever (the explorer's lasso). With one reliable listener (every other slot without
NETLINK_BROADCAST_ERROR) it cannot, and this module proves it by the well-founded response
rule: a measure that no traffic-free step increases, and in every state short of the goal a
helpful action that the fairness forces and that decreases it.

Measure, lexicographic over traffic-free states (T = ct timeout, slot 0 = the reliable one):
    A = sum over allocated slots of  c_U if unconfirmed, timer + c_H if hashed, c_D if dying
        (the retry timer left out: a failed retry re-arms it) + c_A if an allocation waits,
        with c_D = 1, c_H = 2, c_U = T + 3, c_A = c_U + 1;
    B = 3 qlen + sk_err + [qlen > 0 and not congested]   of slot 0.
A failed retry changes neither A nor B upwards (with one reliable listener it fails only when
slot 0 refuses, so nothing is queued there, and its overrun trades the congested bit for
sk_err). The goal is A = 0 with slot 0 drained: every conntrack is freed and every DESTROY
queued for the reliable listener is read.

Cases, in priority order, each with its helpful action and the fairness that forces it:
    1. an allocation waits for early_drop            early_drop(victim=-1)       weak
    2. slot 0 has a message or an error to read      env_recv(slot 0)            weak
    3. a conntrack is dying                          death_by_event(it)          strong
    4. a conntrack is unconfirmed                    __nf_conntrack_confirm(it)  weak
    5. a hashed conntrack's timer is 0               death_by_timeout(it)        strong
    6. a conntrack is hashed                         env_tick()                  weak
Obligations, each a Z3 query under the invariants of `liveness.CONJUNCTS["2.6.31"]` and
`EXTRA` (proved inductive for every action) and the assumptions (no build failure, positive
retry timeout, slot 0 the only reliable slot):
    `no increase`:   every traffic-free step leaves (A, B) equal or lexicographically smaller;
    `stutter`:       a step that leaves (A, B) equal changes no list, no hashed timer, no
                     waiting allocation and does not close slot 0; with B equal, slot 0 has
                     something to read after it iff before it (B > 0), so the case and its
                     helpful instances stay as they were;
    `cover`:         a state short of the goal is in one of the cases;
    `enabled`:       in case i the helpful instance is enabled;
    `helps`:         in case i a step of the helpful action decreases (A, B);
    `bounded below`: A >= 0 and B >= 0;
    `case satisfiable`: each case occurs in some state of the invariant (vacuity).
Together: while the goal is not reached the measure cannot increase and cannot stay equal
forever (the case's helpful instance stays enabled, so weak or strong fairness takes it, and it
decreases the measure), and it cannot decrease forever.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import z3

from nfct_spec.engines.lasso import TRAFFIC_ACTIONS
from nfct_spec.models.registry import actions_for
from nfct_spec.proofs.actions import execute
from nfct_spec.proofs.induction import Line, Relations, check_induction, solver_status
from nfct_spec.proofs.invariants import BY_ID as INV
from nfct_spec.proofs.liveness import CONJUNCTS, assumptions
from nfct_spec.proofs.params import Params, flags_for, symbolic_params
from nfct_spec.proofs.terms import And, If, Not, Or, Term
from nfct_spec.proofs.vocab import AState, Shape, fresh_state

VARIANT = "2.6.31"
EXTRA = ("aux-closed-empty", "no-crash")
"""Invariants this proof needs beyond those of the drain proof (proved inductive with them)."""
RELIABLE = 0
"""The slot of the one reliable listener."""


def traffic_free_actions() -> tuple[str, ...]:
    """The 2.6.31 actions that may still run once traffic has stopped."""
    return tuple(a.name for a in actions_for(VARIANT) if a.name not in TRAFFIC_ACTIONS)


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


def _lex_less(pre: AState, post: AState, p: Params) -> Term:
    a0, a1 = level_a(pre, p), level_a(post, p)
    return Or(a1 < a0, And(a1 == a0, level_b(post) < level_b(pre)))


def _equal(pre: AState, post: AState, p: Params) -> Term:
    return And(level_a(post, p) == level_a(pre, p), level_b(post) == level_b(pre))


def goal(s: AState, p: Params) -> Term:
    """Every conntrack freed and the reliable listener drained."""
    return And(level_a(s, p) == 0, s["qlen"][RELIABLE] == 0, Not(s["skerr"][RELIABLE]))


def _slots(s: AState) -> range:
    return range(len(s["alloc"]))


def _on(s: AState, place: str, u: int) -> Term:
    return And(s["alloc"][u], s[place][u])


def cases(s: AState, p: Params) -> list[tuple[str, Term]]:
    """The cases in priority order: (name, condition), each excluding the earlier ones."""
    raw = [
        ("early-drop", s["apend"] >= 0),
        ("read", And(s["open"][RELIABLE], Or(s["qlen"][RELIABLE] > 0, s["skerr"][RELIABLE]))),
        ("retry", Or(*[_on(s, "inD", u) for u in _slots(s)])),
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


def _guard(action: str, p: Params, s: AState, args: dict[str, object]) -> Term:
    return execute(action, flags_for(VARIANT), p, s, dict(args))[0]


def helpful(name: str, s: AState, p: Params) -> tuple[str, Term]:
    """The helpful action of a case and 'some instance of it is enabled' in `s`."""
    if name == "read":
        return "env_recv", _guard("env_recv", p, s, {"listener": RELIABLE})
    if name == "early-drop":
        return "early_drop", _guard("early_drop", p, s, {"victim": -1})
    if name == "tick":
        return "env_tick", _guard("env_tick", p, s, {})
    action, place = {
        "retry": ("death_by_event", "inD"),
        "confirm": ("__nf_conntrack_confirm", "inU"),
        "expire": ("death_by_timeout", "inH"),
    }[name]
    extra = (lambda u: s["timer"][u] == 0) if name == "expire" else (lambda u: True)
    return action, Or(
        *[And(_on(s, place, u), extra(u), _guard(action, p, s, {"uid": u})) for u in _slots(s)]
    )


def _stutter_keeps(pre: AState, post: AState) -> Term:
    """What an equal measure must leave unchanged for the case to persist."""
    parts: list[Term] = [post["apend"] == pre["apend"]]
    for u in _slots(pre):
        for place in ("alloc", "inU", "inH", "inD"):
            parts.append(post[place][u] == pre[place][u])
        parts.append(Or(Not(_on(pre, "inH", u)), post["timer"][u] == pre["timer"][u]))
    parts.append(post["open"][RELIABLE] == pre["open"][RELIABLE])
    return And(*parts)


@dataclass
class WeakReport:
    """One line per obligation."""

    lines: list[Line]

    @property
    def proved(self) -> bool:
        """Every obligation unsat."""
        return all(line.status == "proved" for line in self.lines)


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
) -> WeakReport:
    """Check every obligation of the module docstring for 2.6.31 on `shape` (`one_reliable`
    False lets every slot be reliable: the mutant that the two-listener lasso refutes)."""
    flags = flags_for(VARIANT)
    conjuncts = [*CONJUNCTS[VARIANT], *EXTRA]
    assumed = assumptions(VARIANT)
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

    status, secs = _query([*ctx, Or(level_a(pre, params) < 0, level_b(pre) < 0)], timeout_ms)
    lines.append(Line("state", "bounded below", status, secs))
    named = cases(pre, params)
    status, secs = _query([*ctx, Not(goal(pre, params)), *[Not(c) for _, c in named]], timeout_ms)
    lines.append(Line("state", "cover", status, secs))
    for name, cond in named:
        status, secs = _query([*ctx, cond], timeout_ms)
        lines.append(Line(name, "case satisfiable", _sat(status), secs))
        _, enabled = helpful(name, pre, params)
        status, secs = _query([*ctx, cond, Not(enabled)], timeout_ms)
        lines.append(Line(name, "enabled", status, secs))
    for action in traffic_free_actions():
        variants, step = cache.step(flags, params, shape, pre, post, action)
        no_increase = Or(_lex_less(pre, post, params), _equal(pre, post, params))
        status, secs = _query([*ctx, step, Not(no_increase)], timeout_ms)
        lines.append(Line(action, "no increase", status, secs))
        keeps = _stutter_keeps(pre, post)
        status, secs = _query([*ctx, step, _equal(pre, post, params), Not(keeps)], timeout_ms)
        lines.append(Line(action, "stutter", status, secs))
        for name, cond in named:
            if helpful(name, pre, params)[0] != action:
                continue
            instance = (
                Or(*[v["listener"] == RELIABLE for v in variants]) if action == "env_recv" else True
            )
            status, secs = _query(
                [*ctx, cond, step, instance, Not(_lex_less(pre, post, params))], timeout_ms
            )
            lines.append(Line(action, f"helps in case {name}", status, secs))
    return WeakReport(lines)
