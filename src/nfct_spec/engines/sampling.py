"""The sampling check: Hypothesis searches over environment slices, then minimisation.

A config is searched twice: with its whole environment, then with a quiet slice of it (no
sysctl writes, no listener churn, no expectations, no faults). The slice's behaviours are a
subset of the config's, so every finding of either search is a run of the config itself; it
is replayed and minimised under the full config before it is reported (steps dropped with
uids renumbered, then arguments shrunk: `nfct_spec.viewer.minimize`). Quiet runs reach deep
kernel states (long dying lists, re-sends) far more often, because no step is spent on the
environment's side shows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nfct_spec.checking import finding_verdict, searched
from nfct_spec.engines.hypothesis_engine import Profile, search
from nfct_spec.engines.premise_runs import premise_note, premise_runs, premise_runs_scope
from nfct_spec.engines.premises import has_premise
from nfct_spec.minimize import first_finding, liveness_tail, minimize
from nfct_spec.models.config import Config
from nfct_spec.models.registry import Step
from nfct_spec.models.state import initial_state
from nfct_spec.results import Result
from nfct_spec.spec.catalogue import Property
from nfct_spec.spec.premises import premise_entry
from nfct_spec.traces import Trace, make_trace
from nfct_spec.viewer.minimize import minimize_trace

ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Checked:
    """A result and, for a finding, its minimised trace."""

    result: Result
    trace: Trace | None


def quiet_slice(config: Config) -> Config:
    """The config without environment side shows (a subset of its behaviours)."""
    return config.with_(sysctl_writes=(), listener_churn=False, expectations=False, faults=())


def _trace(config: Config, prop: Property, steps: list[Step], profile: Profile, seed: int) -> Trace:
    path = minimize(config, prop, steps)
    at = len(path)
    if prop.kind == "liveness":
        tail = liveness_tail(config, path, prop.id) or []
        path = path + tail
    else:
        found_at = first_finding(config, prop, path)
        at = found_at if found_at is not None else at
    meta = {
        "property": prop.id,
        "statement": prop.statement,
        "finding": finding_verdict(prop),
        "step": at,
        "engine": "hypothesis",
        "profile": profile.name,
        "seed": seed,
        "variant": config.variant,
    }
    return minimize_trace(make_trace(config, path, initial_state(config), meta))


def check_sampling(
    config: Config,
    props: Sequence[Property],
    profile: Profile,
    seed: int,
    database_dir: Path | None = None,
    progress: ProgressFn | None = None,
) -> list[Checked]:
    """Sample the config with Hypothesis and give one result per applicable property.

    The runs are watched for the premise of each entry that has one (`has_premise`), without
    changing them: a `sampled` verdict says in how many runs the premise was reached. For a
    premise no run reached, runs that begin with the explorer's shortest run into it are
    sampled too (`nfct_spec.engines.premise_runs`; their findings count like any other); if
    the explorer does not reach it either, the verdict is `unknown` ("vacuous"), since the
    sample never got into the situation the entry is about."""
    props = [p for p in props if searched(p, config)]
    watched = [premise_entry(p.id) for p in props if has_premise(p.id, config)]
    found: dict[str, list[Step]] = {}
    reached: dict[str, int] = {}
    examples = steps = 0
    slices = (("full", config), ("quiet", quiet_slice(config)))
    for name, sliced in slices:

        def report(runs: int, nfound: int, name: str = name) -> None:
            if progress is not None:
                progress(name, runs, nfound)

        collection = search(sliced, props, profile, seed, database_dir, report, watched)
        examples += collection.examples
        steps += collection.steps
        for prop_id, prop_steps in collection.found.items():
            found.setdefault(prop_id, prop_steps)
        for prop_id, runs in collection.reached.items():
            reached[prop_id] = reached.get(prop_id, 0) + runs
    missed = {
        p.id: premise_runs(config, props, p.id, profile, seed)
        for p in props
        if has_premise(p.id, config)
        and p.id not in found
        and not reached.get(premise_entry(p.id).id)
    }
    for extra in missed.values():
        if extra.collection is not None:
            for prop_id, prop_steps in extra.collection.found.items():
                found.setdefault(prop_id, prop_steps)
    scope = (
        f"{examples} runs, {steps} steps over {len(slices)} environment slices "
        f"(profile {profile.name}, seed {seed})"
    )
    scope += premise_runs_scope(missed.values())
    out: list[Checked] = []
    for prop in props:
        expected = prop.expected_for(config)
        steps_found = found.get(prop.id)
        trace = None if steps_found is None else _trace(config, prop, steps_found, profile, seed)
        if trace is None:
            verdict = "unknown" if expected in ("violated", "witness") else "sampled"
            scope_text = f"no finding in {scope}"
            if has_premise(prop.id, config):
                runs = reached.get(premise_entry(prop.id).id, 0)
                verdict, note = premise_note(prop.id, runs, examples, missed.get(prop.id))
                scope_text += f"; {note}"
        else:
            verdict = "witnessed" if finding_verdict(prop) == "witness" else "violated"
            scope_text = f"trace of {len(trace.steps)} steps, found in {scope}"
        result = Result(
            prop.id,
            config.variant,
            "hypothesis",
            verdict,
            expected,
            scope_text,
            prop.reason_for(config),
            config=config.name,
        )
        out.append(Checked(result, trace))
    return out
