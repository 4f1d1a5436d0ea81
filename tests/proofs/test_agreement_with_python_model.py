"""Conformance: on generated states, the Python successor of every step satisfies the Z3
transition, a perturbed successor does not, and a step the model refuses is refused.

The relation is evaluated by running the builders on plain values (see
`nfct_spec.proofs.terms`); every 40th case is also checked through Z3 itself by substituting
the values into the symbolic relation.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import z3
from hypothesis import given, settings

from nfct_spec.models.config import Config
from nfct_spec.models.registry import Step, actions_for, apply, successors
from nfct_spec.models.state import State
from nfct_spec.proofs.actions import BUILDERS, execute, relation, symbolic_args
from nfct_spec.proofs.agreement import Checker, concrete_args
from nfct_spec.proofs.terms import truth
from nfct_spec.proofs.vocab import BY_FIELD, AState, fresh_state, lift
from tests.proofs.walks import WalkPlan, visit, walks

CASES_PER_ACTION = 1000
Z3_EVERY = 150
"""One case in this many is also evaluated by Z3 (substitution into the symbolic relation)."""
QUOTA = 1200
"""Off-walk checks stop for an action once it has this many cases."""
RAREST = (
    "early_drop",
    "death_by_timeout",
    "death_by_event",
    "__nf_conntrack_confirm",
    "destroy_conntrack",
)
"""Checked from every successor where they may be enabled: they are enabled in few states."""
LOOKAHEAD = (
    "env_tick",
    "env_sysctl_write",
    "nf_ct_expect_related",
)
"""Rare steps are also checked one step off the walk (one per action, from one successor)."""


def _perturb(state: AState, rnd: random.Random, action: str) -> tuple[AState, str]:
    havoc = set(BUILDERS[action].havoc)
    names = sorted(n for n in state if n not in havoc)
    name = rnd.choice(names)
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
        sample = [
            x
            for action, group in by_action.items()
            if counts[action] < QUOTA
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
    waits on the dying list or to be confirmed."""
    k = state.kernel
    return (
        k.alloc_pending >= 0
        or bool(k.dying)
        or bool(k.unconfirmed)
        or any(ct.timer == 0 for ct in k.cts)
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
    bad, name = _perturb(post, rnd, step.action)
    assert not checker.holds(pre, step, bad, args), f"{step}: perturbed {name} accepted"
    counts[step.action] += 1
    if sum(counts.values()) % Z3_EVERY == 0:
        assert _through_z3(checker, step.action, pre, post, args), f"z3: {step}"
        stats["z3"] += 1


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
            picks = range(-1, checker.shape.n) if "uid" in args and "flow" in args else [None]
            for pick in picks:
                if pick is not None:
                    args["uid"] = pick
                guard, _ = execute(step.action, checker.flags, checker.params, pre, args)
                assert not truth(guard), f"{step} refused by the model, enabled in Z3 (pick {pick})"
            stats["refused"] += 1


def _random_step(config: Config, action: str, rnd: random.Random) -> Step | None:
    n = config.max_conntracks
    names = [x.name for x in config.listeners]
    requesters = [*config.requesters, *names]
    flow = rnd.randrange(config.flows)
    options: dict[str, list[tuple[tuple[str, Any], ...]]] = {
        "nf_conntrack_in": [
            (("flow", flow), ("packet", rnd.choice(("new", "plain", "assure", "protoinfo"))))
        ],
        "early_drop": [(("victim", rnd.randrange(-1, n)),)],
        "ctnetlink_del_conntrack": [(("flow", flow), ("requester", rnd.choice(requesters)))],
        "nf_ct_expect_related": [(("flow", flow),)],
        "env_recv": [(("listener", rnd.choice(names)),)],
        "env_listener_open": [(("listener", rnd.choice(names)),)],
        "env_listener_close": [(("listener", rnd.choice(names)),)],
        "env_fault_arm": [()],
        "env_tick": [()],
    }
    for name in (
        "__nf_conntrack_confirm",
        "destroy_conntrack",
        "death_by_timeout",
        "death_by_event",
    ):
        options[name] = [(("uid", rnd.randrange(n)),)]
    if action not in options:
        return None
    return Step(action, options[action][0])


def test_python_successors_satisfy_the_z3_relation_and_perturbed_ones_do_not() -> None:
    counts: Counter[str] = Counter()
    stats: Counter[str] = Counter()

    @settings(max_examples=max(settings().max_examples, 60))
    @given(walks())
    def check(plan: WalkPlan) -> None:
        _check_walk(plan, counts, stats)

    check()
    thin = {
        a.name: counts[a.name] for a in actions_for("2.6.31") if counts[a.name] < CASES_PER_ACTION
    }
    assert not thin, f"fewer than {CASES_PER_ACTION} cases: {thin}"
    assert stats["z3"] > 0 and stats["refused"] > 0
