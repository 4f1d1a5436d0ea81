"""Runs into a premise that the sample missed: the sampling check's second chance.

The sampling check watches its runs for the premise of each entry it expects to hold
(`nfct_spec.engines.sampling`); a premise no run reached leaves the entry's verdict vacuous.
Whether a premise is met in a few runs of a thousand, or in none, depends on how Hypothesis
happens to spread its runs (the `ci` preset's 6.x runs met the early drop of an ASSURED
conntrack in one run of 1,355), so an upgrade of Hypothesis could turn such a verdict into
`unknown` with nothing changed in the model. Rather than leave it there, the check asks the
explorer for the shortest run of the config into the premise (the premise as a witness entry,
`nfct_spec.spec.premises.premise_entry`, searched breadth-first with the observers it reads)
and then samples runs that begin with those steps: every property is judged on every step of
them, prefix included, exactly as on the other runs, so what they find or do not find is
evidence about the config in the situation the entry is about. The explorer's budget bounds
the search; a premise it does not reach leaves the verdict as vacuous as before.

`nfct-spec fuzz` gives its campaigns the same second chance (`nfct_spec.engines.fuzz_harvest`),
so the verdicts and scopes of both commands are worded here, once (`premise_note`,
`premise_runs_scope`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from nfct_spec.engines.explorer import explore, trace_of
from nfct_spec.engines.hypothesis_engine import Collection, Profile, search
from nfct_spec.engines.premises import sampled_note
from nfct_spec.minimize import replay_steps
from nfct_spec.models.config import Config
from nfct_spec.models.registry import Step
from nfct_spec.models.state import State
from nfct_spec.spec.catalogue import Property
from nfct_spec.spec.premises import premise_entry, premise_level

PREMISE_STATES = 200_000
"""The most states the explorer searches for a premise's shortest run (every premise of the
`ci` preset is reached within a few thousand)."""
RUNS = 100
"""The Hypothesis budget (`max_examples`) of the runs sampled from a premise's shortest run,
per entry; Hypothesis counts valid examples, so more runs than this are made."""


@dataclass(frozen=True)
class PremiseRuns:
    """The runs sampled from the shortest run into one entry's premise (`prefix` steps long;
    None when the explorer did not reach it within `states` states)."""

    prop_id: str
    prefix: int | None
    states: int
    collection: Collection | None

    @property
    def runs(self) -> int:
        """Runs sampled (none when the explorer did not reach the premise)."""
        return 0 if self.collection is None else self.collection.examples

    @property
    def reached(self) -> int:
        """Of those runs, how many reached the premise."""
        if self.collection is None:
            return 0
        return self.collection.reached.get(premise_entry(self.prop_id).id, 0)

    def note(self) -> str:
        """What the entry's verdict says about these runs."""
        if self.collection is None:
            return f"no run into it within {self.states:,} states of the explorer"
        return (
            f"{self.runs} runs sampled from the shortest run into it ({self.prefix} steps, "
            f"found by the explorer in {self.states:,} states), the premise reached in "
            f"{self.reached} of them"
        )


def shortest_into(
    config: Config, prop_id: str, max_states: int = PREMISE_STATES
) -> tuple[list[tuple[Step, State]] | None, int]:
    """The BFS-shortest run of `config` that reaches the entry's premise, its steps with the
    states they lead to (every observer kept, as the sampling runs keep them), and the states
    searched; None if the search ended without it."""
    premise = premise_entry(prop_id)
    found = explore(config, [premise], max_states, level=premise_level(prop_id))
    if premise.id not in found.findings:
        return None, found.stats.states
    path = replay_steps(config, trace_of(found, premise).steps)
    if path is None:
        raise AssertionError(f"the explorer's run into {premise.id} does not replay")
    return path, found.stats.states


def premise_runs(
    config: Config,
    props: Sequence[Property],
    prop_id: str,
    profile: Profile,
    seed: int,
    runs: int = RUNS,
) -> PremiseRuns:
    """Sample `runs` runs of `config` that begin with the shortest run into `prop_id`'s
    premise, judging `props` on every step (with `profile`'s steps per run after the prefix,
    derandomised as the profile is)."""
    path, states = shortest_into(config, prop_id)
    if path is None:
        return PremiseRuns(prop_id, None, states, None)
    budget = Profile(f"{profile.name}-premise", runs, profile.steps, profile.derandomize)
    premise = premise_entry(prop_id)
    collection = search(config, props, budget, seed, watched=[premise], start=path)
    return PremiseRuns(prop_id, len(path), states, collection)


def premise_runs_scope(missed: Iterable[PremiseRuns]) -> str:
    """What the scope of every verdict of a config adds about the runs sampled from the
    premises its runs missed ("" when none was sampled)."""
    ran = [extra for extra in missed if extra.runs]
    if not ran:
        return ""
    runs = sum(extra.runs for extra in ran)
    return f", and {runs} runs from the shortest runs into {len(ran)} premise(s) they missed"


def premise_note(
    prop_id: str, reached: int, runs: int, extra: PremiseRuns | None
) -> tuple[str, str]:
    """The verdict and scope note of an entry sampled without a finding: its premise reached
    in `reached` of the sample's own `runs`, or else by the runs sampled from the shortest
    run into it (`extra`, None when none were sampled)."""
    verdict, note = sampled_note(prop_id, reached, runs)
    if extra is None:
        return verdict, note
    if extra.reached:
        return "sampled", f"premise reached in 0 of {runs} runs; {extra.note()}"
    return verdict, f"{note}; {extra.note()}"
