"""Lassos for `destroy-eventually` under each weaker fairness set, by BMC (2.6.31).

Target over the unrolled path: the last abstract state equals an earlier one (the loop start,
`LOOP_VAR`; the transient fields, which describe the step into a state, aside), some conntrack
is on the dying list in every state of the cycle, and no step of the cycle allocates a
conntrack. The last condition is the model's, not the kernel's: the lasso is
replayed with every observer, and the receipts give each new instance a new number, so a cycle
that allocates never returns to a state of the model (the abstract state, which names memory
slots, would close it). The fairness records that the set keeps add necessary conditions (the
final check is exact):

- `timers-fire`: the cycle contains a retry (death_by_event), a tick if time can pass in every
  state of it, and the handler of every timer that is due in some state of it (strong);
- `listeners-read`: for every listener with something to read in some state of the cycle, a
  read of it (strong, as the record is stated);
- `traffic-stops`: no step of the cycle is traffic;
- `retry-timeout-positive`: the retry timeout is positive in every state of the cycle.

An empty cycle is a state that stutters forever: allowed when nothing the kept records force is
enabled in it (no read pending, no timer and no worker pending, no packet in flight). The
conditions are necessary, not sufficient: `nfct_spec.engines.z3_bmc.find_lasso` replays the
decoded path through the Python model, repeats its cycle until the model returns to a state of
the cycle, and reports the lasso only if the explorer's exact fairness check accepts it.

What the lasso without `traffic-stops` shows (2.6.31): new packets of another conntrack keep the
reliable listener's one-message queue full whenever the dying conntrack's retry timer fires, so
every retry fails and re-arms, although the listener reads in every turn of the cycle.
"""

from __future__ import annotations

from itertools import pairwise

import z3

from nfct_spec.proofs.bmc import LOOP_VAR, PathTarget, StepSel
from nfct_spec.proofs.params import Params
from nfct_spec.proofs.vocab import TRANSIENT_FIELDS, AState, equal_fields
from nfct_spec.spec.fairness import (
    FAIRNESS,
    LISTENERS_READ,
    PACKETS_COMPLETE,
    RETRY_POSITIVE,
    TIMERS_FIRE,
    TRAFFIC_ACTIONS,
    TRAFFIC_STOPS,
)
from nfct_spec.spec.terms import And, Not, Or, Term

WEAKER = tuple(f.id for f in FAIRNESS if f.id != TRAFFIC_STOPS.id)
"""The fairness of the lasso that needs new traffic: everything but traffic-stops."""


def _tick_enabled(s: AState) -> Term:
    pending = [And(a, t != -1) for a, t in zip(s["alloc"], s["timer"], strict=True)]
    return And(
        Or(*pending), *[Or(Not(x), t != 0) for x, t in zip(pending, s["timer"], strict=True)]
    )


def _allocates(pre: AState, post: AState) -> Term:
    """The step allocates a conntrack: a slot holds an unconfirmed conntrack afterwards that it
    did not hold before (only an allocation puts a conntrack on the unconfirmed list)."""
    return Or(
        *[
            And(post["alloc"][u], post["inU"][u], Not(And(pre["alloc"][u], pre["inU"][u])))
            for u in range(len(pre["alloc"]))
        ]
    )


def _dying_throughout(cycle: list[AState]) -> Term:
    return Or(
        *[
            And(*[And(s["alloc"][u], s["inD"][u]) for s in cycle])
            for u in range(len(cycle[0]["alloc"]))
        ]
    )


def _waiting(s: AState, i: int) -> Term:
    return And(s["open"][i], Or(s["skerr"][i], s["qlen"][i] > 0))


def _stutters(p: Params, s: AState, fairness: tuple[str, ...]) -> Term:
    """Nothing the kept records force is enabled in `s` (a necessary condition). While an
    allocation waits for early_drop every other step is disabled, and after a crash every
    step is (`blocked`)."""
    blocked = Or(s["apend"] >= 0, s["crashed"])
    parts = []
    if LISTENERS_READ.id in fairness:
        parts += [Or(blocked, Not(_waiting(s, i))) for i in range(len(p.be))]
    if TIMERS_FIRE.id in fairness:
        parts.append(Or(blocked, And(s["worker"] == -1, *[t == -1 for t in s["timer"]])))
    if PACKETS_COMPLETE.id in fairness:
        in_flight = [And(a, u) for a, u in zip(s["alloc"], s["inU"], strict=True)]
        parts.append(Or(s["crashed"], Not(Or(s["apend"] >= 0, *in_flight))))
    if RETRY_POSITIVE.id in fairness:
        parts.append(s["retry"] > 0)
    return And(*parts)


def _cycle_fair(
    p: Params, cycle: list[AState], steps: list[StepSel], fairness: tuple[str, ...]
) -> Term:
    """The kept records' necessary conditions on a non-empty cycle."""
    parts = []
    if TIMERS_FIRE.id in fairness:
        parts.append(Or(*[st.taken("death_by_event") for st in steps]))
        ticking = And(*[_tick_enabled(s) for s in cycle[:-1]])
        parts.append(Or(Not(ticking), *[st.taken("env_tick") for st in steps]))
        for handler, where in (("death_by_event", "inD"), ("death_by_timeout", "inH")):
            for u in range(len(cycle[0]["alloc"])):
                due = Or(*[And(s["alloc"][u], s[where][u], s["timer"][u] == 0) for s in cycle[:-1]])
                fired = [And(st.taken(handler), st.arg(handler, "slot") == u) for st in steps]
                parts.append(Or(Not(due), *fired))
    if LISTENERS_READ.id in fairness:
        for i in range(len(p.be)):
            waiting = Or(*[_waiting(s, i) for s in cycle[:-1]])
            read = Or(
                *[And(st.taken("env_recv"), st.arg("env_recv", "listener") == i) for st in steps]
            )
            parts.append(Or(Not(waiting), read))
    if TRAFFIC_STOPS.id in fairness:
        parts += [Not(c.sel) for st in steps for c in st.choices if c.action in TRAFFIC_ACTIONS]
    if RETRY_POSITIVE.id in fairness:
        parts += [s["retry"] > 0 for s in cycle]
    return And(*parts)


def lasso_target(fairness: tuple[str, ...]) -> PathTarget:
    """The BMC target of a lasso under `fairness` (see the module docstring)."""

    def target(p: Params, states: list[AState], sels: list[StepSel]) -> Term:
        k = len(states) - 1
        loop = z3.Int(LOOP_VAR)
        names = [name for name in states[0] if name not in TRANSIENT_FIELDS]
        last = states[k]
        options = [And(loop == k, _dying_throughout([last]), _stutters(p, last, fairness))]
        for j in range(k):
            cycle = states[j : k + 1]
            options.append(
                And(
                    loop == j,
                    *equal_fields(states[j], states[k], names),
                    _dying_throughout(cycle),
                    *[Not(_allocates(a, b)) for a, b in pairwise(cycle)],
                    _cycle_fair(p, cycle, sels[j:k], fairness),
                )
            )
        return Or(*options)

    return target


def dropped_record(fairness: tuple[str, ...]) -> str:
    """The one record of the full set that `fairness` leaves out."""
    return next(f.id for f in FAIRNESS if f.id not in fairness)
