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

`--workers N` shares the crowded states among N processes forked after the search (state i
goes to worker i mod N; each reports its own progress), which on the four-slot reference
divides the hours of the check by the cores given; the outcome is the same whatever N.

Usage: python scripts/check_dying_order.py [--variant 2.6.31] [--slots 4] [--untimed]
       [--budget N] [--workers 1] [--record docs/figures.json]
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import resource
import shlex
import sys
import time
from pathlib import Path

from bench_explorer import reference

from nfct_spec.docs.figures import record_argument, record_row
from nfct_spec.engines.dying_order import differences, obligations_entries
from nfct_spec.engines.explorer import Exploration, explore, peak_rss_mib
from nfct_spec.models.canonical import dying_order_observable
from nfct_spec.models.config import Config
from nfct_spec.models.observers import OBLIGATIONS
from nfct_spec.spec.catalogue import Property

PROGRESS = 20_000
"""Report progress every this many crowded states."""
WHAT = "the dying-list order, checked on every state"

_SHARED: tuple[Config, Exploration, list[Property], int] | None = None
"""What the forked workers read (inherited, not pickled): config, search, entries, workers."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="2.6.31")
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--untimed", action="store_true")
    parser.add_argument("--budget", type=int, default=10_000_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--record", type=record_argument)
    args = parser.parse_args()
    if args.slots < 1 or args.budget < 1 or args.workers < 1:
        parser.error("--slots, --budget and --workers must be positive")
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
    global _SHARED
    _SHARED = (config, search, props, args.workers)
    if args.workers == 1:
        shares = [_check_share(0)]
    else:
        with multiprocessing.get_context("fork").Pool(args.workers) as pool:
            shares = pool.map(_check_share, range(args.workers))
    crowded = sum(share[0] for share in shares)
    orders = sum(share[1] for share in shares)
    found = [line for share in shares for line in share[2]]
    seconds = time.perf_counter() - started
    for line in found[:20]:
        print(line)
    summary = (
        f"{search.stats.states:,} states ({'exhausted' if search.stats.complete else 'budget'}), "
        f"{crowded:,} with two or more dying conntracks, {orders:,} other orders checked against "
        f"{len(props)} entries and the liveness judgements: {len(found)} differences, "
        f"{seconds:.0f} s, peak {_peak_mib():,.0f} MiB"
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


def _check_share(worker: int) -> tuple[int, int, list[str]]:
    """Check every crowded state whose rank among the crowded is `worker` modulo the workers:
    (crowded states checked, other orders checked, differences)."""
    assert _SHARED is not None
    config, search, props, workers = _SHARED
    crowded_states = [state for state in search.states if len(state.kernel.dying) > 1]
    mine = crowded_states[worker::workers]
    who = f"worker {worker}: " if workers > 1 else ""
    orders = 0
    found: list[str] = []
    for done, state in enumerate(mine, 1):
        orders += math.factorial(len(state.kernel.dying)) - 1
        found += differences(config, state, props)
        if done % PROGRESS == 0:
            print(
                f"  {who}{done:,} of {len(mine):,} crowded states checked, "
                f"{len(found)} differences",
                file=sys.stderr,
                flush=True,
            )
    return len(mine), orders, found


def _peak_mib() -> float:
    """The peak resident set size of this process or of its largest worker, in MiB."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return max(peak_rss_mib(), children)


def _record(path: Path, command: str, figure: str) -> None:
    record_row(path, "measured", "what", {"what": WHAT, "command": command, "figure": figure})


if __name__ == "__main__":
    sys.exit(main())
