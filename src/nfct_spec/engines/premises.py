"""Whether the configs of an `exhausted` verdict ever get into the situation it is about.

An exhaustive search without a counterexample says an entry holds on a config; if no run of
the config reaches the entry's premise (`nfct_spec.spec.premises`), that is true and empty:
`early-drop-spares-assured` holds on a config where no packet sets IPS_ASSURED_BIT whatever
early_drop() does. So before the explorer calls an entry `exhausted`, it searches the entry's
premise as a witness of its own on the same configs (the member that `SHOWN_IN` names first,
then the others) and says where it was reached. A premise that every config is exhausted
without, or that the budget stops short of, leaves the verdict `unknown`: "holds" would claim
more than the search showed.

Entries without a premise (`UNCONDITIONAL`, `EXEMPT`, the auxiliary lemmas of the proofs) keep
their verdict as it is. Premises are step predicates written for the atomic granularity
(three of them name its actions: early_drop(), the packet kinds of nf_conntrack_in(), the
flush), and at the smp granularity, where kernel functions are split into steps, an entry is
judged only where the catalogue restates it for an era (`Property.expected_for`); a premise
entry restates none, so smp configs are not judged here (`reach` refuses a config it would
not be searched on, rather than call the premise unreached).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from nfct_spec.checking import searched
from nfct_spec.engines.explorer import Stats, explore, finding_depth
from nfct_spec.models.config import Config
from nfct_spec.spec.catalogue import BY_ID
from nfct_spec.spec.premises import EXEMPT, PREMISES, SHOWN_IN, premise_entry


@dataclass(frozen=True)
class PremiseReach:
    """Where a premise was reached: `config` and the BFS `depth` of the first step that
    reaches it (None: not reached); `states` searched in all, and whether every config
    searched was exhausted (`complete`)."""

    prop_id: str
    config: str | None
    depth: int
    states: int
    complete: bool

    @property
    def reached(self) -> bool:
        """Some run of some config gets into the situation."""
        return self.config is not None

    def note(self) -> str:
        """What a verdict's scope says about the premise."""
        if self.config is not None:
            return f"premise reached in {self.config} at depth {self.depth}"
        what = situation(self.prop_id)
        if self.complete:
            return f"vacuous: no run reaches the premise ({what}), {self.states} states searched"
        return (
            f"premise not reached within {self.states} states ({what}): the search may be vacuous"
        )


def situation(prop_id: str) -> str:
    """The entry's premise in words (its predicate's summary), as verdicts quote it."""
    return premise_entry(prop_id).statement.rstrip(".")


def sampled_note(prop_id: str, reached_runs: int, runs: int) -> tuple[str, str]:
    """The verdict of a sample without a finding of an entry judged with its premise
    (`has_premise`), and the note its scope ends with: `sampled`, saying in how many of the
    `runs` the premise was reached, or `unknown` when no run reached it, since a sample that
    never got into the situation the entry is about shows nothing of it. One wording for
    `nfct-spec check`'s Hypothesis searches and `nfct-spec fuzz`'s campaigns."""
    if reached_runs:
        return "sampled", f"premise reached in {reached_runs} of {runs} runs"
    return "unknown", f"vacuous: no run reached the premise ({situation(prop_id)})"


NOTES = ("premise reached in ", "vacuous: ", "premise not reached within ")
"""How each note of `PremiseReach.note` and `sampled_note` starts."""


def note_in(scope: str) -> str:
    """The premise note a verdict's scope ends with ("" if none)."""
    start = max(scope.rfind(f"; {note}") for note in NOTES)
    return scope[start + 2 :] if start >= 0 else ""


def has_premise(prop_id: str, config: Config) -> bool:
    """Whether the entry's verdict on `config` is judged with its premise: it has one, the
    config is expected to give no finding (`holds`, `no-witness`), and the variant can reach
    it (not `EXEMPT`)."""
    return (
        prop_id in PREMISES
        and (prop_id, config.variant) not in EXEMPT
        and config.granularity == "atomic"
        and BY_ID[prop_id].expected_for(config) in ("holds", "no-witness")
    )


def reach(
    prop_id: str,
    configs: Sequence[Config],
    max_states: int,
    progress: Callable[[Config, Stats], None] | None = None,
) -> PremiseReach | None:
    """Search the entry's premise on `configs` (the member `SHOWN_IN` names first) until one
    reaches it, each search within `max_states` states; None when the entry has no premise on
    them (`has_premise`). `progress` is told of each search's progress every few thousand
    states (a premise is mostly reached well before the first report)."""
    judged = [c for c in configs if has_premise(prop_id, c)]
    if not judged:
        return None
    shown = SHOWN_IN.get(prop_id)
    judged.sort(key=lambda c: c.name != shown)
    entry = premise_entry(prop_id)
    states, complete = 0, True
    for config in judged:
        if not searched(entry, config):
            raise ValueError(f"{entry.id} is not searched on {config.name}: no verdict on it")
        report = None if progress is None else functools.partial(progress, config)
        exploration = explore(
            config, [entry], max_states=max_states, level=entry.observes, progress=report
        )
        states += exploration.stats.states
        if entry.id in exploration.findings:
            depth = finding_depth(exploration, entry.id)
            return PremiseReach(prop_id, config.name, depth, states, True)
        complete = complete and exploration.stats.complete
    return PremiseReach(prop_id, None, 0, states, complete)
