"""Z3 on the kernel-era configs: the BMC depths beside the explorer's, and the era proofs.

Runs `nfct-spec eras` (every era config, every engine, its default profile and Z3 timeout) or,
with `--results FILE`, reads the results.json of such a run, and writes blocks `eras-bmc` (one
row per Z3 finding: the explorer's BFS depth, Z3's and Z3's seconds) and `eras-proofs` (one row
per era config: the Z3 verdict of each crash entry, of `timeout-handler-once`,
`destroy-before-free` and `deadlock-free`) of the
figures record, which the README's tables are generated from, and the row of `nfct-spec eras`
in block `measured`.

Usage: python scripts/bench_eras.py [--results FILE] [--record FILE]
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from nfct_spec.docs.figures import RECORD, record_argument, record_block, record_row
from nfct_spec.files import InputError
from nfct_spec.results import load_results

ROOT = Path(__file__).resolve().parents[1]
DEPTH = re.compile(r"at depth (\d+)|(\d+)-step")
PROOF_ENTRIES = (
    "no-double-unlink",
    "no-timer-rearm",
    "no-use-after-free",
    "timeout-handler-once",
    "destroy-before-free",
    "deadlock-free",
)


def _depth(text: str) -> int | None:
    match = DEPTH.search(text)
    if match is None:
        return None
    return int(match.group(1) or match.group(2))


def _cell(result: dict[str, Any] | None) -> str:
    if result is None:
        return "no Z3 verdict"
    return str(result["verdict"]) + ("" if result["status"] == "ok" else " (NOT AS EXPECTED)")


def blocks(data: dict[str, Any], command: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two blocks of a results.json written by `nfct-spec eras`."""
    run = data["runs"]["eras"]
    seconds = run.get("z3_seconds", {})
    results = data["results"]
    explorer = {(r["config"], r["property"]): r for r in results if r["engine"] == "explorer"}
    z3 = {(r["config"], r["property"]): r for r in results if r["engine"] == "z3"}
    bmc_rows = []
    for (config, prop), result in z3.items():
        if result["verdict"] not in ("violated", "witnessed"):
            continue
        found = explorer.get((config, prop))
        bmc_rows.append(
            {
                "config": config,
                "property": prop,
                "explorer": _depth(found["scope"]) if found else None,
                "z3": _depth(result["reason"]),
                "seconds": seconds.get(f"{config}/{prop}"),
                "status": result["status"],
            }
        )
    proof_rows = []
    for config in sorted({c for c, _ in explorer}):
        if not any(c == config for c, _ in z3):
            continue
        row: dict[str, Any] = {"config": config}
        for prop in PROOF_ENTRIES:
            row[prop] = _cell(z3.get((config, prop)))
        proof_rows.append(row)
    load = f"{os.getloadavg()[0]:.1f}"
    ok = sum(1 for r in results if r["status"] == "ok")
    values = {
        "command": command,
        "verdicts": str(len(results)),
        "ok": str(ok),
        "z3": str(len(z3)),
        "seconds": f"{run['elapsed_seconds']:.0f}",
        "load": load,
    }
    bmc = {
        "about": "Z3 BMC on the era configs, to the explorer's BFS depth.",
        "command": command,
        "columns": [
            ["config", "era config", "code"],
            ["property", "entry", "code"],
            ["explorer", "explorer (steps)"],
            ["z3", "Z3 BMC (steps)"],
            ["seconds", "Z3 s"],
            ["status", "status"],
        ],
        "rows": bmc_rows,
        "after": "Measured with `{command}`: {verdicts} verdicts, {ok} as expected, {z3} of "
        "them Z3's, in {seconds} s; load average (1 min) {load} at the end.",
        "values": values,
    }
    proofs = {
        "about": "Z3's verdict on each era config for the crash entries and the single handler.",
        "command": command,
        "columns": [["config", "era config", "code"]]
        + [[prop, f"`{prop}`"] for prop in PROOF_ENTRIES],
        "rows": proof_rows,
        "after": "Measured with `{command}`; `proved`: an era proof over 3 memory slots, 2 "
        "listeners (and 3 CPUs at smp); `violated`: a Z3 path of the explorer's depth.",
        "values": values,
    }
    return bmc, proofs


def main() -> None:
    """Run (or read) `nfct-spec eras`, print and record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, help="results.json of an `nfct-spec eras` run")
    parser.add_argument("--record", type=record_argument, default=ROOT / RECORD)
    args = parser.parse_args()
    command = shlex.join(["python", "scripts/bench_eras.py", *sys.argv[1:]])
    if args.results is None:
        out = Path(tempfile.mkdtemp(prefix="bench-eras-"))
        code = subprocess.call(["nfct-spec", "eras", "--out", str(out / "eras")])
        if code not in (0, 3):
            sys.exit(f"nfct-spec eras exited {code}: not recorded")
        path = out / "eras" / "results.json"
    else:
        path = args.results
    try:
        data = load_results(path)
    except InputError as exc:
        sys.exit(str(exc))
    bmc, proofs = blocks(data, command)
    for row in bmc["rows"]:
        print(row)
    for row in proofs["rows"]:
        print(row)
    record_block(args.record, "eras-bmc", bmc)
    record_block(args.record, "eras-proofs", proofs)
    values = bmc["values"]
    run = data["runs"]["eras"]
    figure = (
        f"{values['seconds']} s, {len(run['eras'])} era configs, {values['verdicts']} verdicts "
        f"({values['z3']} of them Z3's: BMC at the explorer's depth and the era proofs), "
        f"{values['ok']} as expected; load average (1 min) {values['load']} at the end"
    )
    row = {"what": "the kernel-era configs, every engine", "command": "nfct-spec eras"}
    record_row(args.record, "measured", "what", {**row, "figure": figure})
    print(f"wrote blocks eras-bmc and eras-proofs, and a row of measured, to {args.record}")


if __name__ == "__main__":
    main()
