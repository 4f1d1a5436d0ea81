"""What each inductive proof consists of: target, auxiliary conjuncts, assumptions, variants.

A plan lists the conjuncts of its inductive invariant (the catalogue property first), the
assumptions on the configs it covers, and the variants it is run for (each with the variant's
own transition relation). The scope string of a `proved` verdict is built from the plan, the
shape and the variant (see `scope`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from nfct_spec.proofs.actions import ActionPred, destroy_owed
from nfct_spec.proofs.induction import (
    BUILD_FAILURE_REPORTED,
    NO_BUILD_FAILURE,
    RETRY_POSITIVE,
    Assumption,
    InductionReport,
    Line,
    Relations,
    check_induction,
)
from nfct_spec.proofs.params import flags_for
from nfct_spec.proofs.vocab import Shape

LISTS = ("one-place", "aux-alloc-waits")
"""The slot bookkeeping most proofs rest on: each allocated conntrack on one list, a free slot
on none, and a waiting allocation's reserved slot free (so the allocation lands on no list)."""


@dataclass(frozen=True)
class Plan:
    """One inductive proof."""

    property_id: str
    variants: tuple[str, ...]
    conjuncts: tuple[str, ...]
    assumptions: tuple[Assumption, ...] = ()
    action_property: ActionPred | None = None
    why: str = ""

    @property
    def invariant_conjuncts(self) -> tuple[str, ...]:
        """The state conjuncts (the target is not one for an action property)."""
        return self.conjuncts


PLANS: tuple[Plan, ...] = (
    Plan(
        "table-bound",
        ("2.6.30", "6.x"),
        ("table-bound", "aux-alloc-waits", "aux-alloc-one-over", "aux-apend-range"),
        why="only count, alloc_pending and the limit: every step changes count by at most "
        "one, and early_drop admits only after its victim was freed",
    ),
    Plan(
        "count-exact",
        ("2.6.30", "2.6.31", "6.x"),
        ("count-exact", "aux-apend-range", *LISTS),
        why="count against the allocated slots; an allocation takes a free slot (the one its "
        "step names, or the one a waiting allocation reserved), a free empties one",
    ),
    Plan(
        "one-place",
        ("2.6.30", "2.6.31", "6.x"),
        (*LISTS, "aux-free-clean"),
        why="list membership per slot; with it the slots' observers: a free slot has none, so "
        "an allocation's fresh observers are the only ones its instance ever has (no proof "
        "needs aux-free-clean: every allocation starts the observers afresh; it is carried "
        "here to show that the abstract state of a free slot is the projection's)",
    ),
    Plan(
        "missed-only-undelivered",
        ("2.6.31",),
        (
            "missed-only-undelivered",
            "aux-cache-unconfirmed",
            "aux-dead-on-dying",
            "aux-dying-owes-destroy",
            *LISTS,
        ),
        why="missed, cache and the ghost pending bits per slot; the sockets are abstracted, "
        "so every send may succeed or fail",
    ),
    Plan(
        "missed-only-undelivered",
        ("6.x",),
        (
            "missed-only-undelivered",
            "aux-cache-unconfirmed",
            "aux-dead-on-dying",
            "aux-redelivery-owes-destroy",
            *LISTS,
        ),
        why="missed, cache and the ghost pending bits per slot; a failed DESTROY is OR-ed into "
        "missed while it is pending, and the conntrack is freed with the send that delivers it",
    ),
    Plan(
        "missed-keeps-undelivered",
        ("2.6.31",),
        (
            "missed-keeps-undelivered",
            "aux-cache-unconfirmed",
            "aux-dead-on-dying",
            "aux-dying-owes-destroy",
            *LISTS,
        ),
        why="the converse of missed-only-undelivered, over the same fields: a failed send ORs "
        "its events into missed, a successful one clears them from pending",
    ),
    Plan(
        "missed-keeps-undelivered",
        ("6.x",),
        (
            "missed-keeps-undelivered",
            "aux-cache-unconfirmed",
            "aux-dead-on-dying",
            "aux-redelivery-owes-destroy",
            *LISTS,
        ),
        why="the converse of missed-only-undelivered, over the same fields: a failed send ORs "
        "its events into missed, a successful one clears them from pending",
    ),
    Plan(
        "dying-has-retry",
        ("2.6.31",),
        ("dying-has-retry", "aux-timers-valid", "aux-worker-idle", *LISTS),
        why="timers of dying-list slots",
    ),
    Plan(
        "dying-has-retry",
        ("6.x",),
        ("dying-has-retry", "aux-redelivery-untimed", "aux-dying-order", *LISTS),
        why="the worker: a failed DESTROY schedules it, and a run that leaves entries on the "
        "list (a failure, or the shipped stop after one success) reschedules it",
    ),
    Plan(
        "destroy-before-free",
        ("2.6.31",),
        ("aux-silent-until-confirmed", "aux-no-fault-unarmed", *LISTS),
        (NO_BUILD_FAILURE,),
        destroy_owed,
        why="a slot is freed in the step of a successful DESTROY send, and success means "
        "every open BE socket of the DESTROY group took it (netlink_broadcast() reports "
        "ENOBUFS otherwise)",
    ),
    Plan(
        "destroy-before-free",
        ("6.x",),
        ("aux-silent-unconfirmed", "aux-no-fault-unarmed", *LISTS),
        (BUILD_FAILURE_REPORTED,),
        destroy_owed,
        why="nf_ct_delete() and ecache_work() free a slot only in the step of a successful "
        "DESTROY send, and success means every open BE socket of the DESTROY group took it; "
        "a message that cannot be built counts as failed when a NO_ENOBUFS socket listens",
    ),
    Plan(
        "no-crash",
        ("2.6.30", "6.x"),
        ("no-crash",),
        why="only 2.6.31's retry timer can divide by zero",
    ),
    Plan(
        "no-crash",
        ("2.6.31",),
        ("no-crash", "aux-retry-positive"),
        (RETRY_POSITIVE,),
        why="the crash needs a retry timeout of 0",
    ),
)


def check_plan(
    plan: Plan,
    variant: str,
    shape: Shape,
    timeout_ms: int,
    on_line: Callable[[Line], None] | None = None,
    relations: Relations | None = None,
) -> InductionReport:
    """Every (transition, conjunct) query of `plan` on `variant`'s relation, and the action
    property's queries when the plan has one."""
    return check_induction(
        flags_for(variant),
        shape,
        list(plan.conjuncts),
        list(plan.assumptions),
        {plan.property_id: plan.action_property} if plan.action_property else None,
        timeout_ms,
        on_line=on_line,
        relations=relations,
    )


def plans_for(property_id: str | None = None) -> list[Plan]:
    """The plans of one property (all when None)."""
    return [p for p in PLANS if property_id is None or p.property_id == property_id]


SCOPE_6X = ", both worker delays (first run and retry) and the shipped and the fixed ecache_work()"


def scope(plan: Plan, shape: Shape, variant: str = "") -> str:
    """The scope of a `proved` verdict of this plan on `variant`."""
    assumed = "".join(f"; assuming {a.id}: {a.statement}" for a in plan.assumptions)
    worker = SCOPE_6X if variant == "6.x" else ""
    return (
        f"inductive (Z3) for every nf_conntrack_max, listener capacity, ct timeout, retry "
        f"timeout, number of flows and listener options{worker}, with at most {shape.n} "
        f"conntracks existing at once ({shape.n} memory slots, any number of allocations over "
        f"time) and at most {shape.listeners} listeners{assumed}"
    )
