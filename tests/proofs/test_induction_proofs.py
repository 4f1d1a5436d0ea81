"""The inductive proofs go through, their assumptions are satisfiable, and each proved
invariant is broken by a seeded mutant of the encoding (so no proof is vacuous)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import z3

from nfct_spec.proofs import kernel_z3, liveness
from nfct_spec.proofs.liveness import check_ranking, fair_actions
from nfct_spec.proofs.params import Flags, Params, symbolic_params
from nfct_spec.proofs.plans import PLANS, Plan, check_plan, plans_for
from nfct_spec.proofs.vocab import AState, Shape, fresh_state
from nfct_spec.spec.invariants import BY_ID as INV
from nfct_spec.spec.terms import And, If, Not, Term
from tests.proofs.mutants import install_admit_anyway

SMALL = Shape(n=3, listeners=2)


def _cases() -> Iterator[tuple[Plan, str]]:
    for plan in PLANS:
        for variant in plan.variants:
            yield plan, variant


def _run(plan: Plan, variant: str, shape: Shape = SMALL) -> list[tuple[str, str, str]]:
    report = check_plan(plan, variant, shape, timeout_ms=20000)
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


def test_a_free_that_keeps_the_instances_observers_breaks_free_clean(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = kernel_z3.free

    def keeps_observers(s: kernel_z3.Sym, uid: Term) -> None:
        kept = [(name, s.at(name, uid)) for name in ("pend", "rep", "dead")]
        listeners = range(len(s.get("hasD")))
        rows = [(name, i, s.at(name, i, uid)) for name in ("hasD", "owed") for i in listeners]
        original(s, uid)
        for name, value in kept:
            s.put(name, value, uid)
        for name, i, value in rows:
            s.put(name, value, i, uid)

    monkeypatch.setattr(kernel_z3, "free", keeps_observers)
    failures = _run(plans_for("one-place")[0], "2.6.31")
    assert ("destroy_conntrack", "aux-free-clean", "cti") in failures


def test_an_allocation_that_keeps_its_reservation_breaks_alloc_waits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = kernel_z3.allocate

    def keeps_reservation(s: kernel_z3.Sym, p: Params, f: Flags, slot: Term, flow: Term) -> None:
        reserved = s.get("aslot")
        original(s, p, f, slot, flow)
        s.put("aslot", reserved)

    monkeypatch.setattr(kernel_z3, "allocate", keeps_reservation)
    failures = _run(plans_for("one-place")[0], "2.6.31")
    assert ("early_drop", "aux-alloc-waits", "cti") in failures


def _install_eager_send(monkeypatch: pytest.MonkeyPatch) -> None:
    """The mutant: a send that also marks the bits it sent as no longer pending."""
    original = kernel_z3.send

    def eager_send(
        s: kernel_z3.Sym, p: object, f: object, uid: object, bits: object, *rest: object
    ) -> object:
        failed = original(s, p, f, uid, bits, *rest)  # type: ignore[arg-type]
        s.put("pend", kernel_z3.clear(s.at("pend", uid), bits), uid)
        return failed

    monkeypatch.setattr(kernel_z3, "send", eager_send)


def test_a_send_that_marks_missed_bits_delivered_breaks_missed_only_undelivered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _install_eager_send(monkeypatch)
    failures = _run(plans_for("missed-only-undelivered")[0], "2.6.31")
    assert any(c == "missed-only-undelivered" for _, c, _ in failures)


def _install_forgetful_missed(monkeypatch: pytest.MonkeyPatch) -> None:
    """nf_ct_deliver_cached_events() whose failed send replaces `missed` by the new events,
    forgetting the bits that failed before (the model mutant of tests/mutants)."""
    send = kernel_z3.send

    def forgetful(s: kernel_z3.Sym, p: Params, f: Flags, uid: Term) -> None:
        with s.when(And(s.at("alloc", uid), s.at("ecache", uid))):
            events = s.at("cache", uid)
            s.put("cache", 0, uid)
            missed = s.at("missed", uid)
            with s.when(And(kernel_z3.confirmed(s, uid), Not(s.at("dbit", uid)), events != 0)):
                failed = send(s, p, f, uid, events | missed, 0, False)
                with s.when(failed):
                    s.put("missed", events, uid)
                with s.when(Not(failed)):
                    s.put("missed", kernel_z3.clear(s.at("missed", uid), missed), uid)

    monkeypatch.setattr(kernel_z3, "deliver_cached_events", forgetful)


@pytest.mark.parametrize("variant", ["2.6.31", "6.x"])
def test_a_failed_delivery_that_forgets_older_missed_bits_breaks_missed_keeps_undelivered(
    monkeypatch: pytest.MonkeyPatch, variant: str
) -> None:
    _install_forgetful_missed(monkeypatch)
    failures = _run(_plan("missed-keeps-undelivered", variant), variant)
    assert any(c == "missed-keeps-undelivered" for _, c, _ in failures), failures


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


def _plan(property_id: str, variant: str) -> Plan:
    [plan] = [p for p in plans_for(property_id) if variant in p.variants]
    return plan


def test_a_6x_early_drop_that_admits_after_a_failed_delete_breaks_table_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install_admit_anyway(monkeypatch)
    failures = _run(_plan("table-bound", "6.x"), "6.x")
    assert failures == [("early_drop", "table-bound", "cti")]


def test_a_6x_free_that_forgets_the_count_breaks_count_exact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = kernel_z3.free

    def leaky_free(s: kernel_z3.Sym, uid: object) -> None:
        count = s.get("count")
        original(s, uid)
        s.put("count", count)

    monkeypatch.setattr(kernel_z3, "free", leaky_free)
    failures = _run(_plan("count-exact", "6.x"), "6.x")
    assert ("ecache_work", "count-exact", "cti") in failures


def test_a_6x_delete_that_parks_without_unhashing_breaks_one_place(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kernel_z3, "delete_from_lists", lambda s, uid: None)
    failures = _run(_plan("one-place", "6.x"), "6.x")
    assert ("gc_worker", "one-place", "cti") in failures


def test_a_6x_send_that_marks_missed_bits_delivered_breaks_missed_only_undelivered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _install_eager_send(monkeypatch)
    failures = _run(_plan("missed-only-undelivered", "6.x"), "6.x")
    assert ("gc_worker", "missed-only-undelivered", "cti") in failures


def test_a_failed_6x_delete_that_schedules_no_worker_breaks_dying_has_retry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kernel_z3, "schedule_on_failure", lambda s, p: None)
    failures = _run(_plan("dying-has-retry", "6.x"), "6.x")
    assert ("gc_worker", "dying-has-retry", "cti") in failures
    assert all(action != "ecache_work" for action, _, _ in failures)


def test_a_6x_worker_that_does_not_reschedule_after_a_failure_breaks_dying_has_retry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = kernel_z3.ecache_work_evict_list

    def forgetful(s: kernel_z3.Sym, p: Params, f: Flags) -> Term:
        original(s, p, f)
        return -1

    monkeypatch.setattr(kernel_z3, "ecache_work_evict_list", forgetful)
    failures = _run(_plan("dying-has-retry", "6.x"), "6.x")
    assert failures == [("ecache_work", "dying-has-retry", "cti")]


def test_a_6x_broadcast_that_hides_be_overruns_breaks_destroy_before_free(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = kernel_z3.multicast

    def no_failure(*args: object) -> tuple[object, object]:
        _, delivered = original(*args)  # type: ignore[arg-type]
        return False, delivered

    monkeypatch.setattr(kernel_z3, "multicast", no_failure)
    failures = _run(_plan("destroy-before-free", "6.x"), "6.x")
    assert ("gc_worker", "destroy-before-free", "cti") in failures
    assert ("ecache_work", "destroy-before-free", "cti") in failures


def test_without_its_assumption_6x_destroy_before_free_is_not_inductive() -> None:
    plan = _plan("destroy-before-free", "6.x")
    unassumed = Plan(plan.property_id, plan.variants, plan.conjuncts, (), plan.action_property)
    failures = _run(unassumed, "6.x")
    assert ("gc_worker", "destroy-before-free", "cti") in failures


def test_a_6x_delete_that_arms_a_retry_timer_breaks_no_crash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = kernel_z3.add_head_dying

    def with_retry_timer(s: kernel_z3.Sym, uid: Term) -> None:
        original(s, uid)
        kernel_z3.arm_retry_timer(s, uid)

    monkeypatch.setattr(kernel_z3, "add_head_dying", with_retry_timer)
    failures = _run(_plan("no-crash", "6.x"), "6.x")
    assert ("gc_worker", "no-crash", "cti") in failures


@pytest.mark.parametrize("variant", ["2.6.31", "6.x"])
def test_the_drain_measure_decreases_on_every_fair_step(variant: str) -> None:
    report = check_ranking(SMALL, variant=variant)
    assert report.proved
    decreasing = {x.transition for x in report.lines if x.conjunct == "M decreases"}
    assert decreasing == set(fair_actions(variant))


@pytest.mark.parametrize(
    ("variant", "retry"), [("2.6.31", "death_by_event"), ("6.x", "ecache_work")]
)
def test_without_reads_before_retries_a_retry_need_not_decrease_the_measure(
    variant: str, retry: str
) -> None:
    report = check_ranking(SMALL, priority=False, variant=variant)
    failed = [(x.transition, x.conjunct) for x in report.lines if x.status != "proved"]
    assert failed == [(retry, "M decreases")]


def test_the_6x_fair_steps_are_the_worker_the_gc_reads_ticks_and_pending_packets() -> None:
    assert set(fair_actions("6.x")) == {
        "early_drop",
        "__nf_conntrack_confirm",
        "gc_worker",
        "ecache_work",
        "env_recv",
        "env_tick",
    }


def test_a_6x_measure_that_ignores_the_worker_does_not_decrease_on_its_ticks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = liveness.measure

    def without_worker(s: AState, p: Params, variant: str = "2.6.31") -> Term:
        return original(s, p, variant) - If(s["worker"] >= 0, s["worker"] + 1, 0)

    monkeypatch.setattr(liveness, "measure", without_worker)
    report = check_ranking(SMALL, variant="6.x")
    failed = {x.transition for x in report.lines if x.status != "proved"}
    assert "env_tick" in failed


@pytest.mark.parametrize("variant", ["2.6.31", "6.x"])
def test_the_invariants_of_the_ranking_function_are_satisfiable_with_a_dying_conntrack(
    variant: str,
) -> None:
    params, base = symbolic_params(SMALL)
    state = fresh_state(SMALL, "s")
    solver = z3.Solver()
    solver.add(*base, *[a.constraint(params) for a in liveness.assumptions(variant)])
    solver.add(And(*[INV[c].pred(state, params) for c in liveness.CONJUNCTS[variant]]))
    solver.add(state["alloc"][0], state["inD"][0], Not(state["crashed"]))
    assert solver.check() == z3.sat
