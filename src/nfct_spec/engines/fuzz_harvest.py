"""From what a campaign found to verdicts and traces, the way `nfct-spec check` reports them.

A finding arrives as the steps of a run that showed it: from the workers' logs while a
campaign runs, or from replaying the example database (`replay_database`). Either way it is
replayed and minimised under the full config (a run of the quiet slice is a run of the config
too), saved as a trace, and turned into a verdict against the catalogue's expectation: a
finding is `violated` or `witnessed`; no finding is `sampled` where the property is expected
to hold and `unknown` where a finding was expected (never a pass). A `sampled` verdict of an
entry judged with its premise says in how many runs the premise was reached, and is `unknown`
when no run reached it, in `check`'s words (`nfct_spec.engines.premises.sampled_note`); the
counts come from the workers' logs, or from the replayed runs.

A premise no run of the campaign reached gets `check`'s second chance
(`nfct_spec.engines.premise_runs`): runs that begin with the explorer's shortest run into it
are sampled after the campaign (`missed_premises`, `sample_premise`), their findings are
findings of the campaign's verdicts like its own (a HypoFuzz campaign spreads its runs as
coverage leads it, so whether it met a rare premise says as little about the config as a
`check` sample that missed it), and the verdict and scope say so in `check`'s words
(`premise_note`, `premise_runs_scope`).

Replaying the database needs only Hypothesis: the covering examples and failures HypoFuzz
kept for each campaign test are copied into an in-memory database under the test's key and
run by Hypothesis' own reuse phase, with a target that records findings instead of failing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import Phase, Verbosity, settings
from hypothesis.database import ExampleDatabase, InMemoryExampleDatabase, choices_to_bytes

from nfct_spec.checking import finding_verdict, searched
from nfct_spec.engines.fuzz_campaign import Campaign, campaign_tests, open_database
from nfct_spec.engines.fuzz_log import Reached
from nfct_spec.engines.fuzz_machine import RUN_HEALTH_CHECKS, given_test
from nfct_spec.engines.hypothesis_engine import PROFILES
from nfct_spec.engines.premise_runs import (
    PremiseRuns,
    premise_note,
    premise_runs,
    premise_runs_scope,
)
from nfct_spec.engines.premises import has_premise
from nfct_spec.engines.sampling import Checked
from nfct_spec.minimize import first_finding, liveness_tail, minimize
from nfct_spec.models.config import Config
from nfct_spec.models.registry import Step
from nfct_spec.models.state import initial_state
from nfct_spec.results import Result
from nfct_spec.spec.catalogue import Property
from nfct_spec.spec.premises import premise_entry
from nfct_spec.traces import Trace, make_trace
from nfct_spec.viewer.minimize import minimize_trace

ENGINE = "hypofuzz"
Found = dict[tuple[str, str], Sequence[Step]]
"""Steps of a run showing a finding, per (variant, property id)."""
Missed = dict[tuple[str, str], PremiseRuns]
"""The runs sampled from the shortest run into a premise the campaign missed, per (variant,
property id)."""
PREMISE_PROFILE = PROFILES["ci"]
"""The budget of the runs sampled into a missed premise: `nfct-spec check`'s default profile
(derandomized, 30 steps per run after the prefix; `premise_runs` sets how many runs), since a
campaign has no Hypothesis profile of its own (HypoFuzz decides how its runs are spent). Being
derandomized, the runs are the same after every campaign and replay on every machine, and
the same as `check` with its defaults samples into that premise for the same entries, so the
two commands' verdicts on a premise both missed agree."""
PREMISE_SEED = 0
"""`check`'s default seed (unused by a derandomized profile, but recorded in the traces)."""


def finding_trace(
    config: Config, prop: Property, steps: Sequence[Step], meta: Mapping[str, Any]
) -> Trace:
    """The minimised trace of a finding (as `check` makes them): for liveness, the prefix and
    the fair drain after it that leaves the obligation unmet; otherwise cut at the finding."""
    path = minimize(config, prop, steps)
    at = len(path)
    if prop.kind == "liveness":
        path = path + (liveness_tail(config, path, prop.id) or [])
    else:
        found_at = first_finding(config, prop, path)
        at = found_at if found_at is not None else at
    full_meta = {
        "property": prop.id,
        "statement": prop.statement,
        "finding": finding_verdict(prop),
        "step": at,
        "engine": ENGINE,
        "variant": config.variant,
        **meta,
    }
    return minimize_trace(make_trace(config, path, initial_state(config), full_meta))


def missed_premises(
    configs: Sequence[Config],
    props: Sequence[Property],
    found: Found,
    reached: Mapping[tuple[str, str], int],
) -> list[tuple[Config, str]]:
    """The entries, with their config, judged with a premise (`has_premise`) that no run
    reached and that have no finding: those `sample_premise` gives a second chance, as
    `check` does (an entry with a finding needs none, its verdict says what was found)."""
    return [
        (config, prop.id)
        for config in configs
        for prop in props
        if searched(prop, config)
        and has_premise(prop.id, config)
        and (config.variant, prop.id) not in found
        and not reached.get((config.variant, premise_entry(prop.id).id))
    ]


def sample_premise(config: Config, props: Sequence[Property], prop_id: str) -> PremiseRuns:
    """Runs of `config` that begin with the explorer's shortest run into `prop_id`'s premise,
    judging every entry of `props` the config is searched for, as `check` samples them
    (`PREMISE_PROFILE`, `PREMISE_SEED`)."""
    judged = [p for p in props if searched(p, config)]
    return premise_runs(config, judged, prop_id, PREMISE_PROFILE, PREMISE_SEED)


