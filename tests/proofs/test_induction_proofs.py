"""The inductive proofs go through, their assumptions are satisfiable, and each proved
invariant is broken by a seeded mutant of the encoding (so no proof is vacuous)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import z3

from nfct_spec.proofs import kernel_z3
from nfct_spec.proofs.induction import check_induction
from nfct_spec.proofs.invariants import BY_ID as INV
from nfct_spec.proofs.liveness import FAIR_ACTIONS, check_ranking
from nfct_spec.proofs.params import flags_for, symbolic_params
from nfct_spec.proofs.plans import PLANS, Plan, plans_for
from nfct_spec.proofs.terms import And
from nfct_spec.proofs.vocab import Shape, fresh_state

SMALL = Shape(n=3, listeners=2)


def _cases() -> Iterator[tuple[Plan, str]]:
    for plan in PLANS:
        for variant in plan.variants:
            yield plan, variant


def _run(plan: Plan, variant: str, shape: Shape = SMALL) -> list[tuple[str, str, str]]:
    report = check_induction(
        flags_for(variant),
        shape,
        list(plan.conjuncts),
        list(plan.assumptions),
        {plan.property_id: plan.action_property} if plan.action_property else None,
        timeout_ms=20000,
    )
    return [(x.transition, x.conjunct, x.status) for x in report.lines if x.status != "proved"]


@pytest.mark.parametrize(
    ("plan", "variant"), list(_cases()), ids=lambda x: getattr(x, "property_id", x)
)
def test_every_plan_is_inductive_on_every_variant_it_names(plan: Plan, variant: str) -> None:
    assert _run(plan, variant) == []


@pytest.mark.parametrize(
    ("plan", "variant"), list(_cases()), ids=lambda x: getattr(x, "property_id", x)
)
def test_the_assumptions_and_invariant_of_every_plan_are_satisfiable(
    plan: Plan, variant: str
) -> None:
    params, base = symbolic_params(SMALL)
    state = fresh_state(SMALL, "s")
    solver = z3.Solver()
    solver.add(*base, *[a.constraint(params) for a in plan.assumptions])
    solver.add(And(*[INV[c].pred(state, params) for c in plan.conjuncts]))
    solver.add(state["count"] >= 2, params.limit >= 1)
    assert solver.check() == z3.sat


def test_table_bound_fails_induction_for_2_6_31_admission_at_early_drop_only() -> None:
    plan = plans_for("table-bound")[0]
    failures = _run(plan, "2.6.31")
    assert failures == [("early_drop", "table-bound", "cti")]


def test_a_free_that_forgets_the_count_breaks_count_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    original = kernel_z3.free

    def leaky_free(s: kernel_z3.Sym, uid: object) -> None:
        count = s.get("count")
        original(s, uid)
        s.put("count", count)

    monkeypatch.setattr(kernel_z3, "free", leaky_free)
    failures = _run(plans_for("count-exact")[0], "2.6.31")
    assert ("destroy_conntrack", "count-exact", "cti") in failures


def test_parking_on_the_dying_list_without_unhashing_breaks_one_place(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kernel_z3, "delete_from_lists", lambda s, uid: None)
    failures = _run(plans_for("one-place")[0], "2.6.31")
    assert ("death_by_timeout", "one-place", "cti") in failures


def test_a_send_that_marks_missed_bits_delivered_breaks_missed_only_undelivered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = kernel_z3.send

    def eager_send(s: kernel_z3.Sym, p: object, uid: object, bits: object, *rest: object) -> object:
        failed = original(s, p, uid, bits, *rest)  # type: ignore[arg-type]
        s.put("pend", kernel_z3.clear(s.at("pend", uid), bits), uid)
        return failed

    monkeypatch.setattr(kernel_z3, "send", eager_send)
    failures = _run(plans_for("missed-only-undelivered")[0], "2.6.31")
    assert any(c == "missed-only-undelivered" for _, c, _ in failures)


def test_a_retry_that_arms_no_timer_breaks_dying_has_retry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kernel_z3, "arm_retry_timer", lambda s, uid: None)
    failures = _run(plans_for("dying-has-retry")[0], "2.6.31")
    assert ("death_by_event", "dying-has-retry", "cti") in failures


def test_a_broadcast_that_hides_be_overruns_breaks_destroy_before_free(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = kernel_z3.multicast

    def no_failure(*args: object) -> tuple[object, object]:
        _, delivered = original(*args)  # type: ignore[arg-type]
        return False, delivered

    monkeypatch.setattr(kernel_z3, "multicast", no_failure)
    failures = _run(plans_for("destroy-before-free")[0], "2.6.31")
    assert ("death_by_timeout", "destroy-before-free", "cti") in failures


def test_dropping_the_retry_assumption_breaks_no_crash() -> None:
    plan = plans_for("no-crash")[1]
    unassumed = Plan(plan.property_id, plan.variants, plan.conjuncts)
    failures = _run(unassumed, "2.6.31")
    assert ("init", "aux-retry-positive", "cti") in failures


def test_6x_admission_is_what_makes_table_bound_inductive() -> None:
    plan = plans_for("table-bound")[0]
    assert _run(plan, "6.x-admission") == []
    assert _run(plan, "2.6.31") != []


def test_the_drain_measure_decreases_on_every_fair_step_of_2_6_31() -> None:
    report = check_ranking(SMALL)
    assert report.proved
    assert {line.transition for line in report.lines} >= set(FAIR_ACTIONS)


def test_without_reads_before_retries_a_retry_need_not_decrease_the_measure() -> None:
    report = check_ranking(SMALL, priority=False)
    failed = [(x.transition, x.conjunct) for x in report.lines if x.status != "proved"]
    assert failed == [("death_by_event", "M decreases")]
