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
from nfct_spec.docs.figures import record_argument, record_block
from nfct_spec.engines.premises import PremiseReach, reach
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


def cell(found: PremiseReach, budget: int, several: bool) -> str:
    """One table cell: the depth (and, in a suite, the member) that reaches the premise."""
    if found.reached:
        return f"depth {found.depth} ({found.config})" if several else f"depth {found.depth}"
    if found.complete:
        return f"never ({found.states:,} states)"
    return f"not within {budget:,} states"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", default="2.6.30,2.6.31,6.x")
    parser.add_argument("--budget", type=int, default=200_000)
    parser.add_argument("--record", type=record_argument)
    args = parser.parse_args()
    rows: dict[str, dict[str, object]] = {p: {"entry": p} for p in PREMISES}
    columns = [["entry", "entry", "code"]]
    for variant in args.variants.split(","):
        for where, configs in configs_of(variant):
            key = f"{variant} {where}"
            columns.append([key, key])
            for prop_id in PREMISES:
                started = time.perf_counter()
                found = reach(prop_id, configs, args.budget)
                seconds = time.perf_counter() - started
                if found is None:
                    rows[prop_id][key] = "-"
                    continue
                rows[prop_id][key] = cell(found, args.budget, len(configs) > 1)
                print(
                    f"{key:26} {prop_id:28} {rows[prop_id][key]:32} "
                    f"{found.states:>8,} states {seconds:6.2f} s",
                    flush=True,
                )
    if args.record is not None:
        record_block(
            args.record,
            "premises",
            {
                "about": "the BFS depth at which each premise is reached, per variant, on "
                "the ci suite (and the member that reaches it) and on the four-slot "
                "reference config; - where the entry is not judged without a finding",
                "command": f"python scripts/bench_premises.py --budget {args.budget} "
                "--record docs/figures.json",
                "columns": columns,
                "rows": list(rows.values()),
            },
        )


if __name__ == "__main__":
    main()
