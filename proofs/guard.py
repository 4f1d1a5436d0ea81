"""The agreement guard: a quick check, before any Z3 verdict is reported, that the encoding
still follows the model.

The encoding (`proofs/actions.py`, `proofs/kernel_z3.py`) is a second copy of the model: a
proof over it says something about the model only while the two agree. The agreement tests
(`tests/proofs/test_agreement_with_python_model.py`) check that at length; this is their quick
form, run by `nfct-spec prove` and `nfct-spec check` on every variant they prove. Per variant,
seeded walks over the registry (`nfct_spec.proofs.walks`, the agreement tests' walks) visit
model states. In each, up to two steps of every enabled action must satisfy the action's Z3
relation, evaluated on plain values (`nfct_spec.proofs.agreement`), until the action has
`CASES` cases and each of its kinds (packet, sysctl) that the walks reach has `KIND_CASES`;
and arguments the registry's domain offers that the model refuses must be refused by the
encoding too (`REFUSALS` per action). While an action is short of cases, one successor of each
state is searched for its steps as well: the rare steps (early drops, retries, expiries) are
enabled in few states of a walk.

The sample is the same on every run (the walks are seeded), so no verdict depends on luck; it
takes about a second per variant. A disagreement names the action, the step and where the two
differ: the step's guard, or the first field whose value differs. It voids every Z3 verdict of
the variant: induction covers every transition, so no proof can be trusted to hold of the
model while one transition differs.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field

from nfct_spec.models.config import Config
from nfct_spec.models.registry import BY_NAME, Step, settled, successors
from nfct_spec.models.state import State
from nfct_spec.proofs.actions import (
    BUILDERS,
    FrameError,
    execute,
    owned_fields,
    registry_actions,
)
from nfct_spec.proofs.agreement import Checker, concrete_args
from nfct_spec.proofs.params import ATOMIC, Era
from nfct_spec.proofs.vocab import FIELDS, TRANSIENT_FIELDS, AState, equal_fields
from nfct_spec.proofs.walks import (
    SMP_WALK_ERAS,
    WALK_PRESETS,
    WALK_PRESETS_6X,
    WalkPlan,
    visit,
)
from nfct_spec.spec.terms import And, truth

CASES = 30
"""Steps checked per action and variant (fewer for an action the walks reach less often)."""
KIND_CASES = 10
"""Steps checked per kind of an action (a value of its enumerated arguments: the packet of
`nf_conntrack_in`, the sysctl of `env_sysctl_write`) that the walks reach at all."""
REFUSALS = 30
"""Refused arguments checked per action and variant."""
WALKS = 3
"""Walks per walk preset of a variant (fewer once every action has its cases)."""
LENGTH = 40
"""States per walk."""
PER_STATE = 2
"""Steps of one action checked in one state."""


NOT_ENCODED_NETNS_EXIT = (
    "not encoded: the Z3 encoding has no exit of the conntracks' own namespace (its "
    "env_netns_exit is never enabled, and the state has no `exiting` field), so neither the "
    "guard nor a proof speaks for a config with netns_exit"
)


OUTSIDE_ENCODED_CONFIGS = frozenset({"env_netns_exit"})
"""Actions that only configs the encoding does not cover can enable (`encoding_gap`): their
builders are never enabled, and the walks of the guard, over encoded configs, reach no step of
them."""

SMP_WALKED = frozenset({"nf_ct_release_dying_list"})
"""Actions enabled only with `other_netns_exit` (2.6.31), which of the guard's walks only the
smp era walk `smp-netns-exit` sets: the atomic walks reach no step of them."""


def encoding_gap(config: Config) -> str | None:
    """Why the encoding cannot speak for `config`, or None when it can: the guard and the
    proofs cover the model without the exit of the conntracks' own namespace, whatever the
    variant and granularity (the smp steps of every kernel era, another namespace's exit and
    the 6.x worker under review, `worker_relocks_twice`, included)."""
    if config.netns_exit:
        return NOT_ENCODED_NETNS_EXIT
    return None


@dataclass(frozen=True)
class Disagreement:
    """Where the encoding and the model differ: an action, and what differs at which step."""

    action: str
    detail: str

    def __str__(self) -> str:
        return f"encoding disagrees with the model at {self.action}: {self.detail}"


@dataclass
class GuardReport:
    """What the guard checked on one variant, and the first disagreement (None: none)."""

    variant: str
    cases: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    disagreement: Disagreement | None = None

    @property
    def ok(self) -> bool:
        """No disagreement was found."""
        return self.disagreement is None

    def summary(self) -> str:
        """One line: how much was checked, and the disagreement if there is one."""
        checked = (
            f"{sum(self.cases.values())} steps of {len(self.cases)} actions and "
            f"{sum(self.refused.values())} refused steps checked in {self.seconds:.1f} s"
        )
        if self.disagreement is None:
            return f"{self.variant}: the encoding agrees with the model ({checked})"
        return f"{self.variant}: {self.disagreement} ({checked})"


SMP = "smp"
"""The `variant` argument of `check_encoding` for the smp steps of 2.6.31's kernel eras."""


