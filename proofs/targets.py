"""BMC targets: the catalogue findings that the abstract state can express.

Each target is the Z3 reading of the catalogue predicate of the same id on the last unrolled
step (a violated invariant, a violated action property, or a witness step). The decoded trace
is replayed through the Python model, which evaluates the catalogue's own predicate, so a
target that is weaker than the catalogue's would show up as a replay failure, never pass.
Properties whose predicates read message contents, what each listener received or the order
of deaths (may-reorder, may-duplicate, may-coalesce, may-lose-without-be, ...) have no target
here: the abstract state keeps queue lengths, not messages.
"""

from __future__ import annotations

from nfct_spec.models.bits import GROUP_DESTROY
from nfct_spec.proofs.actions import destroy_owed
from nfct_spec.proofs.bmc import StepSel, Target
from nfct_spec.proofs.params import Params
from nfct_spec.proofs.vocab import AState
from nfct_spec.spec.invariants import BY_ID as INV
from nfct_spec.spec.smp_invariants import timeout_handler_once
from nfct_spec.spec.terms import And, Not, Or, Term, count, sel


def _violated(prop_id: str) -> Target:
    """The target of an invariant: the state after the last step breaks it."""

    def target(p: Params, pre: AState, post: AState, step: StepSel) -> Term:
        return Not(INV[prop_id].pred(post, p))

    return target


def _destroy_before_free(p: Params, pre: AState, post: AState, step: StepSel) -> Term:
    return Not(destroy_owed(p, pre, post))


def _dropped_when_full(p: Params, pre: AState, post: AState, step: StepSel) -> Term:
    dying = count([And(a, d) for a, d in zip(pre["alloc"], pre["inD"], strict=True)])
    return And(
        step.taken("early_drop"),
        step.arg("early_drop", "victim") == -1,
        dying > 0,
        pre["count"] - dying <= p.limit,
    )


def _flush_confirm_race(p: Params, pre: AState, post: AState, step: StepSel) -> Term:
    uid = step.arg("__nf_conntrack_confirm", "slot")
    return And(
        step.taken("__nf_conntrack_confirm"),
        sel(post["alloc"], uid),
        sel(post["dbit"], uid),
        sel(post["ecache"], uid),
    )


def _silent_destroy(p: Params, pre: AState, post: AState, step: StepSel) -> Term:
    reliable = Or(
        *[
            And(i < p.nl, post["open"][i], p.be[i], p.sub_of(GROUP_DESTROY, i))
            for i in range(len(p.be))
        ]
    )
    freed = Or(
        *[
            And(post["freed"][u], Or(pre["inH"][u], pre["inD"][u]), Not(pre["ecache"][u]))
            for u in range(len(pre["alloc"]))
        ]
    )
    return And(freed, reliable)


def _timeout_handler_twice(p: Params, pre: AState, post: AState, step: StepSel) -> Term:
    return Not(timeout_handler_once(p, pre, post))


TARGETS: dict[str, Target] = {
    "no-double-unlink": _violated("no-double-unlink"),
    "no-timer-rearm": _violated("no-timer-rearm"),
    "no-use-after-free": _violated("no-use-after-free"),
    "deadlock-free": _violated("deadlock-free"),
    "timeout-handler-once": _timeout_handler_twice,
    "flush-confirm-race": _flush_confirm_race,
    "no-destroy-before-listener": _silent_destroy,
    "table-bound": _violated("table-bound"),
    "no-crash": _violated("no-crash"),
    "missed-keeps-undelivered": _violated("missed-keeps-undelivered"),
    "destroy-before-free": _destroy_before_free,
    "may-drop-when-full": _dropped_when_full,
}
