"""BMC targets: the catalogue findings that the abstract state can express.

Each target is the Z3 reading of the catalogue predicate of the same id on the last unrolled
step (a violated invariant, a violated action property, or a witness step). The decoded trace
is replayed through the Python model, which evaluates the catalogue's own predicate, so a
target that is weaker than the catalogue's would show up as a replay failure, never pass.
Properties whose predicates read message contents or the order of deaths (may-reorder,
may-duplicate, ...) have no target here.
"""

from __future__ import annotations

from nfct_spec.proofs.actions import destroy_owed
from nfct_spec.proofs.bmc import StepSel, Target
from nfct_spec.proofs.invariants import BY_ID as INV
from nfct_spec.proofs.params import Params
from nfct_spec.proofs.terms import And, Not, Term, count
from nfct_spec.proofs.vocab import AState


def _table_bound(p: Params, pre: AState, post: AState, step: StepSel) -> Term:
    return Not(INV["table-bound"].pred(post, p))


def _no_crash(p: Params, pre: AState, post: AState, step: StepSel) -> Term:
    return post["crashed"]


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


TARGETS: dict[str, Target] = {
    "table-bound": _table_bound,
    "no-crash": _no_crash,
    "destroy-before-free": _destroy_before_free,
    "may-drop-when-full": _dropped_when_full,
}
