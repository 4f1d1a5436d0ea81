"""A lasso for `destroy-eventually` under the weaker fairness without `traffic-stops`, by BMC.

Target over the unrolled path: the last abstract state equals an earlier one (the loop start,
`LOOP_VAR`), some conntrack is on the dying list in every state of the cycle, and the cycle
contains a retry (death_by_event) and, for every listener with something to read in every
state of the cycle, a read of it (weak fairness of `listeners-read`), and a tick if time can
pass in every state of it (`timers-fire`). The decoded path is replayed through
the Python model, its cycle repeated until a model state repeats exactly, and the resulting
lasso is checked for fairness by `nfct_spec.engines.lasso.check_lasso` with every fairness
record except `traffic-stops`: a lasso that fails that check is not reported.

What the lasso shows (2.6.31): new packets of another conntrack keep the reliable listener's
one-message queue full whenever the dying conntrack's retry timer fires, so every retry fails
and re-arms, although the listener reads in every turn of the cycle.
"""

from __future__ import annotations

import z3

from nfct_spec.engines.lasso import check_lasso
from nfct_spec.models.config import Config
from nfct_spec.proofs.bmc import LOOP_VAR, BmcResult, StepSel, run_lasso
from nfct_spec.proofs.params import Params
from nfct_spec.proofs.terms import And, Not, Or, Term
from nfct_spec.proofs.vocab import AState, equal_fields
from nfct_spec.spec.fairness import FAIRNESS, TRAFFIC_STOPS

WEAKER = tuple(f.id for f in FAIRNESS if f.id != TRAFFIC_STOPS.id)
"""The fairness of the lasso: everything but traffic-stops."""


def _tick_enabled(s: AState) -> Term:
    pending = [And(a, t != -1) for a, t in zip(s["alloc"], s["timer"], strict=True)]
    return And(
        Or(*pending), *[Or(Not(x), t != 0) for x, t in zip(pending, s["timer"], strict=True)]
    )


def _target(p: Params, states: list[AState], sels: list[StepSel]) -> Term:
    k = len(states) - 1
    loop = z3.Int(LOOP_VAR)
    options = []
    names = list(states[0])
    for j in range(k):
        cycle = states[j : k + 1]
        steps = sels[j:k]
        dying = Or(
            *[
                And(*[And(s["alloc"][u], s["inD"][u]) for s in cycle])
                for u in range(len(states[0]["alloc"]))
            ]
        )
        reads = []
        for i in range(len(p.be)):
            waiting = And(
                *[And(s["open"][i], Or(s["skerr"][i], s["qlen"][i] > 0)) for s in cycle[:-1]]
            )
            read = Or(
                *[And(st.taken("env_recv"), st.arg("env_recv", "listener") == i) for st in steps]
            )
            reads.append(Or(Not(waiting), read))
        ticking = And(*[_tick_enabled(s) for s in cycle[:-1]])
        reads.append(Or(Not(ticking), *[st.taken("env_tick") for st in steps]))
        options.append(
            And(
                loop == j,
                *equal_fields(states[j], states[k], names),
                dying,
                Or(*[st.taken("death_by_event") for st in steps]),
                *reads,
            )
        )
    return Or(*options)


def find_lasso(config: Config, max_depth: int, timeout_ms: int) -> tuple[BmcResult, int | None]:
    """The shortest fair lasso found, replayed, or a result without a trace."""
    meta = {
        "lasso-of": "destroy-eventually",
        "finding": "fair lasso",
        "fairness": list(WEAKER),
        "engine": "z3",
        "variant": config.variant,
    }
    found, loop = run_lasso(config, _target, max_depth, meta, timeout_ms)
    if found.trace is None or loop is None:
        return BmcResult(None, found.depth, found.seconds, found.status), None
    trace = found.trace
    why = check_lasso(config, trace.states, trace.steps, loop, WEAKER)
    if why is not None:
        return BmcResult(None, found.depth, found.seconds, f"unfair: {why}"), None
    trace.meta["step"] = loop
    return found, loop
