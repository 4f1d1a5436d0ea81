"""Inductive proofs of the fixed kernel eras (crash and deadlock freedom, the single handler
body, DESTROY before the free).

A plan names the catalogue entry, the era flags it needs (the fixes that make it hold), the
auxiliary conjuncts (`nfct_spec.spec.smp_invariants`, with the list and timer bookkeeping of
the atomic proofs) and the assumptions. It is checked over symbolic parameters with the era of
the config fixed, as each atomic proof fixes the variant: every config of that era with at most
the config's memory slots, listeners and CPUs, every limit, capacity, timeout, flow count and
listener option. The eras are 2.6.31's at granularity smp (and its other-namespace exit),
and the 6.x worker as released (atomic).
"""

from __future__ import annotations

from dataclasses import dataclass

from nfct_spec.models.config import ERA_FLAGS, Config
from nfct_spec.proofs.actions import ActionPred, destroy_owed
from nfct_spec.proofs.induction import (
    NO_BUILD_FAILURE,
    Assumption,
    InductionReport,
    check_induction,
)
from nfct_spec.proofs.params import flags_for
from nfct_spec.proofs.vocab import Shape, shape_for
from nfct_spec.spec.params import EXIT_FLAGS, era_of
from nfct_spec.spec.smp_invariants import timeout_handler_once
from nfct_spec.spec.terms import Not

SMP_AUX = (
    "aux-smp-owners-placed",
    "aux-smp-one-owner",
    "aux-smp-calls-shaped",
    "aux-smp-refs",
    "aux-smp-places",
    "aux-alloc-waits",
)
"""What every era proof rests on: one owner per deletion, the timer idle under it, references
counted, each conntrack in one place."""

ALL_GUARDS = {
    "delete_takes_timer": True,
    "iterator_takes_timer": True,
    "retry_timer_separate": True,
}
"""The fixes of 2012 and 3.12: every deleter takes ct->timeout first, the iterator too, and the
dying list's retry has a timer of its own."""


ERA_SHAPE = Shape(n=3, listeners=2, cpus=3)
"""The shape of the era proofs (a larger config's own shape is used instead). A proof with C
CPUs covers fewer: a run that never starts a C-th call is a run of C CPUs, and the crash
entries do not read the entries."""


def proof_shape(config: Config) -> Shape:
    """The shape an era proof of `config` is checked at: ERA_SHAPE, or larger to hold it."""
    own = shape_for(config)
    return Shape(
        n=max(own.n, ERA_SHAPE.n),
        listeners=max(own.listeners, ERA_SHAPE.listeners),
        cpus=max(own.cpus, ERA_SHAPE.cpus) if own.cpus else 0,
    )


@dataclass(frozen=True)
class EraPlan:
    """One inductive proof over the configs of the eras that have `needs`."""

    property_id: str
    needs: dict[str, bool]
    conjuncts: tuple[str, ...]
    assumptions: tuple[Assumption, ...] = ()
    why: str = ""
    action_property: ActionPred | None = None
    """For an entry about steps: its predicate over (pre, post); the conjuncts are then the
    invariant it is proved under, every step from a state of it keeping the predicate."""

    variant: str = "2.6.31"
    granularity: str = "smp"

    def applies(self, config: Config) -> bool:
        """The config is of an era this plan covers (its variant and granularity, with the
        flags it needs)."""
        if config.granularity != self.granularity or config.variant != self.variant:
            return False
        return all(getattr(config, name) == value for name, value in self.needs.items())

    def scope(self, config: Config) -> str:
        """What a `proved` verdict covers."""
        shape = proof_shape(config)
        flags = era_of(config)
        names = (*ERA_FLAGS, *EXIT_FLAGS, "worker_relocks_twice")
        era = ", ".join(name for name in names if getattr(flags, name)) or "as released"
        cpus = f" and {shape.cpus} CPUs" if shape.cpus else ""
        assumed = "".join(f"; assuming {a.id}: {a.statement}" for a in self.assumptions)
        return (
            f"inductive invariant over every {config.variant} {config.granularity} config of "
            f"this era ({era}) with at most {shape.n} memory slots, {shape.listeners} "
            f"listeners{cpus}, every limit, capacity, timeout and listener option{assumed}"
        )


_WHY = (
    "a deletion is owned by the CPU that took ct->timeout from pending (del_timer() or the "
    "expiry); the timer stays idle while it owns it, so no second CPU can, and the reference "
    "count is the owner's or list's one plus the calls' own"
)

_WORKER_WHY = (
    "; the ecache work walks the dying list by position (aux-dying-order) and frees only what "
    "it delivered"
)
CRASH_ENTRIES = ("no-double-unlink", "no-timer-rearm", "no-use-after-free")

RELEASED_ITERATOR = {
    "delete_takes_timer": True,
    "iterator_takes_timer": False,
    "retry_timer_separate": True,
}
"""The 2012 fixes with the iterator as released (it reports before it takes the timer)."""

DELETE_GUARD = {
    "delete_takes_timer": True,
    "iterator_takes_timer": False,
    "retry_timer_separate": False,
}
"""Only the 2012 delete fix: the retry still runs on ct->timeout, so a deleter that looked the
conntrack up while it was hashed can take its retry (it then unhashes it twice, which
no-double-unlink catches; the proofs here are of the other crash entries)."""
_DYING_AUX = tuple(
    "aux-smp-owners-placed-dying" if name == "aux-smp-owners-placed" else name for name in SMP_AUX
)

ITERATOR_GUARD = {
    "delete_takes_timer": True,
    "iterator_takes_timer": True,
    "retry_timer_separate": False,
    "retry_by_worker": False,
}
"""The delete fix and the 3.12 iterator, the retry still on ct->timeout."""

