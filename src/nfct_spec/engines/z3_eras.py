"""Z3 on one kernel-era config: BMC for the findings the catalogue expects there, checked
against the explorer's BFS depth, and induction for the era proofs.

The era configs are small smp instances (`nfct_spec.docs.eras`); the encoding has their
CPU-level steps (`nfct_spec.proofs.smp_z3`), so Z3 speaks for them as for the atomic presets.
For an entry the catalogue expects to be violated on the config and that has a BMC target
(`nfct_spec.proofs.targets`), the search unrolls up to the depth at which the explorer found
it: both are shortest, so Z3 must find a path of exactly that length. A path it finds is
replayed through the Python model (a path the model does not take is `error`); a shorter one,
or none at that depth, contradicts the explorer and is `error` too: one of the two is wrong
about the model. Where the explorer has no finding, BMC searches to `FALLBACK_DEPTH`.

For an entry expected to hold there, the verdict is an inductive proof over every config of
the era's shape (`nfct_spec.proofs.era_plans`) where one is written, and otherwise no Z3
verdict: bounded BMC that finds nothing proves nothing.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nfct_spec.checking import finding_verdict
from nfct_spec.engines.z3_bmc import BmcMismatch, run_bmc
from nfct_spec.engines.z3_runner import ENGINE, trace_meta
from nfct_spec.models.config import Config
from nfct_spec.proofs.era_plans import EraPlan, check_era_plan, era_plan
from nfct_spec.proofs.guard import SMP, GuardReport, check_encoding
from nfct_spec.proofs.targets import TARGETS
from nfct_spec.results import ERROR, Result
from nfct_spec.spec.catalogue import Property
from nfct_spec.traces import save_trace

FALLBACK_DEPTH = 14
"""BMC depth where the explorer gave no depth to match (its search was cut)."""
_DEPTH = re.compile(r"BFS-shortest finding at depth (\d+)")


def explorer_depth(result: Result | None) -> int | None:
    """The depth of the explorer's BFS-shortest finding, read off its verdict's scope."""
    if result is None or result.verdict not in ("violated", "witnessed"):
        return None
    match = _DEPTH.search(result.scope)
    return int(match.group(1)) if match else None


@dataclass
class EraVerdict:
    """A Z3 verdict on one era config, or why there is none (`result` None)."""

    result: Result | None
    note: str
    seconds: float


def judge(
    config: Config,
    prop: Property,
    explored: Result | None,
    out: Path,
    timeout_s: float,
) -> EraVerdict:
    """The Z3 verdict of `prop` on era config `config`; `explored` is the explorer's verdict
    there (for the depth its finding has), traces go under `out`/traces/z3/CONFIG/."""
    started = time.perf_counter()
    expected = prop.expected_for(config)
    base = {
        "property_id": prop.id,
        "variant": config.variant,
        "engine": ENGINE,
        "expected": expected,
        "config": config.name,
    }
    if expected in ("violated", "witness"):
        if prop.id not in TARGETS:
            return EraVerdict(None, "no BMC target (the abstract state cannot express it)", 0.0)
        result = _bmc(config, prop, explorer_depth(explored), base, out, timeout_s)
        return EraVerdict(result, "", time.perf_counter() - started)
    plan = era_plan(prop.id, config)
    if plan is None:
        return EraVerdict(None, "no inductive proof written for this era", 0.0)
    result = _induction(plan, config, base, timeout_s)
    return EraVerdict(result, "", time.perf_counter() - started)


def _bmc(
    config: Config,
    prop: Property,
    depth: int | None,
    base: dict[str, str],
    out: Path,
    timeout_s: float,
) -> Result:
    bound = depth if depth is not None else FALLBACK_DEPTH
    meta = trace_meta(config, prop)
    scope = f"BMC to depth {bound} on era config {config.name}"
    try:
        found = run_bmc(config, TARGETS[prop.id], bound, meta, int(timeout_s * 1000))
    except BmcMismatch as exc:
        return Result(
            **base,
            verdict=ERROR,
            scope=scope,
            reason=f"the path found does not "
            f"replay: encoding disagrees with the model at {exc.action}: {exc.message}",
        )
    if found.trace is None:
        if found.status == "unknown":
            return Result(**base, verdict="unknown", scope=scope, reason="solver timeout")
        if depth is not None:
            reason = f"no path of at most {bound} steps, yet the explorer found one of {depth}"
            return Result(**base, verdict=ERROR, scope=scope, reason=reason)
        return Result(**base, verdict="unknown", scope=scope, reason="no finding within the depth")
    length = len(found.trace.steps)
    if depth is not None and length != depth:
        reason = f"a {length}-step path, the explorer's BFS-shortest finding has {depth} steps"
        return Result(**base, verdict=ERROR, scope=scope, reason=reason)
    path = Path("traces") / ENGINE / config.name / f"{prop.id}.json"
    save_trace(found.trace, out / path)
    verdict = "witnessed" if finding_verdict(prop) == "witness" else "violated"
    agreed = "" if depth is None else ", the explorer's BFS depth"
    return Result(
        **base,
        verdict=verdict,
        scope=f"shortest: no shorter path in the encoding of era config {config.name}",
        reason=f"{length}-step Z3 trace{agreed}, replayed through the Python model",
        trace=str(path),
    )


def _induction(plan: EraPlan, config: Config, base: dict[str, str], timeout_s: float) -> Result:
    report = check_era_plan(plan, config, int(timeout_s * 1000))
    scope = plan.scope(config)
    if report.proved:
        reason = (
            f"{len(report.lines)} induction queries unsat (conjuncts: "
            f"{', '.join(plan.conjuncts)}); {plan.why}"
        )
        return Result(**base, verdict="proved", scope=scope, reason=reason)
    bad = [f"{x.transition}/{x.conjunct} {x.status}" for x in report.lines if x.status != "proved"]
    return Result(
        **base, verdict="unknown", scope=scope, reason="not proved: " + ", ".join(bad[:5])
    )


def judge_all(
    configs: Sequence[Config],
    props: Sequence[Property],
    explored: dict[tuple[str, str], Result],
    out: Path,
    timeout_s: float,
    show: Callable[[str], None],
    seconds: dict[str, float] | None = None,
) -> list[Result]:
    """Every Z3 verdict on the era configs (the seconds of each, by `CONFIG/PROPERTY`, into
    `seconds` if given). The agreement guard runs first on each encoding
    they use (the smp steps, or the atomic variant's): a disagreement makes every verdict of
    that encoding `error`, naming it, as `nfct-spec prove` does."""
    results: list[Result] = []
    guards: dict[str, GuardReport] = {}
    for config in configs:
        key = SMP if config.granularity == "smp" else config.variant
        if key not in guards:
            guards[key] = check_encoding(key)
            show(f"Z3: {guards[key].summary()}")
        disagreement = guards[key].disagreement
        for prop in props:
            verdict = judge(config, prop, explored.get((config.name, prop.id)), out, timeout_s)
            if verdict.result is None:
                continue
            if disagreement is not None:
                verdict.result = dataclasses.replace(
                    verdict.result,
                    verdict=ERROR,
                    trace=None,
                    scope=f"no verdict: the encoding was checked against the model first ({key})",
                    reason=str(disagreement),
                )
            results.append(verdict.result)
            if seconds is not None:
                seconds[f"{config.name}/{prop.id}"] = round(verdict.seconds, 1)
            show(f"Z3: {config.name} {prop.id}: {verdict.result.verdict} ({verdict.seconds:.1f} s)")
    return results
