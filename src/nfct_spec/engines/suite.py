"""The explorer's verdict over a suite of small configs (`nfct_spec.models.presets.suite`).

A preset such as `ci` is far too large to exhaust, so the explorer exhausts several small
configs instead, each enabling what some expected finding needs. The catalogue's expectation
depends on the config (`no-crash` is expected violated only where the retry timeout can be
written as 0), so every member is first judged against its own expectation, and the suite's
verdict on a property is then:

1. **a contradiction**, if some member's verdict contradicts that member's expectation (a
   finding where the property is expected to hold, or the reverse): reported as that member's
   verdict and expectation, so that it fails the run;
2. **the finding**, if some member that expects it shows it: the shortest one (by BFS depth),
   with its trace; members that expect the property to hold are exhausted without it;
3. **`exhausted`**, if every member expects the property to hold and every member was
   exhausted: the scope sums their states, and says in which member the entry's premise was
   reached (`nfct_spec.engines.premises`); when no member reaches it, the verdict is
   `unknown` (the search was vacuous, or it cannot tell);
4. **`unknown`** otherwise: a member's budget ran out, or no member shows an expected finding
   (the configs are too small for it; the report says so, it is never a pass).

A member built to show a finding (`SHOWN_BY`, or the mapping the caller passes: `nfct-spec
eras` passes the history page's, `nfct_spec.docs.faults.SHOWN_BY`) that is exhausted without it
is a contradiction under rule 1: that finding is then known to be missing from the model, not
merely out of reach.

A member for which the property is `n/a` is left out; a property that is `n/a` for every member
gets no verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from nfct_spec.engines.explorer import Exploration, finding_depth, trace_of, verdict
from nfct_spec.engines.lasso import LivenessOutcome, liveness_verdict
from nfct_spec.engines.premises import PremiseReach
from nfct_spec.models.config import Config
from nfct_spec.results import PASSING
from nfct_spec.spec.catalogue import Property
from nfct_spec.traces import Trace

FINDINGS = ("violated", "witness")

SHOWN_BY: Mapping[str, tuple[str, ...]] = {
    "destroy-before-free": ("ci.faults",),
    "auto-mode-late-listener": ("ci.faults",),
}
"""Members of the `ci` suite that are built to show a property's finding wherever their variant
expects it (see `nfct_spec.models.presets.suite`): for them an exhaustive search without the
finding refutes the expectation instead of leaving it `unknown`."""


@dataclass(frozen=True)
class MemberVerdict:
    """One member's verdict on one property, against that member's expectation.

    `states` is how many states the member's search covered and `complete` whether that was
    all of them (no budget hit); `depth` orders findings (the BFS depth, or the trace length
    for liveness); `trace` is built on demand for safety findings (`exploration`) or given
    (liveness)."""

    config: Config
    verdict: str
    expected: str
    scope: str
    states: int
    complete: bool
    depth: int = 0
    exploration: Exploration | None = None
    trace: Trace | None = None

    @property
    def contradicts(self) -> bool:
        """A verdict that is neither as expected nor `unknown`."""
        return self.verdict != "unknown" and self.verdict not in PASSING[self.expected]

    def misses(self, prop_id: str, shown_by: Mapping[str, tuple[str, ...]] = SHOWN_BY) -> bool:
        """The member is built to show the finding (`shown_by`: property id -> config names),
        expects it, and was exhausted without it."""
        return (
            self.config.name in shown_by.get(prop_id, ())
            and self.expected in FINDINGS
            and self.complete
            and not self.shows_finding
        )

    @property
    def shows_finding(self) -> bool:
        """The member expects a finding and shows it."""
        return self.expected in FINDINGS and self.verdict in PASSING[self.expected]


@dataclass(frozen=True)
class SuiteVerdict:
    """The suite's verdict on one property: what a results row needs, and where the trace
    comes from (`source`)."""

    verdict: str
    expected: str
    scope: str
    config: str
    source: MemberVerdict | None = None

    def trace(self, prop: Property) -> Trace | None:
        """The trace of the finding, rebuilt from real steps of the member that showed it."""
        if self.source is None:
            return None
        if self.source.trace is not None:
            return self.source.trace
        if self.source.exploration is not None and prop.id in self.source.exploration.findings:
            return trace_of(self.source.exploration, prop)
        return None


def safety_member(prop: Property, exploration: Exploration) -> MemberVerdict | None:
    """The verdict of one explored member on a safety or witness property (None if `n/a`)."""
    config = exploration.config
    expected = prop.expected_for(config)
    if expected == "n/a":
        return None
    found, scope = verdict(prop, exploration)
    depth = finding_depth(exploration, prop.id) if prop.id in exploration.findings else 0
    stats = exploration.stats
    return MemberVerdict(
        config, found, expected, scope, stats.states, stats.complete, depth, exploration=exploration
    )


def liveness_member(
    prop: Property, config: Config, outcome: LivenessOutcome
) -> MemberVerdict | None:
    """The verdict of one member on a liveness entry (None if `n/a`)."""
    expected = prop.expected_for(config)
    if expected == "n/a":
        return None
    found, scope, trace = liveness_verdict(outcome, expected)
    depth = len(trace.steps) if trace is not None else 0
    return MemberVerdict(
        config, found, expected, scope, outcome.states, outcome.complete, depth, trace=trace
    )


def combine(
    label: str,
    members: Sequence[MemberVerdict | None],
    prop_id: str = "",
    shown_by: Mapping[str, tuple[str, ...]] = SHOWN_BY,
    premise: Callable[[], PremiseReach | None] | None = None,
) -> SuiteVerdict | None:
    """The suite's verdict from its members' (see the module docstring for the rules).

    `label` names the whole suite in a results row (`ci.*`); a suite of one config gives that
    config's own verdict and scope. `shown_by` names, per property id, the configs built to
    show its finding. `premise` searches the entry's premise (`nfct_spec.engines.premises`),
    only when every member is exhausted without a finding: the scope says where it was
    reached, and a premise not reached makes the verdict `unknown`."""
    judged = [m for m in members if m is not None]
    if not judged:
        return None
    single = len(judged) == 1

    def named(member: MemberVerdict) -> str:
        return member.scope if single else f"{member.config.name}: {member.scope}"

    for member in judged:
        if member.contradicts:
            return SuiteVerdict(
                member.verdict, member.expected, named(member), member.config.name, member
            )
    for member in judged:
        if member.misses(prop_id, shown_by):
            scope = f"{named(member)}; this config is built to show it"
            return SuiteVerdict("exhausted", member.expected, scope, member.config.name, member)
    shown = [m for m in judged if m.shows_finding]
    if shown:
        best = min(shown, key=lambda m: m.depth)
        scope = named(best) if single else f"{named(best)}; {_others(best, judged)}"
        return SuiteVerdict(best.verdict, best.expected, scope, best.config.name, best)
    wanted = [m for m in judged if m.expected in FINDINGS]
    if wanted:
        budget = [m for m in wanted if not m.complete]
        if single:
            why = judged[0].scope
        elif budget:
            why = f"budget hit in {', '.join(m.config.name for m in budget)}"
        else:
            why = (
                f"no {wanted[0].expected} finding in any of the {len(judged)} configs: "
                "they are too small for it"
            )
        return SuiteVerdict("unknown", wanted[0].expected, why, label)
    unknown = [m for m in judged if m.verdict == "unknown"]
    if unknown:
        return SuiteVerdict("unknown", unknown[0].expected, named(unknown[0]), label)
    if single:
        scope = judged[0].scope
    else:
        states = sum(m.states for m in judged)
        parts = ", ".join(f"{m.config.name} {m.states}" for m in judged)
        scope = f"every state of {len(judged)} configs, {states} in all ({parts})"
    reach = premise() if premise is not None else None
    if reach is None:
        return SuiteVerdict("exhausted", judged[0].expected, scope, label)
    verdict = "exhausted" if reach.reached else "unknown"
    return SuiteVerdict(verdict, judged[0].expected, f"{scope}; {reach.note()}", label)


def _others(best: MemberVerdict, judged: Sequence[MemberVerdict]) -> str:
    """What the other members say about a finding that `best` shows."""
    counts = {
        "show it too": 0,
        "too small for it": 0,
        "exhausted, where it is not expected": 0,
        "not exhausted (budget hit)": 0,
    }
    for member in judged:
        if member is best:
            continue
        if not member.complete and not member.shows_finding:
            counts["not exhausted (budget hit)"] += 1
        elif member.shows_finding:
            counts["show it too"] += 1
        elif member.expected in FINDINGS:
            counts["too small for it"] += 1
        else:
            counts["exhausted, where it is not expected"] += 1
    parts = [f"{n} {what}" for what, n in counts.items() if n]
    return "other configs: " + ", ".join(parts)
