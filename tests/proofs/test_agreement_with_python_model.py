"""Conformance: on generated states, the Python successor of every step satisfies the Z3
transition, a perturbed successor does not, and a step the model refuses is refused.

The relation is evaluated by running the builders on plain values (see
`nfct_spec.spec.terms`); one case in `Z3_EVERY` is also checked through Z3 itself by
substituting the values into the symbolic relation. The 2.6.x and the 6.x variants have a test
each, so that every action of each gets its quota of cases; the order of the 6.x redelivery
list, which decides who gets the next DESTROY, also has a scenario of its own.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
import z3
from hypothesis import given, settings

from helpers import figures, run
from nfct_spec.models.config import Config, ListenerConfig
from nfct_spec.models.presets import preset
from nfct_spec.models.registry import Step, actions_for, apply, successors
from nfct_spec.models.state import State, initial_state
from nfct_spec.proofs import kernel_z3
from nfct_spec.proofs.actions import execute, relation, symbolic_args
from nfct_spec.proofs.agreement import Checker, concrete_args
from nfct_spec.proofs.guard import OUTSIDE_ENCODED_CONFIGS, SMP_WALKED
from nfct_spec.proofs.vocab import BY_FIELD, AState, fresh_state, lift
from nfct_spec.spec.terms import Term, count, truth
from tests.proofs.mutants import install_admit_anyway
from tests.proofs.walks import (
    VARIANTS,
    WALK_PRESETS,
    WALK_PRESETS_6X,
    WalkPlan,
    visit,
    walks,
)

AGREEMENT = figures("agreement")["values"]
"""The figures the README states (its `figures:agreement` block): one place for both."""
CASES_PER_ACTION: int = AGREEMENT["cases_per_action"]
"""Every action of every variant gets at least this many cases."""
Z3_EVERY: int = AGREEMENT["z3_every"]
"""One case in this many is also evaluated by Z3 (substitution into the symbolic relation)."""
QUOTA: int = AGREEMENT["quota"]
"""Off-walk checks stop for an action once it has this many cases."""
RAREST = (
    "early_drop",
    "death_by_timeout",
    "death_by_event",
    "gc_worker",
    "ecache_work",
    "__nf_conntrack_confirm",
    "destroy_conntrack",
)
"""Checked from every successor where they may be enabled: they are enabled in few states."""
LOOKAHEAD = (
    "env_tick",
    "env_sysctl_write",
    "env_fault_arm",
    "nf_ct_expect_related",
)
"""Rare steps are also checked one step off the walk (one per action, from one successor)."""


def _perturb(state: AState, rnd: random.Random) -> tuple[AState, str]:
    # Fields with no values (the per-CPU fields of an atomic config) cannot be perturbed.
    name = rnd.choice(sorted(k for k, v in state.items() if v != []))
    out = {
        k: ([list(r) for r in v] if v and isinstance(v[0], list) else list(v))
        if isinstance(v, list)
        else v
        for k, v in state.items()
    }
    value = out[name]
    sort = BY_FIELD[name].sort

    def bump(x: Any) -> Any:
        if sort == "bool":
            return not x
        if sort == "bits":
            return x ^ (1 << rnd.randrange(5))
        return x + rnd.choice((-1, 1))

    if isinstance(value, list):
        row = value[rnd.randrange(len(value))] if value and isinstance(value[0], list) else value
        k = rnd.randrange(len(row))
        row[k] = bump(row[k])
    else:
        out[name] = bump(value)
    return out, name


_FORMULAS: dict[tuple[str, str, str, str], tuple[Any, AState, AState, dict[str, Any]]] = {}


def _through_z3(
    checker: Checker, action: str, pre: AState, post: AState, args: dict[str, Any]
) -> bool:
    shape = checker.shape
    enumerated = [v for v in args.values() if isinstance(v, str)]
    key = (checker.config.name, checker.config.variant, action, "/".join(enumerated))
    if key not in _FORMULAS:
        spre, spost = fresh_state(shape, "p"), fresh_state(shape, "q")
        sym_args = symbolic_args(action, shape, "x")
        fixed = [
            a for a in sym_args if all(args.get(k) == v for k, v in a.items() if isinstance(v, str))
        ]
        formula = relation(action, checker.flags, checker.params, spre, spost, fixed[0])
        _FORMULAS[key] = (formula, spre, spost, fixed[0])
    formula, spre, spost, chosen = _FORMULAS[key]
    fixed = [chosen]
    pairs = []
    for src, dst in ((spre, lift(pre)), (spost, lift(post))):
        for name in src:
            flat_s = src[name] if isinstance(src[name], list) else [src[name]]
            flat_d = dst[name] if isinstance(dst[name], list) else [dst[name]]
            if flat_s and isinstance(flat_s[0], list):
                flat_s = [t for row in flat_s for t in row]
                flat_d = [t for row in flat_d for t in row]
            pairs += list(zip(flat_s, flat_d, strict=True))
    for name, value in fixed[0].items():
        if isinstance(value, list):
            order = list(args[name]) + [-1] * (len(value) - len(args[name]))
            pairs += [(v, z3.IntVal(o)) for v, o in zip(value, order, strict=True)]
        elif isinstance(value, z3.ExprRef):
            pairs.append((value, z3.IntVal(int(args[name]))))
    return truth(z3.substitute(formula, *pairs))


def _check_walk(plan: WalkPlan, counts: Counter[str], stats: Counter[str]) -> None:
    config, visited = plan.config, visit(plan)
    checker = Checker(config)
    rnd = random.Random(len(visited))
    for state, steps in visited:
        pre = checker.project(state)
        by_action: dict[str, list[tuple[Step, State]]] = {}
        for item in steps:
            by_action.setdefault(item[0].action, []).append(item)
        # The quota saves time on common actions; the fixed ecache_work() walks are few, so
        # they are sampled whatever the count (the test wants cases of both walks).
        sample = [
            x
            for action, group in by_action.items()
            if counts[action] < QUOTA or config.ecache_work_fixed
            for x in rnd.sample(group, min(2, len(group)))
        ]
        for step, successor in sample:
            _check_step(checker, state, pre, step, successor, rnd, counts, stats)
        for _, successor in steps:
            if _promising(successor):
                _look_ahead(checker, successor, RAREST, rnd, counts, stats)
        if sample:
            _look_ahead(checker, rnd.choice(sample)[1], LOOKAHEAD, rnd, counts, stats)
        _check_refusals(config, checker, state, pre, rnd, stats)


def _promising(state: State) -> bool:
    """A rare kernel step may be enabled: an allocation waits, a timer expired, a conntrack
    waits on the dying list or to be confirmed, the 6.x worker is due."""
    k = state.kernel
    return (
        k.alloc_pending >= 0
        or bool(k.dying)
        or bool(k.unconfirmed)
        or k.worker == 0
        or any(ct is not None and ct.timer == 0 for ct in k.cts)
    )


def _look_ahead(
    checker: Checker,
    state: State,
    actions: tuple[str, ...],
    rnd: random.Random,
    counts: Counter[str],
    stats: Counter[str],
) -> None:
    """Check one random step of each of `actions` enabled in `state` (off the walk), for the
    actions that have not reached their quota yet."""
    wanted = [a for a in actions if counts[a] < QUOTA]
    if not wanted:
        return
    groups: dict[str, list[tuple[Step, State]]] = {}
    for item in successors(checker.config, state):
        if item[0].action in wanted:
            groups.setdefault(item[0].action, []).append(item)
    if not groups:
        return
    pre = checker.project(state)
    for group in groups.values():
        step, successor = rnd.choice(group)
        _check_step(checker, state, pre, step, successor, rnd, counts, stats)


def _check_step(
    checker: Checker,
    state: State,
    pre: AState,
    step: Step,
    successor: State,
    rnd: random.Random,
    counts: Counter[str],
    stats: Counter[str],
) -> None:
    args = concrete_args(checker.config, state, step)
    post = checker.project(successor)
    assert checker.holds(pre, step, post, args), f"{step} from {state}"
    bad, name = _perturb(post, rnd)
    assert not checker.holds(pre, step, bad, args), f"{step}: perturbed {name} accepted"
    counts[step.action] += 1
    if step.action == "ecache_work":
        _note_walk(checker.config, state, successor, stats)
    if sum(counts.values()) % Z3_EVERY == 0:
        assert _through_z3(checker, step.action, pre, post, args), f"z3: {step}"
        stats["z3"] += 1


def _note_walk(config: Config, state: State, successor: State, stats: Counter[str]) -> None:
    """Record what an ecache_work case exercised: the shipped or the fixed walk, and a walk
    that delivered two or more entries (only the fixed one can) or stopped at a failure."""
    before, after = len(state.kernel.dying), len(successor.kernel.dying)
    stats[f"ecache_work fixed={config.ecache_work_fixed}"] += 1
    if before - after >= 2:
        stats["ecache_work delivered two or more"] += 1
    if after and successor.kernel.worker == config.worker_retry_delay and after < before:
        stats["ecache_work stopped at a failure after a success"] += 1


def _check_refusals(
    config: Config,
    checker: Checker,
    state: State,
    pre: AState,
    rnd: random.Random,
    stats: Counter[str],
) -> None:
    for action in rnd.sample(actions_for(config.variant), 2):
        for _ in range(1):
            step = _random_step(config, action.name, rnd)
            if step is None or apply(config, state, step) is not None:
                continue
            args = concrete_args(config, state, step)
            picks = range(-1, checker.shape.n) if "hashed" in args else [None]
            for pick in picks:
                if pick is not None:
                    args["hashed"] = pick
                guard, _ = execute(step.action, checker.flags, checker.params, pre, args)
                assert not truth(guard), f"{step} refused by the model, enabled in Z3 (pick {pick})"
            stats["refused"] += 1


def _random_step(config: Config, action: str, rnd: random.Random) -> Step | None:
    n = config.slots
    names = [x.name for x in config.listeners]
    requesters = [*config.requesters, *names]
    flow = rnd.randrange(config.flows)
    packet = rnd.choice(("new", "plain", "assure", "protoinfo"))
    options: dict[str, list[tuple[tuple[str, Any], ...]]] = {
        "nf_conntrack_in": [(("flow", flow), ("packet", packet), ("slot", rnd.randrange(-1, n)))],
        "early_drop": [(("victim", rnd.randrange(-1, n)),)],
        "ctnetlink_del_conntrack": [(("flow", flow), ("requester", rnd.choice(requesters)))],
        "nf_ct_expect_related": [(("flow", flow),)],
        "env_recv": [(("listener", rnd.choice(names)),)],
        "env_listener_open": [(("listener", rnd.choice(names)),)],
        "env_listener_close": [(("listener", rnd.choice(names)),)],
        "env_fault_arm": [()],
        "env_tick": [()],
        "ecache_work": [()],
    }
    for name in (
        "__nf_conntrack_confirm",
        "destroy_conntrack",
        "death_by_timeout",
        "death_by_event",
        "gc_worker",
    ):
        options[name] = [(("slot", rnd.randrange(n)),)]
    if action not in options:
        return None
    return Step(action, options[action][0])


def _agree_on_walks(
    variants: tuple[str, ...], presets: tuple[str, ...], family: str
) -> Counter[str]:
    """Check generated walks of `variants`; every action of `family` gets enough cases (but
    those only smp walks reach: `tests/smp/test_smp_z3.py` checks them). Returns what the
    cases exercised."""
    counts: Counter[str] = Counter()
    stats: Counter[str] = Counter()
    sampled = [
        a.name for a in actions_for(family) if a.name not in OUTSIDE_ENCODED_CONFIGS | SMP_WALKED
    ]

    @settings(max_examples=max(settings().max_examples, 75))
    @given(walks(variants=variants, presets=presets))
    def check(plan: WalkPlan) -> None:
        # Once every action has its quota, a walk samples no step any more (only the fixed
        # ecache_work walks do, and they have theirs by then): the rest of the budget is spent
        # on walks that would check nothing new but refusals, so it is not walked.
        if all(counts[name] >= QUOTA for name in sampled) and stats["refused"] > 0:
            return
        _check_walk(plan, counts, stats)

    check()
    thin = {name: counts[name] for name in sampled if counts[name] < CASES_PER_ACTION}
    assert not thin, f"fewer than {CASES_PER_ACTION} cases: {thin}"
    assert stats["z3"] > 0 and stats["refused"] > 0
    return stats


def test_python_successors_satisfy_the_z3_relation_and_perturbed_ones_do_not() -> None:
    _agree_on_walks(VARIANTS, WALK_PRESETS, "2.6.31")


def test_6x_successors_satisfy_the_z3_relation_and_perturbed_ones_do_not() -> None:
    stats = _agree_on_walks(("6.x",), WALK_PRESETS_6X, "6.x")
    assert stats["ecache_work fixed=False"] > 0 and stats["ecache_work fixed=True"] > 0, stats


def _three_on_the_redelivery_list(fixed: bool) -> tuple[Config, list[Step]]:
    """A reliable listener with room for two NEWs; three conntracks are flushed while it is
    full, so all three DESTROYs fail (redelivery list 2, 1, 0, newest first); it reads both
    NEWs, and the due worker runs."""
    listener = ListenerConfig("conntrackd", ("new", "destroy"), True, True, 2)
    config = Config(
        name="redelivery",
        variant="6.x",
        nf_conntrack_max=0,
        flows=3,
        slots=3,
        listeners=(listener,),
        nf_conntrack_events=1,
        ecache_work_fixed=fixed,
        worker_first_delay=0,
    )
    steps: list[Step] = []
    for flow in range(3):
        steps.append(Step("nf_conntrack_in", (("flow", flow), ("packet", "new"), ("slot", flow))))
        steps.append(Step("__nf_conntrack_confirm", (("slot", flow),)))
    steps.append(
        Step("nf_conntrack_flush_report", (("requester", "conntrack"), ("order", (0, 1, 2))))
    )
    steps += [Step("env_recv", (("listener", "conntrackd"),))] * 2
    steps.append(Step("ecache_work", ()))
    return config, steps


def _run_agreeing(config: Config, steps: list[Step]) -> list[bool]:
    checker = Checker(config)
    state = initial_state(config)
    agreed = []
    for step in steps:
        successor = apply(config, state, step)
        assert successor is not None, step
        agreed.append(checker.step_agrees(state, step, successor))
        state = successor
    return agreed


@pytest.mark.parametrize(
    ("fixed", "delivered", "left"), [(True, [2, 1], (0,)), (False, [2], (1, 0))]
)
def test_the_worker_redelivers_newest_first_in_the_model_and_in_z3(
    fixed: bool, delivered: list[int], left: tuple[int, ...]
) -> None:
    config, steps = _three_on_the_redelivery_list(fixed)
    assert all(_run_agreeing(config, steps))
    state = run(config, *steps)
    assert [m.slot for m in state.kernel.sockets[0].queue] == delivered
    assert state.kernel.dying == left


def _early_drop_of_a_victim_that_cannot_report() -> tuple[Config, list[Step]]:
    """tiny 6.x: the first conntrack's NEW fills the reliable listener's queue, a second flow
    needs early_drop, and the victim's DESTROY fails."""
    config = preset("tiny", "6.x")
    steps = [
        Step("nf_conntrack_in", (("flow", 0), ("packet", "new"), ("slot", 0))),
        Step("__nf_conntrack_confirm", (("slot", 0),)),
        Step("nf_conntrack_in", (("flow", 1), ("packet", "new"), ("slot", 1))),
        Step("early_drop", (("victim", 0),)),
    ]
    return config, steps


