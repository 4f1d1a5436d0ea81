"""One worker against two on the largest search the explorer exhausts: the four-slot 2.6.31
reference config's obligations search with its DESTROY retries untimed (4,239,825 states).

The `workers` table of `scripts/bench_explorer.py` measures searches of seconds; this one
takes about half an hour with one worker on our machines, so it is a script of its own. Each
run is a process of its own, one after the other (neither inherits the other's memory), and
both should be made with nothing else running: two processes on two virtual cores are what
the speed-up measures. The figures go to the `measured` table of the figures record (row
"two workers on the largest search").

    python scripts/bench_workers_large.py            # both runs, about 50 minutes
    python scripts/bench_workers_large.py --slots 2  # the same on two slots, seconds
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from bench_explorer import ROOT, _groups, reference

from nfct_spec.docs.figures import RECORD, record_argument, record_row
from nfct_spec.engines.explorer import Stats, explore
from nfct_spec.engines.parallel import Pool
from nfct_spec.models.observers import OBLIGATIONS

WHAT = "two workers on the largest search"


def _search(slots: int, workers: int) -> Stats:
    """The obligations search of the `slots`-slot 2.6.31 reference config, retries untimed,
    on `workers` processes (1: the sequential search); the pool's start is not counted."""
    config = reference(slots, "2.6.31")
    group = dict(_groups(config))[OBLIGATIONS]
    options = {"level": OBLIGATIONS, "untimed": True, "max_states": 30_000_000}
    if workers == 1:
        return explore(config, group, **options).stats
    with Pool(workers) as pool:
        return explore(config, group, pool=pool, **options).stats


def _in_child(slots: int, workers: int) -> Stats:
    """`_search` in a process of its own (this script with `--only`)."""
    command = [sys.executable, __file__, "--slots", str(slots), "--only", str(workers)]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return Stats(**json.loads(out.splitlines()[-1]))


def measured_row(one: Stats, two: Stats, slots: int) -> dict[str, str]:
    """The row of the `measured` table: the search with one worker (`one`) and with two."""
    figure = (
        f"{one.states:,} states, depth {one.depth}, "
        f"{'exhausted' if one.complete else 'not exhausted'} by both: "
        f"{one.seconds:,.1f} s with one worker, {two.seconds:,.1f} s with two "
        f"({one.seconds / two.seconds:.2f} times as fast; processor time "
        f"{one.cpu_seconds:,.1f} s and {two.cpu_seconds:,.1f} s in all)"
    )
    command = "python scripts/bench_workers_large.py"
    if slots != 4:
        command += f" --slots {slots}"
    what = WHAT if slots == 4 else f"{WHAT} ({slots} slots)"
    return {"what": what, "command": command, "figure": figure}


def main() -> None:
    """Run the search with one worker, then with two; print both and record the row."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument(
        "--record", type=record_argument, default=ROOT / RECORD, help="the figures record to write"
    )
    parser.add_argument("--only", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only:
        stats = _search(args.slots, args.only)
        keep = ("states", "depth", "complete", "seconds", "cpu_seconds")
        print(json.dumps({name: getattr(stats, name) for name in keep}))
        return
    runs = {}
    for workers in (1, 2):
        stats = _in_child(args.slots, workers)
        runs[workers] = stats
        print(
            f"{workers} worker(s): {stats.states:,} states, depth {stats.depth}, "
            f"{'exhausted' if stats.complete else 'NOT exhausted'}, {stats.seconds:.1f} s, "
            f"{stats.cpu_seconds:.1f} CPU s, load {os.getloadavg()[0]:.2f}",
            flush=True,
        )
    one, two = runs[1], runs[2]
    if (one.states, one.depth, one.complete) != (two.states, two.depth, two.complete):
        sys.exit("the two searches disagree on states, depth or completion")
    row = measured_row(one, two, args.slots)
    record_row(args.record, "measured", "what", row)
    print(row["figure"])


if __name__ == "__main__":
    main()