def _premise_findings(extras: Sequence[PremiseRuns]) -> dict[str, tuple[Sequence[Step], str]]:
    """The first run showing each finding in the runs sampled into missed premises, with the
    entry whose premise those runs began in."""
    out: dict[str, tuple[Sequence[Step], str]] = {}
    for extra in extras:
        if extra.collection is not None:
            for prop_id, steps in extra.collection.found.items():
                out.setdefault(prop_id, (steps, extra.prop_id))
    return out


def verdicts(
    configs: Sequence[Config],
    props: Sequence[Property],
    found: Found,
    scope: str,
    meta: Mapping[str, Any],
    reached: Mapping[tuple[str, str], int],
    runs: Mapping[str, int],
    missed: Mapping[tuple[str, str], PremiseRuns],
) -> list[Checked]:
    """One result per config and applicable property, with a minimised trace per finding;
    `reached`: how many runs reached each watched premise, per (variant, premise entry id),
    out of the variant's `runs`; `missed`: the runs sampled into premises none of them reached
    (`sample_premise`), whose findings count like the campaign's own (the campaign's first),
    and which the scope of every verdict of their variant counts, as `check`'s scopes do."""
    out: list[Checked] = []
    for config in configs:
        extras = [extra for (variant, _), extra in missed.items() if variant == config.variant]
        from_premises = _premise_findings(extras)
        config_scope = scope + premise_runs_scope(extras)
        for prop in props:
            if not searched(prop, config):
                continue
            expected = prop.expected_for(config)
            steps = found.get((config.variant, prop.id))
            trace_meta = meta
            if steps is None and prop.id in from_premises:
                steps, into = from_premises[prop.id]
                trace_meta = {
                    **meta,
                    "profile": PREMISE_PROFILE.name,
                    "seed": PREMISE_SEED,
                    "premise_runs": into,
                }
            trace = None if steps is None else finding_trace(config, prop, steps, trace_meta)
            if trace is None:
                verdict = "unknown" if expected in ("violated", "witness") else "sampled"
                text = f"no finding in {config_scope}"
                if has_premise(prop.id, config):
                    entry_id = premise_entry(prop.id).id
                    reached_runs = reached.get((config.variant, entry_id), 0)
                    extra = missed.get((config.variant, prop.id))
                    variant_runs = runs.get(config.variant, 0)
                    verdict, note = premise_note(prop.id, reached_runs, variant_runs, extra)
                    text += f"; {note}"
            else:
                verdict = "witnessed" if finding_verdict(prop) == "witness" else "violated"
                text = f"trace of {len(trace.steps)} steps, found in {config_scope}"
            result = Result(
                prop.id,
                config.variant,
                ENGINE,
                verdict,
                expected,
                text,
                prop.reason_for(config),
                config=config.name,
            )
            out.append(Checked(result, trace))
    return out


@dataclass(frozen=True)
class Replayed:
    """What replaying the database gave: findings, how many examples were run, and how many
    of them reached each watched premise."""

    found: Found
    examples: int
    steps: int
    reached: Reached
    variant_examples: dict[str, int]
    """Examples run per variant (what a premise count is out of)."""


def stored_examples(database: ExampleDatabase, key: bytes) -> list[bytes]:
    """Every example HypoFuzz keeps for a test: its failures (shrunk, not yet shrunk, and
    those that no longer failed) and its covering corpus."""
    from hypofuzz.database import FailureState, HypofuzzDatabase

    db = HypofuzzDatabase(database)
    entries: list[bytes] = []
    for state in (FailureState.SHRUNK, FailureState.UNSHRUNK, FailureState.FIXED):
        entries += [choices_to_bytes(c) for c in db.failures(state=state).fetch(key)]
    entries += list(db.corpus.fetch(key, as_bytes=True))
    return list(dict.fromkeys(entries))


def replay_database(campaign: Campaign) -> Replayed:
    """Run every stored example of every campaign test; collect the findings and count the
    examples that reached each watched premise."""
    database = open_database(campaign.database)
    found: Found = {}
    reached: Reached = {}
    variant_examples: dict[str, int] = {}
    examples = steps = 0
    for test in campaign_tests(campaign, fail_on_holds=False, log=False):
        entries = stored_examples(database, test.database_key)
        if not entries:
            continue
        memory = InMemoryExampleDatabase()
        for entry in entries:
            memory.save(test.database_key, entry)
        replay_settings = settings(
            database=memory,
            phases=[Phase.reuse],
            max_examples=len(entries),
            derandomize=False,
            deadline=None,
            suppress_health_check=RUN_HEALTH_CHECKS,
            verbosity=Verbosity.quiet,
        )
        given_test(test.target, test.nodeid, replay_settings)()
        collection = test.target.collection
        examples += collection.examples
        steps += collection.steps
        variant = test.config.variant
        variant_examples[variant] = variant_examples.get(variant, 0) + collection.examples
        for prop_id, prop_steps in collection.found.items():
            found.setdefault((test.config.variant, prop_id), prop_steps)
        for entry_id, runs in collection.reached.items():
            key = (test.config.variant, entry_id)
            reached[key] = reached.get(key, 0) + runs
    return Replayed(found, examples, steps, reached, variant_examples)
