"""Check, on every state of an exhausted search, that the 2.6.31 dying list's order is read by
nothing the searches judge (`nfct_spec.engines.dying_order`).

The safety searches and the symmetry-reduced liveness graph keep the 2.6.31 dying list as a
set. This script searches the reference config (`scripts/bench_explorer.py`) at the
obligations level to the end, as `nfct-spec explore` does (every reachable state is then an
order of the dying list of a state it stores, up to the renaming of slots and flows), and for
every state with two or more conntracks on the list and every other order of it, asks
`dying_order.differences`: the same steps, the
successors equal up to the order, every entry of the obligations search judging the state and
each step the same, and everything the liveness search reads the same. It prints the states
and orders checked and every difference found, and exits 1 if there is one (0 otherwise, 3
when `--budget` cut the search: then not every state was checked).

With `--untimed` the config's DESTROY retries are untimed (`Config.retry_untimed`), the
abstraction `nfct-spec explore --reduction untimed` searches the reference config on.
`--record` writes the outcome as the row "the dying-list order, checked on every state" of
the `measured` block (docs/figures.json).

Usage: python scripts/check_dying_order.py [--variant 2.6.31] [--slots 4] [--untimed]
       [--budget N] [--record docs/figures.json]
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from pathlib import Path

from bench_explorer import reference

from nfct_spec.docs.figures import record_argument, record_row
from nfct_spec.engines.dying_order import differences, obligations_entries
from nfct_spec.engines.explorer import explore, peak_rss_mib
from nfct_spec.models.canonical import dying_order_observable
from nfct_spec.models.observers import OBLIGATIONS

PROGRESS = 20_000
"""Report progress every this many crowded states."""
WHAT = "the dying-list order, checked on every state"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="2.6.31")
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--untimed", action="store_true")
    parser.add_argument("--budget", type=int, default=10_000_000)
    parser.add_argument("--record", type=record_argument)
    args = parser.parse_args()
    if args.slots < 1 or args.budget < 1:
        parser.error("--slots and --budget must be positive")
    config = reference(args.slots, args.variant)
    if args.untimed:
        config = config.with_(retry_untimed=True)
    if dying_order_observable(config):
        parser.error(f"{args.variant}: the dying list's order is read there, nothing to check")
    props = obligations_entries(config)
    started = time.perf_counter()
    search = explore(config, [], max_states=args.budget, level=OBLIGATIONS)
    searched_s = time.perf_counter() - started
    print(
        f"search: {search.stats.states:,} states, "
        f"{'exhausted' if search.stats.complete else 'NOT exhausted (budget)'}, {searched_s:.0f} s",
        file=sys.stderr,
    )
    total = sum(1 for state in search.states if len(state.kernel.dying) > 1)
    crowded = orders = 0
    found: list[str] = []
    for state in search.states:
        if len(state.kernel.dying) < 2:
            continue
        crowded += 1
        orders += math.factorial(len(state.kernel.dying)) - 1
        found += differences(config, state, props)
        if crowded % PROGRESS == 0:
            print(
                f"  {crowded:,} of {total:,} crowded states checked, {len(found)} differences",
                file=sys.stderr,
            )
    seconds = time.perf_counter() - started
    for line in found[:20]:
        print(line)
    summary = (
        f"{search.stats.states:,} states ({'exhausted' if search.stats.complete else 'budget'}), "
        f"{crowded:,} with two or more dying conntracks, {orders:,} other orders checked against "
        f"{len(props)} entries and the liveness judgements: {len(found)} differences, "
        f"{seconds:.0f} s, peak {peak_rss_mib():,.0f} MiB"
    )
    print(summary)
    if args.record is not None:
        command = "python scripts/check_dying_order.py " + shlex.join(sys.argv[1:])
        command = command.replace(f" --record {args.record}", "").strip()
        run = f"{args.variant}, {args.slots} slots{', retries untimed' if args.untimed else ''}"
        _record(args.record, command, f"{run}: {summary}")
    if found:
        return 1
    return 0 if search.stats.complete else 3


def _record(path: Path, command: str, figure: str) -> None:
    record_row(path, "measured", "what", {"what": WHAT, "command": command, "figure": figure})


if __name__ == "__main__":
    sys.exit(main())
