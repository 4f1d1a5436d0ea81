"""The Hypothesis engine: a RuleBasedStateMachine over the action registry.

One rule per registry action (named after the kernel function), enabled by a precondition when
some argument choice is enabled in the current state; the rule draws one of the enabled steps.
After every step the machine evaluates every catalogue property it was given and records the
first run that shows each finding (a violation, or a witness); liveness is checked in the
teardown by the bounded fair drain. Runs keep going after a finding, so one search collects the
findings of every property; each recorded run is then minimised by replay
(`nfct_spec.minimize`). `hypothesis.target` steers runs toward long dying lists, full queues
and a full table.

The model is a pure function of the state, and a search visits the same states again and again
(every run starts from the initial state; the target phase replays a run with one choice
changed), so each search memoises, per state, the enabled steps with their successors and, per
transition, which properties it shows. The runs and their verdicts are what they would be
without: only the repeated evaluations are saved. Each memo holds at most `MEMO_ENTRIES`
entries and starts again empty when full (the `deep` profile visits millions of states).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import hypothesis
from hypothesis import HealthCheck, Phase, settings, target
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.stateful import (
    RuleBasedStateMachine,
    precondition,
    rule,
    run_state_machine_as_test,
)

from nfct_spec.checking import finding_in_state, finding_on_step
from nfct_spec.engines.hypothesis_constants import module_independent_generation
from nfct_spec.minimize import liveness_findings
from nfct_spec.models.config import Config
from nfct_spec.models.registry import Step, actions_of, enabled_steps
from nfct_spec.models.state import State, initial_state
from nfct_spec.spec.catalogue import Property


@dataclass(frozen=True)
class Profile:
    """A Hypothesis budget: runs per search, steps per run, derandomised or seeded."""

    name: str
    max_examples: int
    steps: int
    derandomize: bool


PROFILES = {
    "dev": Profile("dev", 300, 30, False),
    "ci": Profile("ci", 400, 30, True),
    "deep": Profile("deep", 10000, 60, False),
    "eras": Profile("eras", 1600, 60, True),
}
"""`eras` is `nfct-spec eras`'s default: derandomized like `ci`, with runs twice as long and
four times as many, because the CPU-level findings of the era configs take 8 to 12 steps in
the right interleaving. With `ci`, 7 of them were not found; with 800 runs, `no-double-unlink`
on `smp-delete-guard-flush`; with 1,200, that one and `timeout-handler-once` there (a larger
budget does not give a superset of the runs: Hypothesis plans its runs by the budget). With
1,600 every config finds every expected finding (measured, about 100 s per config)."""


MEMO_ENTRIES = 1 << 16
"""Entries per memo of one search (some 200 MB at most for both)."""


class AllFound(Exception):
    """Every property of the search has its finding: stop generating runs."""


ProgressFn = Callable[[int, int], None]


@dataclass
class Collection:
    """What one search produced: per property id, the steps of the first run that showed
    its finding; and the budget used."""

    found: dict[str, list[Step]] = field(default_factory=dict)
    progress: ProgressFn | None = None
    examples: int = 0
    steps: int = 0
    elapsed: float = 0.0
    options: dict[State, dict[str, list[tuple[Step, State]]]] = field(default_factory=dict)
    """Per visited state: the enabled steps of each action, with their successors."""
    shown: dict[tuple[State, Step], tuple[Property, ...]] = field(default_factory=dict)
    """Per taken transition: the (non-liveness) properties whose finding it is."""
    watched: tuple[Property, ...] = ()
    """Witness entries the runs are watched for without searching for them: the premises of
    the entries searched (`nfct_spec.spec.premises`). They take no part in the generation
    (no target, no early stop), so the runs are those of the search without them."""
    reached: dict[str, int] = field(default_factory=dict)
    """Per watched entry: how many runs reached it."""


def _rule_for(name: str) -> Callable[..., None]:
    def has_steps(self: ModelMachine) -> bool:
        return bool(self.options.get(name))

    def fire(self: ModelMachine, data: st.DataObject) -> None:
        step, successor = data.draw(st.sampled_from(self.options[name]), label=name)
        self.advance(step, successor)

    fire.__name__ = fire.__qualname__ = name.lstrip("_")
    return precondition(has_steps)(rule(data=st.data())(fire))


class ModelMachine(RuleBasedStateMachine):
    """Base class; `machine_class` fills in the config, the properties and one rule per
    registry action."""

    config: ClassVar[Config]
    props: ClassVar[tuple[Property, ...]]
    collection: ClassVar[Collection]
    fail_on: ClassVar[frozenset[str]]
    start: ClassVar[tuple[tuple[Step, State], ...]] = ()
    """Steps every run takes first, judged like the drawn ones (`search`'s `start`)."""

    def __init__(self) -> None:
        super().__init__()
        self.state = initial_state(self.config)
        self.path: list[tuple[Step, State]] = []
        self.peaks = {"dying": 0, "queued": 0, "count": 0, "findings": 0}
        self.reached: set[str] = set()
        self.collection.examples += 1
        if self.collection.progress is not None:
            self.collection.progress(self.collection.examples, len(self.collection.found))
        self._refresh()
        for prop in self.props:
            if finding_in_state(prop, self.config, self.state):
                self._record(prop)
        for step, successor in self.start:
            self.advance(step, successor)

    def _refresh(self) -> None:
        cached = self.collection.options.get(self.state)
        if cached is None:
            cached = {}
            for action in actions_of(self.config):
                steps = list(enabled_steps(self.config, self.state, action))
                if steps:
                    cached[action.name] = steps
            if len(self.collection.options) >= MEMO_ENTRIES:
                self.collection.options.clear()
            self.collection.options[self.state] = cached
        self.options = cached

    def _record(self, prop: Property) -> None:
        if prop.id in self.fail_on:
            raise AssertionError(
                f"{prop.id}: {prop.statement} Not so after: "
                + "; ".join(str(step) for step, _ in self.path)
            )
        self.peaks["findings"] += 1
        if prop.id not in self.collection.found:
            self.collection.found[prop.id] = [step for step, _ in self.path]

    def advance(self, step: Step, successor: State) -> None:
        """Take one step, then evaluate every property on it."""
        pre = self.state
        self.path.append((step, successor))
        self.state = successor
        self.collection.steps += 1
        kernel = successor.kernel
        self.peaks["dying"] = max(self.peaks["dying"], len(kernel.dying))
        self.peaks["queued"] = max(self.peaks["queued"], sum(len(s.queue) for s in kernel.sockets))
        self.peaks["count"] = max(self.peaks["count"], kernel.ct_count)
        key = (pre, step)
        shown = self.collection.shown.get(key)
        if shown is None:
            if len(self.collection.shown) >= MEMO_ENTRIES:
                self.collection.shown.clear()
            shown = self.collection.shown[key] = tuple(
                prop
                for prop in (*self.props, *self.collection.watched)
                if prop.kind != "liveness"
                and finding_on_step(prop, self.config, pre, step, successor)
            )
        for prop in shown:
            if prop in self.collection.watched:
                self.reached.add(prop.id)
            else:
                self._record(prop)
        self._refresh()

    @precondition(lambda self: not self.options)
    @rule()
    def stopped(self) -> None:
        """Nothing is enabled (the kernel crashed or the bounded run is over): stutter."""

    def teardown(self) -> None:
        pending = [
            p for p in self.props if p.kind == "liveness" and p.id not in self.collection.found
        ]
        if pending:
            shown = liveness_findings(self.config, self.path, [p.id for p in pending])
            for prop in pending:
                if prop.id in shown:
                    self._record(prop)
        for prop_id in self.reached:
            self.collection.reached[prop_id] = self.collection.reached.get(prop_id, 0) + 1
        for label, value in self.peaks.items():
            target(float(value), label=label)
        if len(self.collection.found) == len(self.props):
            raise AllFound


def machine_class(
    config: Config,
    props: Sequence[Property],
    collection: Collection,
    fail_on: frozenset[str] = frozenset(),
    start: Sequence[tuple[Step, State]] = (),
) -> type[ModelMachine]:
    """A state machine class for one config that records findings of `props`; a finding of a
    property in `fail_on` fails the run at once (the pytest invariant suite uses this). Every
    run takes the steps of `start` first (each with the state it leads to)."""
    namespace: dict[str, Any] = {
        "config": config,
        "props": tuple(props),
        "collection": collection,
        "fail_on": fail_on,
        "start": tuple(start),
    }
    for action in actions_of(config):
        namespace[f"rule_{action.name.lstrip('_')}"] = _rule_for(action.name)
    return type("NfctMachine", (ModelMachine,), namespace)


SUPPRESSED_HEALTH_CHECKS: tuple[HealthCheck, ...] = ()
"""None: every health check stays on, and a failed one (`FailedHealthCheck`) is reported by
the caller as undecided verdicts, never hidden. None fired in searches of every preset and
variant under every profile, as expected: `too_slow` counts only the time spent drawing, here
one `sampled_from` over precomputed steps per rule (the model runs in the rule body), against
30 s with `deadline=None`; `filter_too_much` needs 50 rejected runs before 10 valid ones, and
a run is rejected only when Hypothesis' per-run feature flags happen to switch off every rule
whose precondition holds in some state (`stopped` holds when no action is enabled, so there is
always one); `data_too_large` and `large_base_example` concern the choices of at most `steps`
rules, a few each; the others concern pytest fixtures, executors and nested @given."""


def hypothesis_settings(profile: Profile, database_dir: Path | None) -> settings:
    """Settings for one search. Findings are collected, not raised, so there is nothing to
    shrink; the example database (dev and deep profiles) lives under the output folder."""
    database = None
    if database_dir is not None and not profile.derandomize:
        database = DirectoryBasedExampleDatabase(str(database_dir))
    return settings(
        max_examples=profile.max_examples,
        stateful_step_count=profile.steps,
        derandomize=profile.derandomize,
        database=database,
        deadline=None,
        report_multiple_bugs=False,
        suppress_health_check=SUPPRESSED_HEALTH_CHECKS,
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target],
        print_blob=False,
        verbosity=hypothesis.Verbosity.quiet,
    )


def search(
    config: Config,
    props: Sequence[Property],
    profile: Profile,
    seed: int,
    database_dir: Path | None = None,
    progress: ProgressFn | None = None,
    watched: Sequence[Property] = (),
    start: Sequence[tuple[Step, State]] = (),
) -> Collection:
    """Run one Hypothesis search over `config`, collecting the first run showing each
    property's finding, and counting the runs that reach each of `watched` (`Collection`).

    With `start` (a run's first steps, each with its state), every run takes those steps
    first and Hypothesis draws only what follows: the runs of the config that begin so."""
    collection = Collection(progress=progress, watched=tuple(watched))
    cls = machine_class(config, props, collection, start=start)
    if not profile.derandomize:
        hypothesis.seed(seed)(cls)
    started = time.perf_counter()
    with module_independent_generation(), contextlib.suppress(AllFound):
        run_state_machine_as_test(cls, settings=hypothesis_settings(profile, database_dir))
    collection.elapsed = time.perf_counter() - started
    return collection
