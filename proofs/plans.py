"""What each inductive proof consists of: target, auxiliary conjuncts, assumptions, variants.

A plan lists the conjuncts of its inductive invariant (the catalogue property first), the
assumptions on the configs it covers, and the variants (flag sets) it is run for. The scope
string of a `proved` verdict is built from the plan and the shape (see `scope`).
"""

from __future__ import annotations

from dataclasses import dataclass

from nfct_spec.proofs.actions import destroy_owed
from nfct_spec.proofs.induction import (
    NO_BUILD_FAILURE,
    RETRY_POSITIVE,
    ActionPred,
    Assumption,
)
from nfct_spec.proofs.params import ADMISSION_6X
from nfct_spec.proofs.vocab import Shape

LISTS = ("one-place", "aux-fresh", "aux-alloc-waits")


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
        ("2.6.30", ADMISSION_6X),
        ("table-bound", "aux-alloc-waits", "aux-alloc-one-over", "aux-apend-range"),
        why="only count, alloc_pending and the limit: every step changes count by at most "
        "one, and early_drop admits only after its victim was freed",
    ),
    Plan(
        "count-exact",
        ("2.6.30", "2.6.31", ADMISSION_6X),
        ("count-exact", "aux-apend-range", *LISTS),
        why="count against the allocated slots; a slot is taken only at the next uid",
    ),
    Plan(
        "one-place",
        ("2.6.30", "2.6.31", ADMISSION_6X),
        LISTS,
        why="list membership per slot",
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
        "dying-has-retry",
        ("2.6.31",),
        ("dying-has-retry", "aux-timers-valid", *LISTS),
        why="timers of dying-list slots",
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
        "no-crash",
        ("2.6.30",),
        ("no-crash",),
        why="2.6.30 never arms a retry timer",
    ),
    Plan(
        "no-crash",
        ("2.6.31",),
        ("no-crash", "aux-retry-positive"),
        (RETRY_POSITIVE,),
        why="the crash needs a retry timeout of 0",
    ),
)


def plans_for(property_id: str | None = None) -> list[Plan]:
    """The plans of one property (all when None)."""
    return [p for p in PLANS if property_id is None or p.property_id == property_id]


def scope(plan: Plan, shape: Shape) -> str:
    """The scope of a `proved` verdict of this plan."""
    assumed = "".join(f"; assuming {a.id}: {a.statement}" for a in plan.assumptions)
    return (
        f"inductive (Z3) for every nf_conntrack_max, listener capacity, ct timeout, retry "
        f"timeout, number of flows and listener options, with max_conntracks <= {shape.n} and "
        f"at most {shape.listeners} listeners{assumed}"
    )
