"""What `nfct-spec prove` runs: induction for expected-to-hold properties, BMC for findings.

Per variant and catalogue property, with the catalogue's expectation for the variant's `ci`
preset:
- `holds`: the property's plan (`nfct_spec.proofs.plans`) is checked by induction over
  symbolic parameters. All lines unsat: `proved`, with the plan's scope. A counterexample to
  induction is classified by BMC on the preset: reachable gives `violated` with the replayed
  trace (a disagreement with the catalogue, reported as such), unreachable within the depth
  gives `unknown` (the invariant needs strengthening). A timeout gives `unknown`.
- `violated` / `witness`: BMC on the preset finds the shortest finding (`violated` /
  `witnessed`, trace replayed); nothing within the depth is `unknown`.
For `6.x` only `table-bound` is attempted, on the 2.6.31 encoding with 6.x-style admission.
Properties without a plan or a BMC target are not reported by this engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nfct_spec.checking import finding_verdict
from nfct_spec.models.config import Config
from nfct_spec.models.presets import preset
from nfct_spec.models.variants import MODELLED
from nfct_spec.proofs.bmc import BmcResult, run_bmc
from nfct_spec.proofs.induction import InductionReport, Line, check_induction, projection
from nfct_spec.proofs.liveness import check_ranking
from nfct_spec.proofs.params import ADMISSION_6X, flags_for
from nfct_spec.proofs.plans import Plan, plans_for, scope
from nfct_spec.proofs.targets import TARGETS
from nfct_spec.proofs.vocab import Shape
from nfct_spec.results import Result
from nfct_spec.spec.catalogue import Property
from nfct_spec.traces import Trace, save_trace

ENGINE = "z3"
PROOF_SHAPE = Shape(n=5, listeners=3)
BMC_DEPTH = 8
ADMISSION_SCOPE = (
    "6.x-style admission only: the 2.6.31 encoding with early_drop admitting the new "
    "conntrack only when nf_ct_delete() freed the victim (the rest of 6.x is not modelled); "
)


@dataclass
class Outcome:
    """A result plus what produced it (induction lines, BMC trace)."""

    result: Result
    lines: list[Line] = field(default_factory=list)
    trace: Trace | None = None


def _flags_name(variant: str) -> str:
    return ADMISSION_6X if variant == "6.x" else variant


def _plan(prop: Property, variant: str) -> Plan | None:
    for plan in plans_for(prop.id):
        if _flags_name(variant) in plan.variants:
            return plan
    return None


def _meta(prop: Property, config: Config) -> dict[str, object]:
    return {
        "property": prop.id,
        "statement": prop.statement,
        "finding": finding_verdict(prop),
        "engine": ENGINE,
        "variant": config.variant,
        "profile": "bmc",
        "seed": 0,
    }


def _bmc(prop: Property, config: Config, timeout_s: float) -> BmcResult:
    return run_bmc(config, TARGETS[prop.id], BMC_DEPTH, _meta(prop, config), int(timeout_s * 1000))


def _trace_path(traces: Path, variant: str, prop_id: str) -> str:
    return str(Path("traces") / ENGINE / variant / f"{prop_id}.json")


def run_property(
    prop: Property,
    variant: str,
    timeout_s: float,
    out: Path | None,
    shape: Shape = PROOF_SHAPE,
    on_line: Callable[[Line], None] | None = None,
) -> Outcome | None:
    """The z3 verdict of one property on one variant, or None if this engine has no method."""
    if variant == "6.x" and prop.id != "table-bound":
        return None
    config = preset("ci", variant) if variant in MODELLED else None
    expected = prop.expected_for(config) if config else prop.expected[variant]
    base = {"property_id": prop.id, "variant": variant, "engine": ENGINE, "expected": expected}
    cfg_name = config.name if config else "symbolic"
    if prop.id == "destroy-eventually":
        if variant != "2.6.31" or expected != "holds":
            return None
        return _liveness(base, cfg_name, shape, timeout_s, on_line)
    if expected in ("holds", "no-witness"):
        plan = _plan(prop, variant)
        if plan is None:
            return None
        report = check_induction(
            flags_for(_flags_name(variant)),
            shape,
            list(plan.conjuncts),
            list(plan.assumptions),
            {prop.id: plan.action_property} if plan.action_property else None,
            int(timeout_s * 1000),
            on_line=on_line,
        )
        return _from_induction(prop, plan, report, config, base, cfg_name, shape, timeout_s, out)
    if expected not in ("violated", "witness") or config is None or prop.id not in TARGETS:
        return None
    found = _bmc(prop, config, timeout_s)
    return _from_bmc(prop, found, base, cfg_name, out, "")


LIVENESS_SCOPE = (
    "ranking function (Z3): from any reachable state where traffic stops, under the drain "
    "schedule of spec.fairness (reads before retries, timers fire, pending packets complete), "
    "no build-failure fault and a positive retry timeout, the dying list empties and every "
    "queue is read within M(s) steps (M in nfct_spec.proofs.liveness); max_conntracks <= {n}, "
    "at most {l} listeners, every limit, capacity and timeout"
)


def _liveness(
    base: dict[str, str],
    cfg_name: str,
    shape: Shape,
    timeout_s: float,
    on_line: Callable[[Line], None] | None,
) -> Outcome:
    report = check_ranking(shape, int(timeout_s * 1000))
    if on_line is not None:
        for line in report.lines:
            on_line(line)
    bad = [x for x in report.lines if x.status != "proved"]
    if not bad:
        verdict, reason = "proved", f"{len(report.lines)} queries unsat"
    else:
        verdict = "unknown"
        reason = "not proved: " + ", ".join(f"{x.transition}/{x.conjunct} {x.status}" for x in bad)
    result = Result(
        **base,
        verdict=verdict,
        scope=LIVENESS_SCOPE.format(n=shape.n, l=shape.listeners),
        reason=reason,
        config="symbolic",
    )
    return Outcome(result, report.lines)


def _from_induction(
    prop: Property,
    plan: Plan,
    report: InductionReport,
    config: Config | None,
    base: dict[str, str],
    cfg_name: str,
    shape: Shape,
    timeout_s: float,
    out: Path | None,
) -> Outcome:
    prefix = ADMISSION_SCOPE if base["variant"] == "6.x" else ""
    if report.proved:
        n = len(report.lines)
        result = Result(
            **base,
            verdict="proved",
            scope=prefix + scope(plan, shape),
            reason=f"{n} induction queries unsat (conjuncts: {', '.join(plan.conjuncts)}; "
            f"projection: {', '.join(projection(list(plan.conjuncts), shape))}); " + plan.why,
            config=cfg_name,
        )
        return Outcome(result, report.lines)
    ctis = [line for line in report.lines if line.status == "cti"]
    if not ctis:
        result = Result(
            **base,
            verdict="unknown",
            scope=f"per-query timeout {timeout_s:g} s",
            reason="some induction query timed out: "
            + ", ".join(
                f"{x.transition}/{x.conjunct}" for x in report.lines if x.status != "proved"
            ),
            config=cfg_name,
        )
        return Outcome(result, report.lines)
    first = ctis[0]
    where = f"counterexample to induction at ({first.transition}, {first.conjunct})"
    if config is not None and prop.id in TARGETS:
        found = _bmc(prop, config, timeout_s)
        if found.trace is not None:
            return _from_bmc(
                prop, found, base, cfg_name, out, where + "; reachable: ", report.lines
            )
        tail = f"not reachable within {found.depth} steps on preset {config.name}"
    else:
        tail = "not classified (no BMC target for this property)"
    result = Result(
        **base,
        verdict="unknown",
        scope=prefix + scope(plan, shape),
        reason=f"{where}, {tail}: the invariant needs strengthening",
        config=cfg_name,
    )
    return Outcome(result, report.lines)


def _from_bmc(
    prop: Property,
    found: BmcResult,
    base: dict[str, str],
    cfg_name: str,
    out: Path | None,
    lead: str,
    lines: list[Line] | None = None,
) -> Outcome:
    if found.trace is None:
        result = Result(
            **base,
            verdict="unknown",
            scope=f"BMC to depth {found.depth} on preset {cfg_name}",
            reason=lead
            + ("timeout" if found.status == "unknown" else "no finding within the depth"),
            config=cfg_name,
        )
        return Outcome(result, lines or [])
    verdict = "witnessed" if finding_verdict(prop) == "witness" else "violated"
    path = None
    if out is not None:
        path = _trace_path(out, base["variant"], prop.id)
        save_trace(found.trace, out / path)
    result = Result(
        **base,
        verdict=verdict,
        scope=f"shortest: BMC found no shorter path on preset {cfg_name}",
        reason=f"{lead}{len(found.trace.steps)}-step Z3 trace, replayed through the Python model",
        trace=path,
        config=cfg_name,
    )
    return Outcome(result, lines or [], found.trace)
