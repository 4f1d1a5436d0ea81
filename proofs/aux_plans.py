"""Plans for the auxiliary invariants: each is proved as a conjunct of an invariant that needs it.

An auxiliary conjunct (`aux-*`, catalogue entries of `nfct_spec.spec.auxiliary`) is not an
inductive invariant alone; it is one conjunct of the inductive invariant of some proof. Its plan
is that proof's conjunct list with the auxiliary conjunct first: when every (action, conjunct)
query of the list is unsat, every conjunct of it, this one included, holds in every reachable
state. The carrier chosen is the one with the fewest assumptions, then the fewest conjuncts.
"""

from __future__ import annotations

from nfct_spec.proofs.induction import Assumption
from nfct_spec.proofs.liveness import CONJUNCTS, assumptions
from nfct_spec.proofs.liveness import VARIANTS as DRAIN_VARIANTS
from nfct_spec.proofs.liveness_weak import EXTRA
from nfct_spec.proofs.liveness_weak import VARIANTS as WEAK_VARIANTS
from nfct_spec.proofs.plans import PLANS, Plan

Carrier = tuple[str, tuple[str, ...], tuple[Assumption, ...]]


def carriers(variant: str) -> list[Carrier]:
    """(name, conjuncts, assumptions) of every inductive invariant the proofs of `variant`
    establish: the plans', and those of the two destroy-eventually proofs."""
    out: list[Carrier] = [
        (p.property_id, p.conjuncts, p.assumptions) for p in PLANS if variant in p.variants
    ]
    if variant in DRAIN_VARIANTS:
        out.append(
            ("destroy-eventually (drain proof)", CONJUNCTS[variant], tuple(assumptions(variant)))
        )
    if variant in WEAK_VARIANTS:
        out.append(
            (
                "destroy-eventually (stated fairness)",
                (*CONJUNCTS[variant], *EXTRA),
                tuple(assumptions(variant)),
            )
        )
    return out


def aux_plan(conjunct: str, variant: str) -> Plan | None:
    """The plan that proves `conjunct` on `variant`, or None when no proof of it needs it."""
    options = [c for c in carriers(variant) if conjunct in c[1]]
    if not options:
        return None
    name, conjuncts, assumed = min(options, key=lambda c: (len(c[2]), len(c[1])))
    rest = tuple(c for c in conjuncts if c != conjunct)
    return Plan(
        conjunct,
        (variant,),
        (conjunct, *rest),
        assumed,
        why=f"a conjunct of the inductive invariant of {name}",
    )