def walk_presets(variant: str) -> tuple[str, ...]:
    """The presets the guard walks on for `variant` (those of the agreement tests; for `SMP`
    the era configs of `nfct_spec.proofs.walks.SMP_WALK_ERAS`)."""
    if variant == SMP:
        return tuple(SMP_WALK_ERAS)
    presets = WALK_PRESETS_6X if variant == "6.x" else WALK_PRESETS
    return tuple(dict.fromkeys(presets))


Kind = tuple[str, tuple[object, ...]]


def _kind(step: Step) -> Kind:
    """The action and the values of its enumerated arguments (each has a relation of its own
    in the encoding: `symbolic_args`)."""
    enumerated = {name for name, kind in BUILDERS[step.action].args if kind in ("packet", "sysctl")}
    return step.action, tuple(value for name, value in step.args if name in enumerated)


def _where(config: Config, walk: int, depth: int) -> str:
    return f"state {depth} of walk {walk} on config {config.name} ({config.variant})"


def _field_difference(checker: Checker, state: State, step: Step, successor: State) -> str:
    """What the encoding says of a step the model takes: its guard is false, or the first field
    whose value differs from the model's successor (the frame included)."""
    pre, post = checker.project(state), checker.project(successor)
    args = concrete_args(checker.config, state, step)
    guard, computed = execute(step.action, checker.flags, checker.params, pre, args)
    if not truth(guard):
        return "the model takes the step, the encoding's guard refuses it"
    changed = owned_fields(BY_NAME[step.action].modifies) | TRANSIENT_FIELDS
    for fld in FIELDS:
        source = computed if fld.name in changed else pre
        if not truth(And(*equal_fields(post, source, [fld.name]))):
            role = "computed" if fld.name in changed else "unchanged (frame)"
            return (
                f"field {fld.name} is {post[fld.name]} in the model, "
                f"{source[fld.name]} in the encoding ({role})"
            )
    return "the relation is false, yet no field differs"


