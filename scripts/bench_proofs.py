"""Measure the Z3 proof suite: the wall time of everything `nfct-spec prove` runs (all
variants, 6.x included, all properties, in the same worker processes) and of its slowest
single solver query.

Usage: python scripts/bench_proofs.py [--timeout S] [--jobs N] [--record docs/figures.json]
Prints one line per (variant, property) with its verdict and the time it took in its worker,
then the totals, and writes them as the Z3 row of block `measured` of the figures record
(which the README's table is generated from).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

from nfct_spec.docs.figures import RECORD, record_argument, record_row
from nfct_spec.engines.z3_runner import run_all
from nfct_spec.models.config import VARIANTS
from nfct_spec.spec.auxiliary import AUXILIARY
from nfct_spec.spec.catalogue import CATALOGUE

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    """Run the suite once and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--record", type=record_argument, default=ROOT / RECORD)
    args = parser.parse_args()
    verdicts = aux = 0
    queries: list[tuple[float, str]] = []
    searches: list[tuple[float, str]] = []
    started = time.perf_counter()
    tasks = [(prop, variant) for variant in VARIANTS for prop in CATALOGUE]
    with tempfile.TemporaryDirectory() as tmp:
        for prop, variant, outcome in run_all(tasks, args.timeout, Path(tmp), args.jobs):
            if outcome is None:
                continue
            verdicts += 1
            aux += prop in AUXILIARY
            where = f"{variant} {prop.id}"
            for line in outcome.lines:
                queries.append((line.seconds, f"{where}: {line.transition}/{line.conjunct}"))
            if outcome.trace is not None:
                searches.append((outcome.seconds, f"{where}: BMC (whole search)"))
            print(
                f"{variant:7} {prop.id:26} {outcome.result.verdict:10} {outcome.seconds:6.2f} s"
                f"  ({len(outcome.lines)} induction queries)"
            )
    total = time.perf_counter() - started
    worst_query = max(queries, default=(0.0, "-"))
    worst_bmc = max(searches, default=(0.0, "-"))
    print(f"whole suite: {total:.1f} s wall ({args.jobs} worker processes)")
    print(f"slowest induction query: {worst_query[0]:.2f} s ({worst_query[1]})")
    print(f"slowest BMC search: {worst_bmc[0]:.2f} s ({worst_bmc[1]})")
    figure = (
        f"{total:.1f} s wall with {args.jobs} worker processes ({verdicts} verdicts over "
        f"{', '.join(VARIANTS)}, {aux} of them auxiliary invariants); slowest query "
        f"{worst_query[0]:.1f} s ({worst_query[1]}); slowest BMC {worst_bmc[0]:.1f} s "
        f"({worst_bmc[1].removesuffix(': BMC (whole search)')})"
    )
    command = shlex.join(["python", "scripts/bench_proofs.py", *sys.argv[1:]])
    row = {"what": "the Z3 suite", "command": command, "figure": figure}
    record_row(args.record, "measured", "what", row)
    print(f"wrote the figures to {args.record}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
