"""Measure the Z3 proof suite: the wall time of everything `nfct-spec prove` runs (all
variants, all properties) and of its slowest single solver query.

Usage: python scripts/bench_proofs.py [--timeout S]
Prints one line per (variant, property) with its verdict and time, then the totals.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from nfct_spec.models.config import VARIANTS
from nfct_spec.proofs.induction import Line
from nfct_spec.proofs.runner import run_property
from nfct_spec.spec.catalogue import CATALOGUE


def main() -> int:
    """Run the suite once and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    slowest: list[tuple[float, str]] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for variant in VARIANTS:
            for prop in CATALOGUE:

                def on_line(line: Line, where: str = f"{variant} {prop.id}") -> None:
                    slowest.append((line.seconds, f"{where}: {line.transition}/{line.conjunct}"))

                t0 = time.perf_counter()
                outcome = run_property(prop, variant, args.timeout, Path(tmp), on_line=on_line)
                if outcome is None:
                    continue
                took = time.perf_counter() - t0
                queries = len(outcome.lines)
                print(
                    f"{variant:7} {prop.id:26} {outcome.result.verdict:10} {took:6.2f} s"
                    f"  ({queries} induction queries)"
                )
                if outcome.trace is not None:
                    slowest.append((took, f"{variant} {prop.id}: BMC (whole search)"))
    total = time.perf_counter() - started
    worst_query = max((s for s in slowest if "BMC" not in s[1]), default=(0.0, "-"))
    worst_bmc = max((s for s in slowest if "BMC" in s[1]), default=(0.0, "-"))
    print(f"whole suite: {total:.1f} s wall")
    print(f"slowest induction query: {worst_query[0]:.2f} s ({worst_query[1]})")
    print(f"slowest BMC search: {worst_bmc[0]:.2f} s ({worst_bmc[1]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