def test_a_6x_early_drop_whose_victim_waits_for_redelivery_drops_the_packet_in_both() -> None:
    """The 6.x admission rule (rarely reached by the walks): the victim moves to the
    redelivery list, still counted, and the new flow's packet is dropped."""
    config, steps = _early_drop_of_a_victim_that_cannot_report()
    assert all(_run_agreeing(config, steps))
    kernel = run(config, *steps).kernel
    assert kernel.dying == (0,) and kernel.ct_count == 1 and kernel.alloc_pending == -1
    assert kernel.alloc_slot == -1
    assert not kernel.unconfirmed and kernel.worker == config.worker_first_delay


def test_a_z3_early_drop_that_admits_anyway_disagrees_with_the_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install_admit_anyway(monkeypatch)
    config, steps = _early_drop_of_a_victim_that_cannot_report()
    assert _run_agreeing(config, steps) == [True, True, True, False]


def test_a_z3_walk_from_the_tail_disagrees_with_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    original = kernel_z3.dying_at

    def tail_first(s: kernel_z3.Sym, pos: Term) -> tuple[Term, Term]:
        return original(s, count(s.get("inD")) - 1 - pos)

    monkeypatch.setattr(kernel_z3, "dying_at", tail_first)
    config, steps = _three_on_the_redelivery_list(True)
    agreed = _run_agreeing(config, steps)
    assert agreed == [True] * (len(steps) - 1) + [False]
