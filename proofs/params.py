"""Symbolic parameters: every config at once (the concrete ones are in `nfct_spec.spec.params`).

A symbolic `Params` leaves every number and option of a config free, constrained only by what
`nfct_spec.models.config.validate` accepts (and weaker where the model does not care, e.g. the
table limit and capacities are unbounded integers). A proof over symbolic parameters therefore
holds for every config with at most `Shape.n` memory slots and `Shape.listeners` listeners.
"""

from __future__ import annotations

import z3

from nfct_spec.models.bits import GROUP_DESTROY, GROUP_EXPECT, GROUP_NEW, GROUP_UPDATE
from nfct_spec.spec.params import (
    ATOMIC,
    GROUPS4,
    SYSCTL_NAMES,
    Era,
    Flags,
    Params,
    concrete_params,
    flags_for,
)
from nfct_spec.spec.terms import Implies, Term
from nfct_spec.spec.vocab import Shape

__all__ = [
    "ATOMIC",
    "GROUPS4",
    "SYSCTL_NAMES",
    "Era",
    "Flags",
    "Params",
    "concrete_params",
    "flags_for",
    "symbolic_params",
]


def symbolic_params(shape: Shape, tag: str = "cfg", era: Era = ATOMIC) -> tuple[Params, list[Term]]:
    """Free parameters and the constraints every valid config satisfies (of one era: the
    granularity and the smp flags are fixed, like the variant)."""
    lsl = range(shape.listeners)

    def bools(name: str) -> list[Term]:
        return [z3.Bool(f"{tag}.{name}[{i}]") for i in lsl]

    sysctl_fn = z3.Function(f"{tag}.sysctl_ok", z3.IntSort(), z3.IntSort(), z3.BoolSort())
    p = Params(
        nl=z3.Int(f"{tag}.listeners"),
        ntools=z3.Int(f"{tag}.requesters"),
        limit=z3.Int(f"{tag}.nf_conntrack_max"),
        flows=z3.Int(f"{tag}.flows"),
        slots=z3.Int(f"{tag}.slots"),
        ct_timeout=z3.Int(f"{tag}.ct_timeout"),
        churn=z3.Bool(f"{tag}.listener_churn"),
        expectations=z3.Bool(f"{tag}.expectations"),
        faults=z3.Bool(f"{tag}.build_failure"),
        status_bit=z3.Bool(f"{tag}.STATUS"),
        protoinfo_bit=z3.Bool(f"{tag}.PROTOINFO"),
        sysctl_ok=lambda name, value: sysctl_fn(name, value),
        sub={g: bools(f"sub_{g}") for g in (GROUP_NEW, GROUP_UPDATE, GROUP_DESTROY, GROUP_EXPECT)},
        be=bools("broadcast_error"),
        noenob=bools("no_enobufs"),
        cap=[z3.Int(f"{tag}.capacity[{i}]") for i in lsl],
        open0=bools("open_at_start"),
        events0=z3.Int(f"{tag}.nf_conntrack_events"),
        retry0=z3.Int(f"{tag}.events_retry_timeout"),
        worker_first_delay=z3.Int(f"{tag}.worker_first_delay"),
        worker_retry_delay=z3.Int(f"{tag}.worker_retry_delay"),
        ecache_work_fixed=z3.Bool(f"{tag}.ecache_work_fixed"),
        era=era,
    )
    constraints = [
        p.nl >= 1,
        p.nl <= shape.listeners,
        p.ntools >= 0,
        p.limit >= 0,
        p.flows >= 1,
        p.slots >= 1,
        p.slots <= shape.n,
        p.ct_timeout >= 1,
        p.events0 >= 0,
        p.events0 <= 2,
        p.retry0 >= 0,
        p.worker_first_delay >= 0,
        p.worker_retry_delay >= 0,
    ]
    for i in lsl:
        constraints.append(p.cap[i] >= 1)
        constraints.append(Implies(p.nl <= i, z3.Not(p.open0[i])))
    return p, constraints
