"""The configuration as parameters of the encoding: concrete (one config) or symbolic (all).

A symbolic `Params` leaves every number and option of a config free, constrained only by what
`nfct_spec.models.config.validate` accepts (and weaker where the model does not care, e.g. the
table limit and capacities are unbounded integers). A proof over symbolic parameters therefore
holds for every config with at most `Shape.n` allocations and `Shape.listeners` listeners.
The variant is not a parameter: each variant's transition relation is built separately, from
the flags of `nfct_spec.models.variants`. The 6.x worker's delays and the choice between the
shipped and the fixed ecache_work() are parameters like the other config values.
`nf_conntrack_events` ranges over 0..2 for every variant (the config accepts writes of 2
everywhere; 2.6.x reads any non-zero value as on, as the model does).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import z3

from nfct_spec.models.bits import GROUP_DESTROY, GROUP_EXPECT, GROUP_NEW, GROUP_UPDATE
from nfct_spec.models.config import Config
from nfct_spec.models.variants import Variant, variant_of
from nfct_spec.proofs.terms import Implies, Term
from nfct_spec.proofs.vocab import Shape

SYSCTL_NAMES = ("nf_conntrack_events", "events_retry_timeout")
GROUPS4 = (GROUP_NEW, GROUP_UPDATE, GROUP_DESTROY, GROUP_EXPECT)


Flags = Variant
"""Variant behaviour as the encoding uses it: the flags of `nfct_spec.models.variants.Variant`
themselves, so a builder branches on exactly the flag the Python action branches on."""


def flags_for(variant: str) -> Flags:
    """The flags of a modelled variant (KeyError for an unknown name)."""
    return variant_of(variant)


@dataclass(frozen=True)
class Params:
    """Everything fixed for a run: table limit, bounds, listener options, allowed env steps."""

    nl: Term
    ntools: Term
    limit: Term
    flows: Term
    maxct: Term
    ct_timeout: Term
    churn: Term
    expectations: Term
    faults: Term
    status_bit: Term
    protoinfo_bit: Term
    sysctl_ok: Callable[[int, Term], Term]
    sub: dict[str, list[Term]]
    be: list[Term]
    noenob: list[Term]
    cap: list[Term]
    open0: list[Term]
    events0: Term
    retry0: Term
    worker_first_delay: Term
    worker_retry_delay: Term
    ecache_work_fixed: Term

    def sub_of(self, group: str, i: int) -> Term:
        """Listener slot i subscribes to `group`."""
        return self.sub[group][i]


def concrete_params(config: Config, shape: Shape) -> Params:
    """The parameters of one config (plain Python values)."""
    ls = list(config.listeners)
    pad = shape.listeners - len(ls)
    allowed = {(SYSCTL_NAMES.index(n), v) for n, v in config.sysctl_writes}

    def col(fn: Callable[[Any], Any], default: Any) -> list[Any]:
        return [fn(x) for x in ls] + [default] * pad

    return Params(
        nl=len(ls),
        ntools=len(config.requesters),
        limit=config.nf_conntrack_max,
        flows=config.flows,
        maxct=config.max_conntracks,
        ct_timeout=config.ct_timeout,
        churn=config.listener_churn,
        expectations=config.expectations,
        faults="build_failure" in config.faults,
        status_bit="STATUS" in config.event_bits,
        protoinfo_bit="PROTOINFO" in config.event_bits,
        sysctl_ok=lambda name, value: (
            (name, value) in allowed
            if isinstance(value, int)
            else z3.Or([value == v for n, v in sorted(allowed) if n == name] or [False])
        ),
        sub={g: [g in x.groups for x in ls] + [False] * pad for g in GROUPS4},
        be=col(lambda x: x.broadcast_error, False),
        noenob=col(lambda x: x.no_enobufs, False),
        cap=col(lambda x: x.capacity, 1),
        open0=col(lambda x: x.open_at_start, False),
        events0=config.nf_conntrack_events,
        retry0=config.events_retry_timeout,
        worker_first_delay=config.worker_first_delay,
        worker_retry_delay=config.worker_retry_delay,
        ecache_work_fixed=config.ecache_work_fixed,
    )


def symbolic_params(shape: Shape, tag: str = "cfg") -> tuple[Params, list[Term]]:
    """Free parameters and the constraints every valid config satisfies."""
    lsl = range(shape.listeners)

    def bools(name: str) -> list[Term]:
        return [z3.Bool(f"{tag}.{name}[{i}]") for i in lsl]

    sysctl_fn = z3.Function(f"{tag}.sysctl_ok", z3.IntSort(), z3.IntSort(), z3.BoolSort())
    p = Params(
        nl=z3.Int(f"{tag}.listeners"),
        ntools=z3.Int(f"{tag}.requesters"),
        limit=z3.Int(f"{tag}.nf_conntrack_max"),
        flows=z3.Int(f"{tag}.flows"),
        maxct=z3.Int(f"{tag}.max_conntracks"),
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
    )
    constraints = [
        p.nl >= 1,
        p.nl <= shape.listeners,
        p.ntools >= 0,
        p.limit >= 0,
        p.flows >= 1,
        p.maxct >= 1,
        p.maxct <= shape.n,
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
