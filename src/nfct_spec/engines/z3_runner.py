"""The Z3 engine's verdicts: the proof procedures of `nfct_spec.proofs` made Result records.

What `nfct-spec prove` runs: induction for expected-to-hold properties, BMC for findings.

Per variant and catalogue property, with the catalogue's expectation for the variant's `ci`
preset:
- `holds`: the property's plan (`nfct_spec.proofs.plans`) is checked by induction over
  symbolic parameters. All lines unsat: `proved`, with the plan's scope. A counterexample to
  induction is classified by BMC on the preset: reachable gives `violated` with the replayed
  trace (a disagreement with the catalogue, reported as such), unreachable within the depth
  gives `unknown` (the invariant needs strengthening). A timeout gives `unknown`.
- `violated` / `witness`: BMC on the preset finds the shortest finding (`violated` /
  `witnessed`, trace replayed); nothing within the depth is `unknown`.
- an auxiliary invariant (`aux-*`), where expected to hold: the plan of a proof that needs it,
  with it as the first conjunct (`nfct_spec.proofs.aux_plans`).
- `destroy-eventually`, where it is expected to hold (2.6.31 and 6.x): the ranking function of
  `nfct_spec.proofs.liveness`. `expiry-eventually` reports the same proof
  (`SAME_PROOF` says why).
Every modelled variant has its own transition relation (6.x with its redelivery list in order,
the delayed worker, single-winner deletion and gc expiry). Properties without a plan or a BMC
target are not reported by this engine.

`run_all` runs many (property, variant) pairs, in worker processes when asked (each Z3 query
is single-threaded), and shares the transition formulas between the proofs of one process.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from nfct_spec.checking import finding_verdict
from nfct_spec.engines.z3_bmc import BmcMismatch, BmcResult, run_bmc
from nfct_spec.models.config import Config
from nfct_spec.models.presets import preset
from nfct_spec.models.variants import MODELLED
from nfct_spec.proofs.aux_plans import aux_plan
from nfct_spec.proofs.guard import Disagreement
from nfct_spec.proofs.induction import (
    InductionReport,
    Line,
    Relations,
    projection,
)
from nfct_spec.proofs.liveness import VARIANTS as LIVENESS_VARIANTS
from nfct_spec.proofs.liveness import assumptions as liveness_assumptions
from nfct_spec.proofs.liveness import check_ranking
from nfct_spec.proofs.liveness_weak import VARIANTS as WEAK_VARIANTS
from nfct_spec.proofs.liveness_weak import check_weak_fairness
from nfct_spec.proofs.plans import Plan, check_plan, plans_for, scope
from nfct_spec.proofs.targets import TARGETS
from nfct_spec.proofs.vocab import Shape
from nfct_spec.results import ERROR, Result
from nfct_spec.spec.catalogue import BY_ID, Property
from nfct_spec.traces import Trace, save_trace

ENGINE = "z3"
PROOF_SHAPE = Shape(n=5, listeners=3)
BMC_DEPTH = 8


@dataclass
class Outcome:
    """A result plus what produced it (induction lines, BMC trace)."""

    result: Result
    lines: list[Line] = field(default_factory=list)
    trace: Trace | None = None
    seconds: float = 0.0


def _plan(prop: Property, variant: str) -> Plan | None:
    if prop.id.startswith("aux-"):
        return aux_plan(prop.id, variant)
    for plan in plans_for(prop.id):
        if variant in plan.variants:
            return plan
    return None


def trace_meta(config: Config, prop: Property) -> dict[str, object]:
    """The metadata of a BMC trace of `prop` on `config` (what its replay checks)."""
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
    return run_bmc(
        config, TARGETS[prop.id], BMC_DEPTH, trace_meta(config, prop), int(timeout_s * 1000)
    )


def _trace_path(traces: Path, variant: str, prop_id: str) -> str:
    return str(Path("traces") / ENGINE / variant / f"{prop_id}.json")


def method(prop: Property, variant: str) -> str | None:
    """How this engine decides `prop` on `variant`: `liveness` (the ranking function),
    `induction` (a plan), `bmc` (a target on the `ci` preset), or None (no Z3 verdict)."""
    config = preset("ci", variant) if variant in MODELLED else None
    expected = prop.expected_for(config) if config else prop.expected[variant]
    if prop.kind == "liveness":
        return "liveness" if variant in LIVENESS_VARIANTS and expected == "holds" else None
    if expected in ("holds", "no-witness"):
        return "induction" if _plan(prop, variant) is not None else None
    if expected in ("violated", "witness") and config is not None and prop.id in TARGETS:
        return "bmc"
    return None


def _base(prop: Property, variant: str) -> tuple[dict[str, str], Config | None, str]:
    """The fields every Result of `prop` on `variant` shares, the variant's `ci` preset, and
    the name of the config the verdict is about."""
    config = preset("ci", variant) if variant in MODELLED else None
    expected = prop.expected_for(config) if config else prop.expected[variant]
    base = {"property_id": prop.id, "variant": variant, "engine": ENGINE, "expected": expected}
    cfg_name = config.name if config and method(prop, variant) != "liveness" else "symbolic"
    return base, config, cfg_name


def disagreement_result(
    prop: Property, variant: str, disagreement: Disagreement, scope: str
) -> Result:
    """The verdict of `prop` on `variant` when the encoding disagrees with the model: `error`
    (never as expected, exit 1), with the disagreement as the reason."""
    base, _, cfg_name = _base(prop, variant)
    return Result(**base, verdict=ERROR, scope=scope, reason=str(disagreement), config=cfg_name)


def run_property(
    prop: Property,
    variant: str,
    timeout_s: float,
    out: Path | None,
    shape: Shape = PROOF_SHAPE,
    on_line: Callable[[Line], None] | None = None,
    relations: Relations | None = None,
) -> Outcome | None:
    """The z3 verdict of one property on one variant, or None if this engine has no method.
    `relations` shares transition formulas with the other proofs of the run. A BMC path that
    the Python model does not reproduce makes the verdict `error`, naming the action where the
    encoding and the model differ."""
    started = time.perf_counter()
    try:
        outcome = _run(prop, variant, timeout_s, out, shape, on_line, relations)
    except BmcMismatch as exc:
        _, _, cfg_name = _base(prop, variant)
        scope = f"BMC to depth {BMC_DEPTH} on preset {cfg_name}: the path found does not replay"
        found = Disagreement(exc.action, f"BMC path of {prop.id}: {exc.message}")
        outcome = Outcome(disagreement_result(prop, variant, found, scope))
    if outcome is not None:
        outcome.seconds = time.perf_counter() - started
    return outcome


def _run(
    prop: Property,
    variant: str,
    timeout_s: float,
    out: Path | None,
    shape: Shape,
    on_line: Callable[[Line], None] | None,
    relations: Relations | None,
) -> Outcome | None:
    how = method(prop, variant)
    base, config, cfg_name = _base(prop, variant)
    if how == "liveness":
        return _liveness(base, shape, timeout_s, on_line, relations)
    if how == "induction":
        plan = _plan(prop, variant)
        assert plan is not None
        report = _induction(plan, variant, shape, timeout_s, on_line, relations)
        return _from_induction(prop, plan, report, config, base, cfg_name, shape, timeout_s, out)
    if how == "bmc":
        assert config is not None
        found = _bmc(prop, config, timeout_s)
        return _from_bmc(prop, found, base, cfg_name, out, "")
    return None


def _induction(
    plan: Plan,
    variant: str,
    shape: Shape,
    timeout_s: float,
    on_line: Callable[[Line], None] | None,
    relations: Relations | None,
) -> InductionReport:
    """The induction report of `plan`, reused from `relations` when a proof of the same run
    asked the same (action, conjunct) queries under the same assumptions."""
    key = (
        variant,
        shape,
        frozenset(plan.conjuncts),
        tuple(a.id for a in plan.assumptions),
        plan.property_id if plan.action_property else None,
        timeout_s,
    )
    reports = relations.reports if relations is not None else {}
    report = reports.get(key)
    if report is not None:
        for line in report.lines:
            if on_line is not None:
                on_line(line)
        return report
    report = check_plan(plan, variant, shape, int(timeout_s * 1000), on_line, relations)
    reports[key] = report
    return report


LIVENESS_SCOPE = (
    "{stated}ranking function (Z3): from any reachable state where traffic stops, under the "
    "drain schedule of spec.fairness (the stronger reads-before-retries: reads before "
    "retries, timers fire, pending packets complete), every conntrack is freed (the dying "
    "list empties) and every queue is read within M(s) steps (M in "
    "nfct_spec.proofs.liveness); at most {n} conntracks "
    "existing at once ({n} memory slots, any number of allocations over time), at most {l} "
    "listeners, every limit, capacity and timeout{extra}{assumed}"
)
WEAK_SCOPE = (
    "under the stated fairness (listeners-read, timers-fire, packets-complete, traffic-stops, "
    "retry-timeout-positive) with at most one reliable DESTROY listener: a lexicographic "
    "measure that no traffic-free step increases and a helpful action per case that the "
    "fairness forces (nfct_spec.proofs.liveness_weak, {queries} queries unsat). Bounded form, "
)
LIVENESS_EXTRA = {
    "2.6.31": "",
    "6.x": ", both worker delays, the shipped and the fixed ecache_work() (the worker runs "
    "when due: env_tick waits for it)",
}


def _liveness(
    base: dict[str, str],
    shape: Shape,
    timeout_s: float,
    on_line: Callable[[Line], None] | None,
    relations: Relations | None,
) -> Outcome:
    variant = base["variant"]
    report = check_ranking(shape, int(timeout_s * 1000), variant=variant, relations=relations)
    lines = list(report.lines)
    stated = ""
    if variant in WEAK_VARIANTS:
        weak = check_weak_fairness(
            shape, int(timeout_s * 1000), relations=relations, variant=variant
        )
        lines += weak.lines
        stated = WEAK_SCOPE.format(queries=len(weak.lines))
    if on_line is not None:
        for line in lines:
            on_line(line)
    bad = [x for x in lines if x.status != "proved"]
    if not bad:
        verdict, reason = "proved", f"{len(lines)} queries unsat"
    else:
        verdict = "unknown"
        reason = "not proved: " + ", ".join(f"{x.transition}/{x.conjunct} {x.status}" for x in bad)
    result = Result(
        **base,
        verdict=verdict,
        scope=LIVENESS_SCOPE.format(
            stated=stated,
            assumed="".join(
                f"; assuming {a.id}: {a.statement}" for a in liveness_assumptions(variant)
            ),
            n=shape.n,
            l=shape.listeners,
            extra=LIVENESS_EXTRA[variant],
        ),
        reason=reason,
        config="symbolic",
    )
    return Outcome(result, lines)


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
    if report.proved:
        n = len(report.lines)
        result = Result(
            **base,
            verdict="proved",
            scope=scope(plan, shape, base["variant"]),
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
        scope=scope(plan, shape, base["variant"]),
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


Task = tuple[Property, str]


def _weight(task: Task) -> int:
    """A rough cost rank, so that a parallel run starts the slow kinds first: liveness, then
    BMC, then 6.x proofs, then the rest; auxiliary invariants last, so that the proofs they are
    conjuncts of have run and their reports are reused where the same worker ran them."""
    prop, variant = task
    if prop.id.startswith("aux-"):
        return -1
    if prop.kind == "liveness":
        return 3
    config = preset("ci", variant)
    if prop.expected_for(config) in ("violated", "witness"):
        return 2
    return 1 if variant == "6.x" else 0


SAME_PROOF = {"expiry-eventually": "destroy-eventually"}
"""Entries whose Z3 verdict is another entry's proof. The weak-fairness proof of
`destroy-eventually` (`nfct_spec.proofs.liveness_weak`) reaches the goal "A = 0 with the
reliable listener drained": every conntrack freed, not only the dying ones, with each DESTROY
read, which is what `expiry-eventually` states; its measure counts the remaining life of live
conntracks and its cases expire them (`death_by_timeout()`, `gc_worker()`). The ranking proof
of the bounded form likewise ends with nothing allocated. So the proof runs once and both
entries report it."""


def _same_proof(prop: Property, variant: str, source: Outcome | None) -> Outcome | None:
    """`prop`'s outcome from the proof of `SAME_PROOF[prop.id]` on `variant`."""
    if source is None:
        return None
    base, _, _ = _base(prop, variant)
    reason = f"the proof of {SAME_PROOF[prop.id]}, whose goal is this entry: " + (
        source.result.reason
    )
    result = Result(
        **base,
        verdict=source.result.verdict,
        scope=source.result.scope,
        reason=reason,
        config=source.result.config,
    )
    return Outcome(result, source.lines, seconds=0.0)


