"""`nfct-spec kernel run SCENARIO` and `nfct-spec kernel check`: scenarios on the live kernel;
`nfct-spec kernel validate [RECORDING...]`: recordings against the 6.x model, no kernel needed.

Each scenario runs in a throw-away network namespace (loopback only), records an observed
trace, and checks it with the monitors of `nfct_spec.kernel.monitors` against the outcomes the
kernel facts predict. Parameters and the output are checked before the kernel is touched (exit
2). Without root or network-namespace support the command says so in one line and exits 4
(nothing is faked); a kernel answer the harness cannot handle exits 5
(`nfct_spec.kernel.failures`). The trace validator refusing a run as too large, or stopping at
a socket option changed mid-run (not modelled), is part of the result, not an error.
Interrupted runs remove their namespace and restore every sysctl first.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from nfct_spec.commands.common import UsageError
from nfct_spec.files import check_output, write_text
from nfct_spec.kernel.conformance import VALIDATION_RUNS, TooLarge, Validation, validate
from nfct_spec.kernel.failures import LIVE_ERRORS, failure
from nfct_spec.kernel.monitors import format_verdicts, verdicts
from nfct_spec.kernel.netns import Interrupted, exit_for
from nfct_spec.kernel.observe import (
    SIGNATURE,
    WHAT,
    ObservedTrace,
    ParamValue,
    format_summary,
    load,
    save,
)
from nfct_spec.kernel.recorded import (
    EXPLAINED,
    NOT_EXPLAINED,
    NOT_MODELLED,
    RecordingResult,
    shipped,
    validate_recording,
)
from nfct_spec.kernel.recorded import exit_code as recordings_exit_code
from nfct_spec.kernel.scenarios import SCENARIOS, ScenarioError, parse_param, run_scenario_with
from nfct_spec.outdir import prepare


def _param(text: str) -> tuple[str, ParamValue]:
    try:
        return parse_param(text)
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"--param: {exc}") from None


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `kernel run` and `kernel check`."""
    kernel = sub.add_parser("kernel", help="run scenarios on the live kernel")
    ksub = kernel.add_subparsers(dest="kernel_command", required=True, parser_class=type(kernel))
    run_p = ksub.add_parser("run", help="run one scenario and check its observed trace")
    run_p.add_argument("scenario", choices=sorted(SCENARIOS))
    run_p.add_argument("-p", "--param", action="append", default=[], help="KEY=VALUE")
    run_p.add_argument("-o", "--out", help="write the observed trace (JSON) here")
    run_p.add_argument("-v", "--verbose", action="store_true")
    check_p = ksub.add_parser("check", help="run every scenario and check them all")
    check_p.add_argument("--out", default="nfct-spec-out/kernel", help="output folder")
    validate_p = ksub.add_parser(
        "validate",
        help="validate recordings against the 6.x model (no kernel needed)",
        description="Validate recordings (as `kernel run -o` writes them) against the 6.x "
        "model: explained, not explained (the first event no model state explains) or not "
        "modelled (with the reason). Without arguments: the recordings the package ships. "
        "Exit 0 all explained, 1 some not explained, 3 some not modelled.",
    )
    validate_p.add_argument("recording", nargs="*", help="recording files (JSON)")


def run(args: argparse.Namespace, console: Console) -> int:
    """Run the scenarios; 0 all as expected, 1 some monitor or validation not, 4 kernel
    unavailable, 5 a kernel answer that cannot be handled (bad input raises, exit 2)."""
    if args.kernel_command == "validate":
        return _validate(args, console)
    try:
        if args.kernel_command == "run":
            return _run(args, console)
        return _check(args, console)
    except LIVE_ERRORS as exc:
        code, text = failure(exc)
        print(f"nfct-spec: {text}", file=sys.stderr)
        return code
    except Interrupted as exc:
        console.print(f"{exc}; namespace removed and sysctls restored", highlight=False)
        exit_for(exc)
        return 130


def recordings_table(results: list[RecordingResult]) -> Table:
    """One row per recording: its outcome against the 6.x model and why."""
    table = Table(title="recordings of the live kernel against the 6.x model")
    for column in ("recording", "kernel", "events", "outcome", "detail"):
        table.add_column(column)
    colour = {EXPLAINED: "green", NOT_EXPLAINED: "red", NOT_MODELLED: "yellow"}
    for r in results:
        outcome = f"[{colour[r.outcome]}]{r.outcome}[/{colour[r.outcome]}]"
        table.add_row(r.path.name, r.kernel, str(r.events), outcome, r.detail)
    return table


