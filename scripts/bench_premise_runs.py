"""What the sampling check pays for a premise its runs missed, on the `ci` preset.

When no run of `nfct-spec check`'s Hypothesis sample reaches an entry's premise, the check
asks the explorer for the shortest run into it and samples runs that begin with it
(`nfct_spec.engines.premise_runs`). This script does that for every entry judged with a
premise on the `ci` preset, per variant, as if the sample had missed each one, and prints the
length of the shortest run, the states the explorer searched, the runs sampled from it, in how
many of them the premise was reached, whether the entry had a finding there, and the seconds.

Usage: python scripts/bench_premise_runs.py [--variants 2.6.30,2.6.31,6.x]
       [--profile ci] [--record docs/figures.json]
"""

from __future__ import annotations

import argparse
import time

from nfct_spec.checking import searched
from nfct_spec.docs.figures import record_argument, record_block
from nfct_spec.engines.hypothesis_engine import PROFILES
from nfct_spec.engines.premise_runs import premise_runs
from nfct_spec.engines.premises import has_premise
from nfct_spec.models.presets import preset
from nfct_spec.spec.catalogue import CATALOGUE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", default="2.6.30,2.6.31,6.x")
    parser.add_argument("--profile", default="ci", choices=sorted(PROFILES))
    parser.add_argument("--record", type=record_argument)
    args = parser.parse_args()
    profile = PROFILES[args.profile]
    rows: list[dict[str, object]] = []
    for variant in args.variants.split(","):
        config = preset("ci", variant)
        props = [p for p in CATALOGUE if searched(p, config)]
        for prop in props:
            if not has_premise(prop.id, config):
                continue
            started = time.perf_counter()
            extra = premise_runs(config, props, prop.id, profile, 0)
            seconds = time.perf_counter() - started
            found = extra.collection is not None and prop.id in extra.collection.found
            row = {
                "variant": variant,
                "entry": prop.id,
                "steps": extra.prefix if extra.prefix is not None else "not reached",
                "states": extra.states,
                "runs": extra.runs,
                "reached": extra.reached,
                "finding": "yes" if found else "no",
                "s": round(seconds, 1),
            }
            rows.append(row)
            print("  ".join(f"{value}" for value in row.values()), flush=True)
    if args.record is not None:
        record_block(
            args.record,
            "premise-runs",
            {
                "about": "per entry judged with a premise on the ci preset: the explorer's "
                "shortest run into the premise, the runs sampled from it, in how many the "
                "premise was reached, whether the entry had a finding there, and the seconds",
                "command": f"python scripts/bench_premise_runs.py --profile {args.profile} "
                "--record docs/figures.json",
                "columns": [
                    ["variant", "variant"],
                    ["entry", "entry", "code"],
                    ["steps", "steps into the premise"],
                    ["states", "states searched"],
                    ["runs", "runs sampled"],
                    ["reached", "premise reached in"],
                    ["finding", "finding"],
                    ["s", "s"],
                ],
                "rows": rows,
            },
        )


if __name__ == "__main__":
    main()
