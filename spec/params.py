"""The configuration as parameters of the invariants and the encoding: concrete (one config);
the symbolic form (every config) is `nfct_spec.proofs.params.symbolic_params`.

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

from nfct_spec.models.bits import GROUP_DESTROY, GROUP_EXPECT, GROUP_NEW, GROUP_UPDATE
from nfct_spec.models.config import ERA_FLAGS, Config
from nfct_spec.models.variants import Variant, variant_of
from nfct_spec.spec.terms import Or, Term, symbolic
from nfct_spec.spec.vocab import Shape

SYSCTL_NAMES = ("nf_conntrack_events", "events_retry_timeout")
GROUPS4 = (GROUP_NEW, GROUP_UPDATE, GROUP_DESTROY, GROUP_EXPECT)


Flags = Variant
"""Variant behaviour as the encoding uses it: the flags of `nfct_spec.models.variants.Variant`
themselves, so a builder branches on exactly the flag the Python action branches on."""


def flags_for(variant: str) -> Flags:
    """The flags of a modelled variant (KeyError for an unknown name)."""
    return variant_of(variant)


@dataclass(frozen=True)
class Era:
    """The granularity and, at smp, the CPUs and the kernel-era flags of a config
    (`nfct_spec.models.smp`), and whether another namespace may exit (and which dying list its
    exit walks): fixed when a relation is built, like the variant, since each era is its own
    transition relation. `flush` says whether `conntrack -F` is allowed (the smp
    flush start checks it, as its domain does)."""

    smp: bool = False
    cpus: int = 0
    flush: bool = True
    delete_takes_timer: bool = False
    iterator_takes_timer: bool = False
    retry_timer_separate: bool = False
    retry_by_worker: bool = False
    delete_test_and_set_dying: bool = False
    ecache_destroy_state: bool = False
    other_netns_exit: bool = False
    release_own_dying_list: bool = False
    worker_relocks_twice: bool = False
    ecache_batch: int = 0
    """6.x, with `worker_relocks_twice` (the worker under review): the DESTROYs per hold of
    dying_lock after which it takes the lock twice (0 otherwise: as released a batch end
    changes nothing the model tracks)."""


ATOMIC = Era()
"""Every kernel function one step."""

EXIT_FLAGS = ("other_netns_exit", "release_own_dying_list")
"""Another namespace's exit (2.6.31 nf_ct_release_dying_list()), at either granularity."""


def era_of(config: Config) -> Era:
    """The era of a config (`ATOMIC` at the atomic granularity)."""
    exits = {name: bool(getattr(config, name)) for name in EXIT_FLAGS}
    if config.worker_relocks_twice:
        return Era(worker_relocks_twice=True, ecache_batch=config.ecache_batch)
    if config.granularity != "smp":
        return Era(**exits) if any(exits.values()) else ATOMIC
    flags = {name: bool(getattr(config, name)) for name in ERA_FLAGS}
    return Era(smp=True, cpus=config.cpus, flush=config.flush, **flags, **exits)


@dataclass(frozen=True)
class Params:
    """Everything fixed for a run: table limit, bounds, listener options, allowed env steps."""

    nl: Term
    ntools: Term
    limit: Term
    flows: Term
    slots: Term
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
    era: Era = ATOMIC

    def sub_of(self, group: str, i: int) -> Term:
        """Listener slot i subscribes to `group`."""
        return self.sub[group][i]


def _sysctl_ok(allowed: set[tuple[int, int]], name: int, value: Term) -> Term:
    """Whether the config lets the environment write `value` to sysctl `name` (a symbolic
    value gives the disjunction over the allowed writes)."""
    if not symbolic(value):
        return (name, value) in allowed
    return Or(*[value == v for n, v in sorted(allowed) if n == name])


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
        slots=config.slots,
        ct_timeout=config.ct_timeout,
        churn=config.listener_churn,
        expectations=config.expectations,
        faults="build_failure" in config.faults,
        status_bit="STATUS" in config.event_bits,
        protoinfo_bit="PROTOINFO" in config.event_bits,
        sysctl_ok=lambda name, value: _sysctl_ok(allowed, name, value),
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
        era=era_of(config),
    )