def _validate(args: argparse.Namespace, console: Console) -> int:
    """`kernel validate`: every recording is read first (a bad one exits 2 before any
    search), then validated."""
    paths = [Path(p) for p in args.recording] or shipped()
    for path in paths:
        load(path)
    started = time.perf_counter()
    results = [validate_recording(path) for path in paths]
    console.print(recordings_table(results))
    console.print(f"{len(results)} recording(s) in {time.perf_counter() - started:.1f} s")
    return recordings_exit_code(results)


def _validation(trace: ObservedTrace) -> Validation:
    """The validator's outcome; a run it will not search is "not modelled" with the reason."""
    try:
        return validate(trace)
    except TooLarge as exc:
        return Validation(trace.scenario, 0, len(trace.events), None, 0, f"not searched: {exc}")


def _validation_record(validation: Validation) -> dict[str, object]:
    return {
        "ok": validation.ok,
        "explained": validation.explained,
        "total": validation.total,
        "unexplained": validation.unexplained,
        "unsupported": validation.unsupported,
    }


def _run(args: argparse.Namespace, console: Console) -> int:
    params = dict(_param(p) for p in args.param)
    try:
        SCENARIOS[args.scenario].resolve(params)
    except ScenarioError as exc:
        raise UsageError(f"--param: {exc}") from None
    if args.out:
        check_output(args.out, WHAT, SIGNATURE)
    trace = run_scenario_with(args.scenario, params, verbose=args.verbose)
    if args.out:
        save(trace, args.out)
    console.print(format_summary(trace), highlight=False)
    results = verdicts(trace)
    console.print(format_verdicts(results), highlight=False)
    validation = _validation(trace)
    console.print(f"trace validation: {validation.summary()}", highlight=False)
    ok = all(v.as_expected for v in results) and validation.ok
    return 0 if ok else 1


def _check(args: argparse.Namespace, console: Console) -> int:
    out = prepare(Path(args.out))
    table = Table(title="live kernel scenarios")
    for column in (
        "scenario",
        "seconds",
        "monitors as expected",
        "not as expected",
        "trace validation",
    ):
        table.add_column(column)
    report = []
    ok = True
    for name in sorted(SCENARIOS):
        started = time.perf_counter()
        trace = run_scenario_with(name, {})
        save(trace, out / f"{name}.json")
        results = verdicts(trace)
        seconds = time.perf_counter() - started
        bad = [v.result.name for v in results if not v.as_expected]
        validation = _validation(trace)
        ok = ok and not bad and validation.ok
        table.add_row(
            name,
            f"{seconds:.1f}",
            str(len(results) - len(bad)),
            ", ".join(bad) or "-",
            validation.summary(),
        )
        report.append(
            {
                "scenario": name,
                "seconds": round(seconds, 2),
                "kernel": trace.kernel,
                "validation": _validation_record(validation),
                "monitors": [
                    {
                        "name": v.result.name,
                        "holds": v.result.holds,
                        "applicable": v.result.applicable,
                        "expected": v.expected,
                        "as_expected": v.as_expected,
                        "detail": v.result.detail,
                    }
                    for v in results
                ],
            }
        )
    conformance = Table(title="runs of other parameters validated against the 6.x model")
    for column in ("scenario", "parameters", "result"):
        conformance.add_column(column)
    for name, params in VALIDATION_RUNS:
        trace = run_scenario_with(name, dict(params))
        label = " ".join(f"{k}={v}" for k, v in params)
        save(trace, out / f"{name}-{label.replace(' ', '-').replace('=', '')}.json")
        validation = _validation(trace)
        ok = ok and validation.ok
        conformance.add_row(name, label, validation.summary())
        report.append(
            {
                "scenario": name,
                "params": dict(params),
                "validation": _validation_record(validation),
            }
        )
    write_text(out / "kernel-check.json", json.dumps(report, indent=1) + "\n", "report", None)
    console.print(table)
    console.print(conformance)
    return 0 if ok else 1
