"""The runs of a fuzzing campaign: the Hypothesis engine's state machine, made fit for
coverage-guided fuzzing.

Like `nfct_spec.engines.hypothesis_engine.ModelMachine`, it takes one enabled step of a
registry action at a time and evaluates every given catalogue property after every step
(liveness by the bounded fair drain at the end of a run). What differs:

- Coverage means the kernel code a run executed. HypoFuzz measures branch coverage of
  everything the test runs; the engine, to choose a step, builds every successor of the state,
  so the coverage of a run would be that of every step it could have taken, and the property
  checks would add theirs. Here only the step taken is executed under coverage; the enabled
  steps of a state and the findings in a state or on a step are computed outside it
  (`harness`) and memoised per machine class (bounded LRU caches; states are hashable and
  compare by value). Under HypoFuzz's line tracing this is also what makes a run affordable:
  traced, the enumeration and the checks cost about seven times what they cost plain, and
  runs share long prefixes (HypoFuzz mutates the examples of its corpus), so most states come
  back. A memo must stay invisible to coverage, or a re-executed run (HypoFuzz re-runs every
  example with new coverage to see that it is stable) would cover less than the first time:
  where coverage cannot be paused (no line tracer installed, as with Python 3.12's
  sys.monitoring), nothing is memoised.
- A finding is not collected quietly: it is reported as the event `finding:PROPERTY`, a
  behaviour HypoFuzz keeps an example for (so the example database holds a covering example of
  every finding and a resumed campaign replays it first), logged with its steps for the
  campaign (`nfct_spec.engines.fuzz_log`), and, for a property the catalogue expects to hold on
  this config, raised as a failure, which HypoFuzz shrinks and keeps as a failing example.
- A run is a plain `@given(st.data())` test that draws the action among the enabled ones,
  then its arguments, as two indices, for a fixed number of steps (`given_test` says why it is
  not a RuleBasedStateMachine; choosing among one rule per action by preconditions also cost,
  under tracing, as much as a step).

Each run is also watched for the premises of its properties on its config
(`nfct_spec.engines.premises.has_premise`): a run that reaches one is counted once for it, in
the test's collection and the worker's log, so that a `sampled` verdict of the campaign can
say in how many runs the situation it is about came up (`nfct_spec.engines.fuzz_harvest`).
Premises are evaluated like the property checks, outside coverage and memoised, and take no
part in the run (no event, no target, no failure): the campaign's search is the one it would
be without them.

With `guidance`, each run also reports the peaks of `nfct_spec.engines.fuzz_guidance` as
`hypothesis.target()` observations and every distinct observer state as an event.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import types
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from hypothesis import HealthCheck, event, given, settings, target
from hypothesis import strategies as st

from nfct_spec.checking import finding_in_state, finding_on_step
from nfct_spec.engines.fuzz_guidance import PEAKS, Features, features
from nfct_spec.engines.fuzz_log import worker_log
from nfct_spec.engines.hypothesis_engine import Collection
from nfct_spec.engines.premises import has_premise
from nfct_spec.models.config import Config
from nfct_spec.models.registry import Step, actions_of, apply, enabled_steps
from nfct_spec.models.state import State, initial_state
from nfct_spec.spec.catalogue import Property
from nfct_spec.spec.fairness import assumptions_hold, drain, obligations_met
from nfct_spec.spec.premises import premise_entry

CACHE_SIZE = 1 << 15
"""Entries per memo (per machine class and worker process): some 100 MB at most in all."""

Enabled = dict[str, tuple[Step, ...]]
RUN_HEALTH_CHECKS = [h for h in HealthCheck if h is not HealthCheck.nested_given]
"""Health checks are for tests that draw data; HypoFuzz refuses tests that suppress
`nested_given`, so that one stays."""
F = TypeVar("F", bound=Callable[..., Any])


@contextlib.contextmanager
def harness() -> Iterator[None]:
    """Run the enclosed calls without the line tracer of a coverage tool (HypoFuzz's, on
    Python 3.11): functions called inside start untraced; the tracer is back afterwards."""
    tracer = sys.gettrace()
    if tracer is None:
        yield
        return
    sys.settrace(None)
    try:
        yield
    finally:
        sys.settrace(tracer)


def coverage_unpausable() -> bool:
    """A coverage tool is active that `harness` cannot pause: a sys.monitoring tool (Python
    3.12 and later, where HypoFuzz uses it)."""
    monitoring = getattr(sys, "monitoring", None)
    return monitoring is not None and any(
        monitoring.get_tool(tool) is not None for tool in range(6)
    )


def _memoised(fn: F, size: int) -> F:
    """`fn` behind an LRU cache, unless coverage would see the difference between a hit and a
    miss (see the module docstring: that makes coverage unstable)."""
    cached = functools.lru_cache(size)(fn)

    @functools.wraps(fn)
    def call(*args: Any) -> Any:
        return fn(*args) if coverage_unpausable() else cached(*args)

    return call  # type: ignore[return-value]


class Memo:
    """The memoised step enumeration, property evaluations and watched premises of one
    (config, properties)."""

    def __init__(self, config: Config, props: Sequence[Property], size: int = CACHE_SIZE):
        self.config = config
        self.initial = initial_state(config)
        self.actions = actions_of(config)
        checked = [p for p in props if p.check is not None and p.kind != "liveness"]
        self.state_props = tuple(p for p in checked if not p.on_transitions)
        self.step_props = tuple(p for p in checked if p.on_transitions)
        self.live_props = tuple(p.id for p in props if p.kind == "liveness")
        self.watched = tuple(premise_entry(p.id) for p in props if has_premise(p.id, config))
        self._steps: dict[Step, Step] = {}
        self.enabled = _memoised(self._enabled, size)
        self.in_state = _memoised(self._in_state, size)
        self.on_step = _memoised(self._on_step, size)
        self.premises = _memoised(self._premises, size)
        self.live_broken = _memoised(self._live_broken, size)
        self.features = _memoised(self._features, size)

    def _enabled(self, state: State) -> Enabled:
        """The enabled steps of every action that has one (Step objects are shared between
        states, so a memo entry holds references only)."""
        out: Enabled = {}
        for action in self.actions:
            steps = tuple(
                self._steps.setdefault(step, step)
                for step, _ in enabled_steps(self.config, state, action)
            )
            if steps:
                out[action.name] = steps
        return out

    def _in_state(self, state: State) -> tuple[str, ...]:
        return tuple(p.id for p in self.state_props if finding_in_state(p, self.config, state))

    def _on_step(self, pre: State, step: Step, post: State) -> tuple[str, ...]:
        return tuple(
            p.id for p in self.step_props if finding_on_step(p, self.config, pre, step, post)
        )

    def _premises(self, pre: State, step: Step, post: State) -> tuple[str, ...]:
        """The ids of the watched premise entries the step reaches."""
        return tuple(p.id for p in self.watched if finding_on_step(p, self.config, pre, step, post))

    def _live_broken(self, state: State) -> tuple[str, ...]:
        """The liveness properties whose obligations the bounded fair drain from the last
        state of a run leaves unmet (as `nfct_spec.minimize.liveness_tail`, which depends on
        that state only)."""
        if not assumptions_hold(self.config, state):
            return ()
        tail = drain(self.config, state)
        end = tail[-1][1] if tail else state
        return tuple(p for p in self.live_props if not obligations_met(self.config, end, p))

    def _features(self, state: State) -> Features:
        return features(self.config, state)


@functools.cache
def _index(size: int) -> st.SearchStrategy[int]:
    """The strategy of an index into `size` choices, built once (building a strategy per
    draw, as `sampled_from` on a fresh tuple does, costs more than the draw)."""
    return st.integers(0, size - 1)


@dataclass
class FuzzTarget:
    """One campaign test: a config, its properties and what a run does with a finding."""

    memo: Memo
    name: str
    steps: int
    fail_on: frozenset[str] = frozenset()
    guidance: bool = True
    log_dir: Path | None = None
    collection: Collection = field(default_factory=Collection)

    def run(self, data: st.DataObject) -> None:
        """One run: `steps` steps from the initial state (stuttering once nothing is
        enabled), then the liveness check and the guidance report."""
        run = FuzzRun(self)
        for _ in range(self.steps):
            run.step(data)
        run.end()


class FuzzRun:
    """The state of one run of a `FuzzTarget`."""

    def __init__(self, target: FuzzTarget) -> None:
        self.target = target
        self.memo = target.memo
        self.state = self.memo.initial
        self.path: list[Step] = []
        self.peaks = dict.fromkeys(PEAKS, 0)
        self.observed: set[str] = set()
        self.premised: set[str] = set()
        target.collection.examples += 1
        with harness():
            if target.log_dir is not None:
                worker_log(target.log_dir).run_started(self.memo.config.variant)
            for prop_id in self._reached(self.state, self.memo.in_state(self.state)):
                self._record(prop_id)

    def _reached(self, state: State, found: tuple[str, ...]) -> tuple[str, ...]:
        """Bookkeeping on entering `state` (called under `harness`); returns `found`."""
        self.options = self.memo.enabled(state)
        if self.target.log_dir is not None and self.path:
            worker_log(self.target.log_dir).reached(state)
        if self.target.guidance:
            seen = self.memo.features(state)
            for name in PEAKS:
                self.peaks[name] = max(self.peaks[name], seen.peak(name))
            self.observed.add(seen.observer)
        return found

    def _record(self, prop_id: str) -> None:
        """Report a finding (called under `harness`: whether it is the first of its property in
        this process must not change the run's coverage, or HypoFuzz would find the first run
        showing it unstable and never keep it)."""
        event(f"finding:{prop_id}")
        target_ = self.target
        if prop_id not in target_.collection.found:
            target_.collection.found[prop_id] = list(self.path)
            if target_.log_dir is not None:
                worker_log(target_.log_dir).finding(
                    target_.name,
                    self.memo.config.variant,
                    prop_id,
                    self.path,
                    target_.collection.examples,
                )
        if prop_id in target_.fail_on:
            raise AssertionError(
                f"{prop_id}, expected to hold on this config, does not after: "
                + "; ".join(str(step) for step in self.path)
            )

    def _watch(self, reached: tuple[str, ...]) -> None:
        """Count this run for each watched premise it reaches for the first time (called
        under `harness`, before the step's findings: one of them may end the run)."""
        target_ = self.target
        for entry_id in reached:
            if entry_id in self.premised:
                continue
            self.premised.add(entry_id)
            counts = target_.collection.reached
            counts[entry_id] = counts.get(entry_id, 0) + 1
            if target_.log_dir is not None:
                worker_log(target_.log_dir).premise_reached(self.memo.config.variant, entry_id)

    def step(self, data: st.DataObject) -> None:
        """Draw an action among the enabled ones, then one of its enabled steps, and take it;
        stutter when nothing is enabled (the kernel crashed or the bounded run is over)."""
        if not self.options:
            return
        names = tuple(self.options)
        name = names[data.draw(_index(len(names)))] if len(names) > 1 else names[0]
        steps = self.options[name]
        self.advance(steps[data.draw(_index(len(steps)))] if len(steps) > 1 else steps[0])

    def advance(self, step: Step) -> None:
        """Take one step (under coverage), then watch the premises and evaluate every property
        on it (outside)."""
        pre = self.state
        post = apply(self.memo.config, pre, step)
        if post is None:
            raise ValueError(f"{step} was drawn as enabled but is not")
        self.state = post
        self.path.append(step)
        self.target.collection.steps += 1
        memo = self.memo
        with harness():
            if memo.watched:
                self._watch(memo.premises(pre, step, post))
            found = memo.in_state(post) + memo.on_step(pre, step, post)
            for prop_id in self._reached(post, found):
                self._record(prop_id)

    def end(self) -> None:
        """The liveness check on the last state, and the run's guidance report."""
        with harness():
            if self.memo.live_props:
                for prop_id in self.memo.live_broken(self.state):
                    self._record(prop_id)
        if self.target.guidance:
            for name, value in self.peaks.items():
                target(float(value), label=name)
            for observer in sorted(self.observed):
                event(f"observer:{observer}")


def given_test(
    fuzz_target: FuzzTarget, nodeid: str, test_settings: settings | None = None
) -> Callable[..., None]:
    """The Hypothesis test of a campaign test: `@given(st.data())`, not a
    RuleBasedStateMachine, because HypoFuzz replays an example by feeding its choices back in
    order, skipping none, while the stateful runner's first draw is forced (not taken from the
    example): every replay of a state machine example would be shifted by one choice, so no
    covering example would ever replay as itself.

    Hypothesis and HypoFuzz key a test's examples by a digest of its source, its signature and
    its pytest node id (HypoFuzz sets the node id; replays outside pytest set the same). The
    function's code gets a file name that has no source, so the digest falls back to the
    function's name: the key of a campaign test depends on its name and node id only, not on
    this module's text, and a database outlives upgrades of nfct-spec. The same test built
    with other settings (`test_settings`) finds the same examples. The default settings say
    derandomize=False (HypoFuzz fuzzes no derandomized test) rather than inherit it from
    Hypothesis's `ci` profile, the default where the CI environment variable is set."""

    def run(data: st.DataObject) -> None:
        fuzz_target.run(data)

    name = nodeid.rsplit("::", 1)[-1]
    code = run.__code__.replace(co_filename=f"<nfct-spec fuzz {name}>", co_name=name)
    test = types.FunctionType(code, run.__globals__, name, None, run.__closure__)
    test.__qualname__ = name
    test.__annotations__ = {}
    chosen = test_settings or settings(
        deadline=None, derandomize=False, suppress_health_check=RUN_HEALTH_CHECKS
    )
    wrapped: Any = chosen(given(data=st.data())(test))
    wrapped.hypothesis.inner_test._hypothesis_internal_add_digest = nodeid.encode()
    return cast(Callable[..., None], wrapped)
