"""Where each premise is reached: the `ci` suite and the four-slot reference configs.

Before the explorer calls an entry `exhausted` it searches the entry's premise on the same
configs (`nfct_spec.engines.premises`). This script runs those searches alone: per variant,
on the `ci` suite (the member `SHOWN_IN` names first, as the explorer does) and on the shipped
reference config (`configs/reference/reference-VARIANT.json`), and prints, per premise, where
it was reached, the BFS depth, the states searched and the seconds. A premise a config never
reaches, or one the budget stops short of, is printed as such: an `exhausted` verdict there
would be `unknown`.

Usage: python scripts/bench_premises.py [--variants 2.6.30,2.6.31,6.x] [--budget 200000]
       [--record docs/figures.json]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from nfct_spec.commands.common import load_config
from nfct_spec.docs.figures import record_block
from nfct_spec.engines.premises import has_premise, reach
from nfct_spec.models.config import Config
from nfct_spec.models.presets import suite
from nfct_spec.spec.premises import PREMISES

REFERENCE = Path(__file__).resolve().parents[1] / "configs" / "reference"


def configs_of(variant: str) -> list[tuple[str, list[Config]]]:
    """The configs each premise is searched on: the `ci` suite, and the reference config
    where one is shipped for the variant."""
    runs = [("ci suite", list(suite("ci", variant)))]
    path = REFERENCE / f"reference-{variant}.json"
    if path.exists():
        runs.append(("reference, 4 slots", [load_config(path)]))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", default="2.6.30,2.6.31,6.x")
    parser.add_argument("--budget", type=int, default=200_000)
    parser.add_argument("--record", type=Path)
    args = parser.parse_args()
    rows = []
    for variant in args.variants.split(","):
        for where, configs in configs_of(variant):
            for prop_id in PREMISES:
                if not any(has_premise(prop_id, c) for c in configs):
                    continue
                started = time.perf_counter()
                found = reach(prop_id, configs, args.budget)
                seconds = time.perf_counter() - started
                assert found is not None
                if found.reached:
                    outcome = f"reached in {found.config}"
                elif found.complete:
                    outcome = "never reached (exhausted)"
                else:
                    outcome = f"not reached within {args.budget:,} states"
                row = {
                    "variant": variant,
                    "configs": where,
                    "entry": prop_id,
                    "outcome": outcome,
                    "depth": found.depth if found.reached else "",
                    "states": found.states,
                    "seconds": round(seconds, 2),
                }
                rows.append(row)
                print(
                    f"{variant:7} {where:18} {prop_id:28} {outcome:32} "
                    f"depth {row['depth']!s:3} {found.states:>8,} states {seconds:6.2f} s",
                    flush=True,
                )
    if args.record is not None:
        record_block(
            args.record,
            "premises",
            {
                "about": "where each premise is reached, per variant, on the ci suite and on "
                "the four-slot reference config",
                "command": f"python scripts/bench_premises.py --budget {args.budget}",
                "columns": [
                    ["variant", "variant"],
                    ["configs", "configs"],
                    ["entry", "entry", "code"],
                    ["outcome", "premise"],
                    ["depth", "depth"],
                    ["states", "states searched"],
                    ["seconds", "s"],
                ],
                "rows": rows,
            },
        )


if __name__ == "__main__":
    main()