def _sources(tasks: list[Task]) -> dict[int, int]:
    """Task index -> index of the task whose proof it reports (`SAME_PROOF`), where that task
    is among `tasks`."""
    where = {(prop.id, variant): i for i, (prop, variant) in enumerate(tasks)}
    out: dict[int, int] = {}
    for i, (prop, variant) in enumerate(tasks):
        source = where.get((SAME_PROOF.get(prop.id, ""), variant))
        if source is not None and method(prop, variant) == "liveness":
            out[i] = source
    return out


_WORKER_RELATIONS = Relations()
"""The formulas shared by the proofs that one worker process runs."""


def _in_worker(
    prop_id: str, variant: str, timeout_s: float, out: Path | None, shape: Shape
) -> Outcome | None:
    return run_property(BY_ID[prop_id], variant, timeout_s, out, shape, relations=_WORKER_RELATIONS)


def run_all(
    tasks: list[Task],
    timeout_s: float,
    out: Path | None,
    jobs: int = 1,
    shape: Shape = PROOF_SHAPE,
) -> Iterator[tuple[Property, str, Outcome | None]]:
    """The outcome of every (property, variant) task, in task order. With `jobs` > 1 the
    tasks run in that many worker processes, the slowest kinds submitted first."""
    sources = _sources(tasks)
    if jobs <= 1 or len(tasks) <= 1:
        relations = Relations()
        done: dict[int, Outcome | None] = {}
        for i in [*(i for i in range(len(tasks)) if i not in sources), *sources]:
            prop, variant = tasks[i]
            if i in sources:
                done[i] = _same_proof(prop, variant, done[sources[i]])
            else:
                done[i] = run_property(prop, variant, timeout_s, out, shape, relations=relations)
        for i, (prop, variant) in enumerate(tasks):
            yield prop, variant, done[i]
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=context) as pool:
        futures: dict[int, Future[Outcome | None]] = {}
        for i in sorted(range(len(tasks)), key=lambda i: -_weight(tasks[i])):
            if i in sources:
                continue
            prop, variant = tasks[i]
            futures[i] = pool.submit(_in_worker, prop.id, variant, timeout_s, out, shape)
        for i, (prop, variant) in enumerate(tasks):
            if i in sources:
                yield prop, variant, _same_proof(prop, variant, futures[sources[i]].result())
            else:
                yield prop, variant, futures[i].result()
