"""Trace validation of every scenario's full run: events, consistent model states, time.

Runs each scenario of `nfct-spec kernel check` at its defaults on the live kernel (root and
network namespaces needed, as for `kernel check`), validates the recording against the 6.x
model (`nfct_spec.kernel.conformance`) and writes one row per scenario to block `validation`
of the figures record, which the README's table is generated from. With `--recordings DIR`
the recordings in DIR (as `nfct-spec kernel run -o` writes them) are validated instead, and
no kernel is touched; `--keep DIR` saves the runs' recordings.

Usage: python scripts/bench_validate.py [--recordings DIR | --keep DIR] [--record FILE]
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

from nfct_spec.docs.figures import RECORD, record_argument, record_block
from nfct_spec.kernel.conformance import TooLarge, Validation, validate
from nfct_spec.kernel.netns import KernelUnavailable
from nfct_spec.kernel.observe import ObservedTrace, load, save
from nfct_spec.kernel.scenarios import SCENARIOS, run_scenario_with

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = [
    ["scenario", "scenario"],
    ["events", "events"],
    ["outcome", "outcome"],
    ["states", "most consistent states"],
    ["seconds", "s"],
]


def _traces(args: argparse.Namespace) -> list[ObservedTrace]:
    if args.recordings is not None:
        paths = sorted(args.recordings.glob("*.json"))
        if not paths:
            sys.exit(f"--recordings {args.recordings}: no recordings (*.json) there")
        return [load(path) for path in paths]
    traces = []
    for name in SCENARIOS:
        print(f"running {name} ...", flush=True)
        trace = run_scenario_with(name, {})
        if args.keep is not None:
            save(trace, args.keep / f"{name}.json")
        traces.append(trace)
    return traces


def _outcome(validation: Validation) -> str:
    if validation.unexplained is not None:
        return f"NOT explained: {validation.unexplained}"
    if validation.unsupported is not None:
        return f"not modelled from {validation.unsupported}"
    return "explained"


def main() -> None:
    """Validate, print and record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--recordings", type=Path, help="validate these recordings instead")
    source.add_argument("--keep", type=Path, help="save the runs' recordings here")
    parser.add_argument("--record", type=record_argument, default=ROOT / RECORD)
    args = parser.parse_args()
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
    try:
        traces = _traces(args)
    except KernelUnavailable as exc:
        sys.exit(f"the live kernel cannot be used: {exc}")
    rows = []
    for trace in traces:
        started = time.perf_counter()
        try:
            validation = validate(trace)
        except TooLarge as exc:
            outcome, events, states = f"not modelled: {exc}", len(trace.events), None
        else:
            outcome, events, states = _outcome(validation), validation.total, validation.peak_states
        seconds = round(time.perf_counter() - started, 1)
        row = {
            "scenario": trace.scenario,
            "events": events,
            "outcome": outcome,
            "states": states,
            "seconds": seconds,
        }
        print(f"{trace.scenario}: {events} events, {outcome}, {states} states, {seconds} s")
        rows.append(row)
    command = shlex.join(["python", "scripts/bench_validate.py", *sys.argv[1:]])
    load = os.getloadavg()[0]
    record_block(
        args.record,
        "validation",
        {
            "about": "Every scenario's full run at its defaults, validated against the 6.x model.",
            "command": command,
            "columns": COLUMNS,
            "rows": rows,
            "after": "Measured with `{command}` on Linux {kernel}, load average (1 min) {load}.",
            "values": {
                "command": command,
                "kernel": traces[0].kernel if traces else "?",
                "load": f"{load:.1f}",
            },
        },
    )
    print(f"wrote block validation to {args.record}")


if __name__ == "__main__":
    main()
