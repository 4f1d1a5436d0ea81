"""One run of the Z3 engine, as `nfct-spec prove` and `nfct-spec check` both make it.

First the agreement guard (`nfct_spec.proofs.guard`) checks each variant's encoding against
its model. A variant where they disagree gets no proof: each of its Z3 verdicts is `error`
(exit 1), with the disagreement (`encoding disagrees with the model at ACTION: ...`) as the
reason, since induction covers every transition. The other variants' proofs then run
(`nfct_spec.engines.z3_runner`); a BMC path that the model does not reproduce makes that one
verdict `error` in the same words. Every induction query is logged to `z3-induction.txt`, and
the verdicts are merged into results.json (engine `z3`, run record `prove`, with what the guard
checked), next to whatever other engines wrote there.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nfct_spec.engines.z3_runner import (
    ENGINE,
    Outcome,
    disagreement_result,
    method,
    run_all,
)
from nfct_spec.files import write_text
from nfct_spec.models.config import Config
from nfct_spec.models.presets import preset
from nfct_spec.models.variants import MODELLED
from nfct_spec.proofs.guard import GuardReport, check_encoding, encoding_gap
from nfct_spec.proofs.induction import Line
from nfct_spec.results import Result, exit_code, write_results
from nfct_spec.spec.catalogue import Property
from nfct_spec.spec.params import ATOMIC, era_of

LOG = "z3-induction.txt"
DEFAULT_TIMEOUT = 30.0
"""Seconds per solver query unless told otherwise."""
GUARD_SCOPE = (
    "no proof: the encoding of {variant} was checked against the model before the proofs "
    "(nfct_spec.proofs.guard), and a disagreement voids every Z3 verdict of the variant"
)


@dataclass
class Z3Run:
    """What one run of the engine found: its verdicts, the outcomes they came from, and the
    guard's report per variant."""

    results: list[Result]
    outcomes: list[Outcome]
    guards: dict[str, GuardReport]
    seconds: float
    run_info: dict[str, Any]
    """The run record of results.json (`prove`)."""
    configs: dict[str, Any]
    """The configs of results.json, by variant."""

    def write(self, out: Path) -> None:
        """Merge the verdicts into `out`/results.json (run record `prove`)."""
        write_results(out / "results.json", self.results, self.run_info, self.configs)

    @property
    def code(self) -> int:
        """The exit code of the verdicts (`nfct_spec.results.exit_code`)."""
        return exit_code(self.results)


def _quiet(text: str) -> None:
    """The default `show`: print nothing."""


def line_text(variant: str, prop_id: str, line: Line) -> str:
    """One induction query as logged: `variant property: transition conjunct status time`."""
    return (
        f"{variant} {prop_id}: {line.transition} {line.conjunct} {line.status} {line.seconds:.3f}s"
    )


def _cti_text(line: Line) -> list[str]:
    if line.model is None:
        return []
    return [f"    {key}: {value}" for key, value in line.model.items()]


def _guard_record(report: GuardReport) -> dict[str, Any]:
    return {
        "agrees": report.ok,
        "steps": sum(report.cases.values()),
        "refused_steps": sum(report.refused.values()),
        "seconds": round(report.seconds, 2),
        "disagreement": None if report.disagreement is None else str(report.disagreement),
    }


SMP_ELSEWHERE = (
    "the variant proofs are of the released code at the atomic granularity; Z3 on a config of "
    "a kernel era (granularity smp, another namespace's exit, the worker under review: BMC of "
    "its findings, the era proofs) is `nfct-spec eras`'s"
)


def encoded_variants(configs: Sequence[Config], show: Callable[[str], None] = _quiet) -> list[str]:
    """The variants of `configs` whose proofs speak for them; each config they do not speak
    for (a kernel era's, or outside the encoding) is named to `show` with the reason, and its
    variant left out."""
    variants = []
    for config in configs:
        gap = SMP_ELSEWHERE if era_of(config) != ATOMIC else encoding_gap(config)
        if gap is None:
            variants.append(config.variant)
        else:
            show(f"Z3: {config.variant} ({config.name}) skipped: {gap}")
    return variants


def prove(
    variants: Sequence[str],
    props: Sequence[Property],
    out: Path,
    timeout_s: float = DEFAULT_TIMEOUT,
    jobs: int = 1,
    show: Callable[[str], None] = _quiet,
    every_line: bool = False,
    write: bool = True,
    methods: Collection[str] | None = None,
) -> Z3Run:
    """Guard, prove or find every property of `props` on every variant of `variants`, write
    the traces, the induction log and (unless `write` is false: the caller then calls
    `Z3Run.write` when no other writer is at work) results.json under `out` (an output folder
    already prepared), and return the verdicts. `show` gets the guard's summaries and the
    induction lines worth showing (every one with `every_line`, else those not proved).
    `methods` (of `z3_runner.method`: induction, liveness, bmc) limits what runs; by default
    everything."""
    started = time.time()
    if methods is not None:
        allowed = set(methods)
        props = [p for p in props if any(method(p, v) in allowed for v in variants)]
    guards: dict[str, GuardReport] = {}
    for variant in variants:
        if any(method(prop, variant) is not None for prop in props):
            guards[variant] = check_encoding(variant)
            show(guards[variant].summary())
    voided: dict[tuple[str, str], Result] = {}
    tasks = []
    for variant in variants:
        for prop in props:
            if methods is not None and method(prop, variant) not in allowed:
                continue
            report = guards.get(variant)
            if report is None or report.disagreement is None:
                tasks.append((prop, variant))
            elif method(prop, variant) is not None:
                scope = GUARD_SCOPE.format(variant=variant)
                voided[prop.id, variant] = disagreement_result(
                    prop, variant, report.disagreement, scope
                )
    outcomes: dict[tuple[str, str], Outcome] = {}
    log: list[str] = []
    for prop, variant, outcome in run_all(tasks, timeout_s, out, jobs):
        if outcome is None:
            continue
        for line in outcome.lines:
            text = line_text(variant, prop.id, line)
            log.append(text)
            if line.status == "cti":
                log.extend(_cti_text(line))
            if every_line or line.status != "proved":
                show(text)
        outcomes[prop.id, variant] = outcome
    results = []
    for variant in variants:
        for prop in props:
            key = (prop.id, variant)
            if key in voided:
                results.append(voided[key])
            elif key in outcomes:
                results.append(outcomes[key].result)
    write_text(out / LOG, "\n".join(log) + "\n", "induction log", None)
    seconds = time.time() - started
    run_info = {
        "command": "prove",
        "engine": ENGINE,
        "timeout_seconds": timeout_s,
        "guard": {variant: _guard_record(report) for variant, report in guards.items()},
        "methods": sorted(methods) if methods is not None else ["bmc", "induction", "liveness"],
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "elapsed_seconds": round(seconds, 2),
    }
    configs = {v: preset("ci", v).to_json() for v in variants if v in MODELLED}
    z3 = Z3Run(results, list(outcomes.values()), guards, seconds, run_info, configs)
    if write:
        z3.write(out)
    return z3
