"""The Z3 encoding of the smp steps: it agrees with the model on every step of seeded walks over
every kernel era, the guard covers each smp action and names a one-line bug, BMC finds the era
faults at the explorer's BFS depth, the era proofs prove the fixed eras and fail on the
released one, and `nfct-spec eras`'s Z3 verdicts keep the explorer's depth."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest
from smp_configs import era, reachable

from nfct_spec.engines import z3_eras
from nfct_spec.engines.z3_bmc import run_bmc
from nfct_spec.engines.z3_runner import trace_meta
from nfct_spec.models.config import Config
from nfct_spec.models.observers import FULL, OBLIGATIONS
from nfct_spec.models.registry import apply, successors
from nfct_spec.models.state import (
    CRASH_DEADLOCK_CONNTRACK_LOCK,
    DEADLOCK_DYING_LOCK,
    NO_TIMER,
    State,
    initial_state,
)
from nfct_spec.proofs.actions import builders_for
from nfct_spec.proofs.agreement import Checker
from nfct_spec.proofs.era_plans import (
    ALL_PLANS,
    ERA_SHAPE,
    check_era_plan,
    era_plan,
    proof_shape,
)
from nfct_spec.proofs.guard import CASES, OUTSIDE_ENCODED_CONFIGS, SMP, check_encoding
from nfct_spec.proofs.params import Era
from nfct_spec.proofs.targets import TARGETS
from nfct_spec.proofs.walks import SMP_WALK_ERAS, WalkPlan, visit
from nfct_spec.replay import replay
from nfct_spec.results import ERROR, Result
from nfct_spec.spec import properties
from nfct_spec.spec.catalogue import BY_ID
from nfct_spec.spec.invariants import BY_ID as INV
from nfct_spec.spec.params import concrete_params
from nfct_spec.spec.smp_invariants import timeout_handler_once
from nfct_spec.spec.terms import truth
from nfct_spec.spec.vocab import project, shape_for
from tests.helpers import bfs_depth
from tests.proofs.mutants import model_mutant

SMP_ACTIONS = set(builders_for("2.6.31", Era(smp=True))) - OUTSIDE_ENCODED_CONFIGS


def _walks(per_era: int) -> list[WalkPlan]:
    plans = []
    for name in SMP_WALK_ERAS:
        rnd = random.Random(f"smp-z3/{name}")
        for _ in range(per_era):
            plans.append(WalkPlan(name, "2.6.31", tuple(rnd.randrange(10**6) for _ in range(40))))
    return plans


def test_every_step_of_walks_over_every_era_satisfies_its_relation() -> None:
    steps, crashes = 0, set()
    for plan in _walks(6):
        checker = Checker(plan.config)
        for state, enabled in visit(plan):
            for step, post in enabled:
                steps += 1
                crashes.add(post.kernel.crashed)
                assert checker.step_agrees(state, step, post), (plan.preset, step, state)
    assert steps > 10_000
    assert len(crashes - {""}) >= 3, crashes
    assert CRASH_DEADLOCK_CONNTRACK_LOCK in crashes


PROVED_ERAS = (
    "smp-dying-worker-test-and-set",
    "smp-netns-exit-own-list",
    "smp-delete-guard",
    "smp-delete-guard-flush",
    "smp-iterator-guard-flush",
    "smp-ecache-timer-flush",
    "smp-all-guards-flush",
    "smp-dying-worker",
    "smp-dying-worker-ecache-state",
)


@pytest.mark.parametrize("name", PROVED_ERAS)
def test_the_conjuncts_of_the_era_proofs_hold_on_every_reachable_state(name: str) -> None:
    """The induction proves them over every config of the era; here they are checked on
    every reachable state of the era config itself (exhausted), where each must hold.

    The states keep the obligations observers only: the Z3 vocabulary reads nothing more (the
    test below), and observers never change which steps are enabled or what they do to the
    kernel, so these states project to every abstract state the config reaches with every
    observer kept (in a fifth as many states)."""
    config = era(name)
    conjuncts = sorted({c for p in ALL_PLANS if p.applies(config) for c in p.conjuncts})
    assert conjuncts
    shape = shape_for(config)
    params = concrete_params(config, shape)
    states = 0
    for state in reachable(config, 100_000, OBLIGATIONS):
        abstract = project(config, state, shape)
        for conjunct in conjuncts:
            assert truth(INV[conjunct].pred(abstract, params)), (conjunct, state)
        states += 1
    assert 100 < states < 100_000


@pytest.mark.parametrize("name", PROVED_ERAS)
def test_the_vocabulary_reads_only_the_obligations_observers(name: str) -> None:
    """The same steps taken with every observer and with the obligations observers only give
    states that project to the same abstract state, on seeded walks of the era config."""
    config = era(name)
    shape = shape_for(config)
    rnd = random.Random(f"vocab-level/{name}")
    compared = 0
    for _ in range(30):
        full, slim = initial_state(config, FULL), initial_state(config, OBLIGATIONS)
        for _ in range(30):
            enabled = list(successors(config, full))
            if not enabled:
                break
            step, full = rnd.choice(enabled)
            after = apply(config, slim, step)
            assert after is not None, step
            slim = after
            assert project(config, full, shape) == project(config, slim, shape), step
            compared += 1
    assert compared > 500


def test_the_smp_guard_agrees_and_covers_every_smp_step() -> None:
    report = check_encoding(SMP)
    assert report.ok, report.summary()
    # Another namespace's exit walks a dying list with a pending retry: rare in a walk, so the
    # guard meets it a few times (the walks test above checks it more, deadlocks included).
    rare = {"nf_ct_release_dying_list"}
    short = {name: report.cases[name] for name in sorted(SMP_ACTIONS - rare)}
    assert all(n >= CASES for n in short.values()), short
    assert all(report.cases[name] >= 5 for name in rare), report.cases
    assert sum(report.refused.values()) > 0


def _timer_kept(fn: Callable[..., State | None]) -> Callable[..., State | None]:
    """del_timer() that reports success without taking the timer off (as if the line that
    makes it idle were lost)."""

    def mutant(config: Config, state: State, call: int) -> State | None:
        post = fn(config, state, call)
        if post is None or post.kernel.crashed:
            return post
        slot = state.kernel.calls[call].slot
        before = state.ct(slot)
        after = post.ct(slot)
        if before is None or after is None or before.timer == NO_TIMER:
            return post
        cts = list(post.kernel.cts)
        cts[slot] = after._replace(timer=before.timer)
        return post._replace(kernel=post.kernel._replace(cts=tuple(cts)))

    return mutant


def test_the_smp_guard_names_a_del_timer_that_leaves_the_timer_pending() -> None:
    with model_mutant("del_timer", _timer_kept):
        report = check_encoding(SMP)
    assert report.disagreement is not None
    assert report.disagreement.action == "del_timer"
    assert "field timer is" in report.disagreement.detail


@pytest.mark.parametrize(
    ("name", "prop_id"),
    [("smp-2.6.31", "no-timer-rearm"), ("smp-dying-worker-test-and-set", "destroy-before-free")],
)
def test_bmc_finds_an_era_fault_at_the_bfs_depth_and_it_replays(name: str, prop_id: str) -> None:
    config = era(name)
    depth = bfs_depth(config, prop_id, 14)
    assert depth is not None
    meta = trace_meta(config, BY_ID[prop_id])
    found = run_bmc(config, TARGETS[prop_id], depth, meta, 120_000)
    assert found.trace is not None and len(found.trace.steps) == depth
    assert replay(found.trace).ok


def _explored(config: Config, prop_id: str, depth: int) -> Result:
    return Result(
        prop_id, config.variant, "explorer", "violated", "violated",
        f"BFS-shortest finding at depth {depth}; 1 states", "", None, config.name,
    )  # fmt: skip


def test_eras_z3_verdict_keeps_the_explorer_depth_and_calls_a_mismatch_an_error(
    tmp_path: Path,
) -> None:
    config = era("smp-dying-worker-test-and-set")
    prop = BY_ID["destroy-before-free"]
    agreed = z3_eras.judge(config, prop, _explored(config, prop.id, 8), tmp_path, 120)
    assert agreed.result is not None and agreed.result.verdict == "violated"
    assert agreed.result.as_expected and "the explorer's BFS depth" in agreed.result.reason
    assert agreed.result.trace is not None and (tmp_path / agreed.result.trace).is_file()
    deeper = z3_eras.judge(config, prop, _explored(config, prop.id, 9), tmp_path, 120)
    assert deeper.result is not None and deeper.result.verdict == ERROR
    assert "8-step path" in deeper.result.reason and "9 steps" in deeper.result.reason
    shallower = z3_eras.judge(config, prop, _explored(config, prop.id, 7), tmp_path, 120)
    assert shallower.result is not None and shallower.result.verdict == ERROR
    assert "no path of at most 7 steps" in shallower.result.reason


@pytest.mark.parametrize(
    ("name", "prop_id"),
    [
        ("smp-all-guards-flush", "no-double-unlink"),
        ("smp-all-guards-flush", "no-timer-rearm"),
        ("smp-all-guards-flush", "no-use-after-free"),
        ("smp-delete-guard", "no-timer-rearm"),
        ("smp-ecache-timer-flush", "no-double-unlink"),
        ("smp-dying-worker-ecache-state", "no-use-after-free"),
        ("smp-iterator-guard-flush", "timeout-handler-once"),
        ("smp-dying-worker", "timeout-handler-once"),
        ("smp-dying-worker-ecache-state", "destroy-before-free"),
    ],
)
def test_the_era_proofs_prove_the_fixed_eras(name: str, prop_id: str) -> None:
    config = era(name)
    assert BY_ID[prop_id].expected_for(config) == "holds"
    plan = era_plan(prop_id, config)
    assert plan is not None
    # The config's own shape (one slot, one listener, two CPUs) keeps the test quick; the
    # proof shape of `nfct-spec eras` is checked once, below.
    report = check_era_plan(plan, config, 60_000, shape_for(config))
    assert report.proved, [x for x in report.lines if x.status != "proved"][:3]


def test_an_era_proof_holds_at_the_proof_shape() -> None:
    config = era("smp-all-guards-flush")
    plan = era_plan("no-use-after-free", config)
    assert plan is not None and proof_shape(config) == ERA_SHAPE
    assert check_era_plan(plan, config, 60_000).proved


@pytest.mark.parametrize(
    ("plan_era", "name", "prop_id"),
    [
        ("smp-all-guards-flush", "smp-2.6.31", "no-timer-rearm"),
        ("smp-ecache-timer-flush", "smp-delete-guard-flush", "no-double-unlink"),
        ("smp-iterator-guard-flush", "smp-delete-guard-flush", "timeout-handler-once"),
        ("smp-dying-worker-ecache-state", "smp-dying-worker-test-and-set", "destroy-before-free"),
    ],
)
def test_an_era_proof_fails_on_the_era_without_its_fix(
    plan_era: str, name: str, prop_id: str
) -> None:
    plan = era_plan(prop_id, era(plan_era))
    assert plan is not None and not plan.applies(era(name))
    assert BY_ID[prop_id].expected_for(era(name)) == "violated"
    report = check_era_plan(plan, era(name), 60_000, shape_for(era(name)))
    assert not report.proved
    assert any(x.status == "cti" for x in report.lines)


def test_no_era_proof_is_written_for_an_entry_expected_violated_there() -> None:
    for name in (
        "smp-2.6.31",
        "smp-delete-guard-flush",
        "smp-iterator-guard-flush",
        "smp-dying-worker-test-and-set",
        "smp-netns-exit",
        "worker-review-relock",
    ):
        config = era(name)
        for plan in ALL_PLANS:
            if plan.applies(config):
                assert BY_ID[plan.property_id].expected_for(config) == "holds", (name, plan)


def test_eras_z3_verdicts_are_errors_when_the_smp_encoding_disagrees(tmp_path: Path) -> None:
    config = era("smp-dying-worker-test-and-set")
    prop = BY_ID["destroy-before-free"]
    shown: list[str] = []
    with model_mutant("del_timer", _timer_kept):
        results = z3_eras.judge_all([config], [prop], {}, tmp_path, 120, shown.append)
    assert [r.verdict for r in results] == [ERROR]
    assert "encoding disagrees with the model at del_timer" in results[0].reason
    assert any("smp: encoding disagrees" in line for line in shown)


def test_the_z3_form_of_timeout_handler_once_is_the_catalogues_on_every_transition() -> None:
    """On the era where the fault is (both verdicts occur), transition by transition."""
    config = era("smp-delete-guard-flush")
    shape = shape_for(config)
    params = concrete_params(config, shape)
    verdicts = set()
    for state in reachable(config, 4000):
        pre = project(config, state, shape)
        for step, post in successors(config, state):
            model = properties.timeout_handler_once(config, state, step, post)
            z3_form = truth(timeout_handler_once(params, pre, project(config, post, shape)))
            assert model == z3_form, (step, state)
            verdicts.add(model)
    assert verdicts == {True, False}


def test_every_step_of_walks_with_the_review_worker_satisfies_its_relation() -> None:
    """The 6.x worker under review (`worker_relocks_twice`): its deadlock included."""
    crashes = set()
    rnd = random.Random("smp-z3/relock")
    for _ in range(12):
        plan = WalkPlan("crowded-relock", "6.x", tuple(rnd.randrange(10**6) for _ in range(40)))
        checker = Checker(plan.config)
        for state, enabled in visit(plan):
            for step, post in enabled:
                crashes.add(post.kernel.crashed)
                assert checker.step_agrees(state, step, post), (step, state)
    assert DEADLOCK_DYING_LOCK in crashes


@pytest.mark.parametrize(
    ("fault", "fixed"),
    [
        ("smp-netns-exit", "smp-netns-exit-own-list"),
        ("worker-review-relock", "worker-released-relock"),
    ],
)
def test_the_deadlocks_are_found_at_the_bfs_depth_and_their_fixes_proved(
    fault: str, fixed: str
) -> None:
    prop = BY_ID["deadlock-free"]
    config = era(fault)
    depth = bfs_depth(config, prop.id, 14)
    assert depth is not None and prop.expected_for(config) == "violated"
    found = run_bmc(config, TARGETS[prop.id], depth, trace_meta(config, prop), 120_000)
    assert found.trace is not None and len(found.trace.steps) == depth
    assert replay(found.trace).ok
    plan = era_plan(prop.id, era(fixed))
    assert plan is not None and era_plan(prop.id, config) is None
    assert check_era_plan(plan, era(fixed), 60_000, shape_for(era(fixed))).proved
    failed = check_era_plan(plan, config, 60_000, shape_for(config))
    assert any(x.status == "cti" for x in failed.lines)