_HANDLER_WHY = (
    "; a handler body starts only where the timer was pending (its expiry, or a del_timer() "
    "that runs death_by_timeout() inline), and a body in progress or the dying list leaves "
    "it idle (with the separate retry timer, or where every deleter takes the timer for its "
    "own body)"
)


def _handler(needs: dict[str, bool], aux: tuple[str, ...]) -> EraPlan:
    return EraPlan(
        "timeout-handler-once",
        needs,
        aux,
        why=_WHY + _HANDLER_WHY,
        action_property=timeout_handler_once,
    )


def _invariants(
    props: tuple[str, ...], needs: dict[str, bool], aux: tuple[str, ...], why: str = _WHY
) -> tuple[EraPlan, ...]:
    """One plan per invariant entry of `props`, each first among its conjuncts."""
    return tuple(EraPlan(prop, needs, (prop, *aux), why=why) for prop in props)


TIMER_NOT_TAKEN = ("no-timer-rearm", "no-use-after-free")
"""The crash entries that hold while a deleter can still take a dying conntrack's retry (which
makes it unhash that conntrack twice)."""
GUARDED = {**ALL_GUARDS, "retry_by_worker": False}
WORKER = {**ALL_GUARDS, "retry_by_worker": True}
_WORKER_AUX = (*SMP_AUX, "aux-dying-order")

PLANS: tuple[EraPlan, ...] = (
    *_invariants(TIMER_NOT_TAKEN, DELETE_GUARD, _DYING_AUX),
    *_invariants(TIMER_NOT_TAKEN, ITERATOR_GUARD, _DYING_AUX),
    _handler(ITERATOR_GUARD, _DYING_AUX),
    *_invariants(CRASH_ENTRIES, RELEASED_ITERATOR, SMP_AUX),
    *_invariants(CRASH_ENTRIES, GUARDED, SMP_AUX),
    _handler(GUARDED, SMP_AUX),
    *_invariants(CRASH_ENTRIES, WORKER, _WORKER_AUX, _WHY + _WORKER_WHY),
    _handler(WORKER, _WORKER_AUX),
)
"""The crash entries and the single handler body, per era of 2.6.31's fixes."""


_EXIT_WHY = (
    "the only deadlock an encoded config can reach is 2.6.31 nf_ct_release_dying_list() "
    "running death_by_event() under the nf_conntrack_lock it holds, on init_net's dying list "
    "at another namespace's exit; {fix}, so no step deadlocks"
)
EXIT_PLANS: tuple[EraPlan, ...] = (
    EraPlan(
        "deadlock-free",
        {"other_netns_exit": True, "release_own_dying_list": True},
        ("deadlock-free",),
        why=_EXIT_WHY.format(fix="the exit walks the exiting namespace's own list instead"),
    ),
    EraPlan(
        "deadlock-free",
        {"other_netns_exit": True, "retry_timer_separate": True},
        ("deadlock-free",),
        why=_EXIT_WHY.format(fix="with the separate retry timer nf_ct_kill()'s del_timer() fails"),
    ),
)
"""The fix of the 2.6.31 namespace-exit deadlock (and the later change that also removes it)."""

WORKER_PLANS: tuple[EraPlan, ...] = (
    EraPlan(
        "deadlock-free",
        {"worker_relocks_twice": False},
        ("deadlock-free",),
        why="the released 6.x worker drops dying_lock at a batch end and takes it once at "
        "`next:`; no other encoded 6.x step takes a lock it holds",
        variant="6.x",
        granularity="atomic",
    ),
)
"""The 6.x worker as released, beside the version under review that deadlocks."""


NO_CHURN = Assumption(
    "no-listener-churn",
    "no listener opens or closes during the run (at smp the free comes steps after the "
    "DESTROY; a listener that opens in between was never sent it)",
    lambda p: Not(p.churn),
)
DELIVERY_PLANS: tuple[EraPlan, ...] = tuple(
    EraPlan(
        "destroy-before-free",
        {**WORKER, **extra},
        (
            *_WORKER_AUX,
            "aux-smp-destroy-delivered",
            "aux-silent-unconfirmed",
            "aux-no-fault-unarmed",
        ),
        (NO_BUILD_FAILURE, NO_CHURN),
        why=_WHY
        + "; a conntrack is freed only after a delivered DESTROY (by its owner or the work), "
        "and a delivered DESTROY is queued at every reliable listener",
        action_property=destroy_owed,
    )
    for extra in (
        {"delete_test_and_set_dying": False},
        {"delete_test_and_set_dying": True, "ecache_destroy_state": True},
    )
)
"""The 3.17 scheme as released and with the test-and-set guard and the 4.9 fix."""


ALL_PLANS: tuple[EraPlan, ...] = (*PLANS, *EXIT_PLANS, *WORKER_PLANS, *DELIVERY_PLANS)


def era_plan(property_id: str, config: Config) -> EraPlan | None:
    """The plan that proves `property_id` on the era of `config`, if one is written."""
    for plan in ALL_PLANS:
        if plan.property_id == property_id and plan.applies(config):
            return plan
    return None


def check_era_plan(
    plan: EraPlan, config: Config, timeout_ms: int, shape: Shape | None = None
) -> InductionReport:
    """Check the plan over every config of `config`'s era, at `proof_shape(config)` unless
    another shape is given."""
    return check_induction(
        flags_for(config.variant),
        shape or proof_shape(config),
        list(plan.conjuncts),
        list(plan.assumptions),
        action_props=({plan.property_id: plan.action_property} if plan.action_property else None),
        timeout_ms=timeout_ms,
        era=era_of(config),
    )