class _Guard:
    """The checks of one variant, counting cases and stopping at the first disagreement."""

    def __init__(self, variant: str, era: Era = ATOMIC) -> None:
        self.report = GuardReport(variant)
        model_variant = "2.6.31" if variant == SMP else variant
        self.actions = tuple(a.name for a in registry_actions(model_variant, era))
        self.kinds: Counter[Kind] = Counter()

    def done(self) -> bool:
        """A disagreement was found, or every action and every kind seen has its cases."""
        if self.report.disagreement is not None:
            return True
        return all(self.report.cases[a] >= CASES for a in self.actions) and all(
            n >= KIND_CASES for n in self.kinds.values()
        )

    def wanted(self, step: Step) -> bool:
        """The step's action or its kind is short of cases."""
        kind = _kind(step)
        return self.report.cases[step.action] < CASES or self.kinds[kind] < KIND_CASES

    def _fail(self, action: str, detail: str) -> None:
        if self.report.disagreement is None:
            self.report.disagreement = Disagreement(action, detail)

    def check_state(
        self,
        checker: Checker,
        state: State,
        steps: list[tuple[Step, State]],
        rnd: random.Random,
        where: str,
        only: frozenset[str] | None = None,
    ) -> None:
        """Up to PER_STATE steps per enabled action short of cases (of the actions in `only`,
        if given), and the refusals. `steps` are all the enabled steps of `state`."""
        pre = checker.project(state)
        by_action: dict[str, list[tuple[Step, State]]] = {}
        for item in steps:
            if only is None or item[0].action in only:
                by_action.setdefault(item[0].action, []).append(item)
        for group in by_action.values():
            for kind in {_kind(step) for step, _ in group}:
                self.kinds.setdefault(kind, 0)
            rnd.shuffle(group)
            group.sort(key=lambda item: self.kinds[_kind(item[0])])
            for step, successor in [item for item in group if self.wanted(item[0])][:PER_STATE]:
                self._check_step(checker, state, pre, step, successor, where)
                if self.report.disagreement is not None:
                    return
        self._check_refusals(checker, state, pre, {step for step, _ in steps}, where)

    def _check_step(
        self,
        checker: Checker,
        state: State,
        pre: AState,
        step: Step,
        successor: State,
        where: str,
    ) -> None:
        """The model's successor satisfies the relation of the step (`pre` is `state`
        projected)."""
        self.report.cases[step.action] += 1
        self.kinds[_kind(step)] += 1
        args = concrete_args(checker.config, state, step)
        try:
            agrees = checker.holds(pre, step, checker.project(successor), args)
        except FrameError as exc:
            self._fail(step.action, f"{step} from {where}: {exc}")
            return
        if not agrees:
            detail = _field_difference(checker, state, step, successor)
            self._fail(step.action, f"{step} from {where}: {detail}")

    def _check_refusals(
        self, checker: Checker, state: State, pre: AState, enabled: set[Step], where: str
    ) -> None:
        """Every argument the domain offers and the model refuses is refused by the encoding
        (while an allocation waits, or after a crash, that is every step but early_drop's)."""
        config = checker.config
        start = settled(state)
        for name in self.actions:
            if self.report.refused[name] >= REFUSALS:
                continue
            for kwargs in BY_NAME[name].domain(config, start):
                step = Step(name, tuple(kwargs.items()))
                if step in enabled:
                    continue
                args = concrete_args(config, state, step)
                guard, _ = execute(name, checker.flags, checker.params, pre, args)
                self.report.refused[name] += 1
                if truth(guard):
                    self._fail(
                        name, f"{step} from {where}: the model refuses it, the encoding takes it"
                    )
                    return
                break


def check_encoding(variant: str, seed: int = 0) -> GuardReport:
    """The guard's sample of `variant` (or of `SMP`: 2.6.31's smp steps over every kernel era),
    checked against its encoding (see the module docstring); the same sample for the same
    seed."""
    started = time.perf_counter()
    smp = variant == SMP
    guard = _Guard(variant, Era(smp=True) if smp else ATOMIC)
    for walk in range(WALKS):
        for preset in walk_presets(variant):
            if guard.done():
                break
            rnd = random.Random(f"{seed}/{variant}/{preset}/{walk}")
            choices = tuple(rnd.randrange(10**6) for _ in range(LENGTH))
            plan = WalkPlan(preset, "2.6.31" if smp else variant, choices)
            _check_walk(guard, plan, rnd, walk)
    guard.report.seconds = time.perf_counter() - started
    return guard.report


def _check_walk(guard: _Guard, plan: WalkPlan, rnd: random.Random, walk: int) -> None:
    """Check the states of one walk, and one successor of each while an action is short."""
    config = plan.config
    checker = Checker(config)
    for depth, (state, steps) in enumerate(visit(plan)):
        where = _where(config, walk, depth)
        guard.check_state(checker, state, steps, rnd, where)
        if guard.done():
            return
        short = frozenset(a for a in guard.actions if guard.report.cases[a] < CASES)
        if short and steps:
            _, ahead = rnd.choice(steps)
            more = list(successors(config, ahead))
            guard.check_state(checker, ahead, more, rnd, f"a successor of {where}", short)
            if guard.done():
                return
