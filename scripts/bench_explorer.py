"""Explorer benchmark: distinct states per second, time and peak memory on the reference
config, and how the state count grows with the number of flows, with and without symmetry
reduction. Prints Markdown tables.

Reference config (variant 2.6.31): 4 flows, nf_conntrack_max 3, one listener with
BROADCAST_ERROR and NO_ENOBUFS subscribed to new/update/destroy with a 2-message queue, retry
timeout 3 ticks, conntrack timeout 2 ticks, at most `--max-conntracks` allocations per run. A
search that reaches `--budget` states stops and is reported as not exhausted.

Growth: the same listener options with a 1-message queue, limit 1, retry timeout 2, timeout 1,
at most 2 allocations, for 2 to 5 flows.

Allocations: the reference config with at most 1, 2, ... allocations, which is where the state
space explodes (every live conntrack brings its own timers, event bits and queued messages).

The `ci` suite: every member of the suite that `nfct-spec check` exhausts, per variant, with
the time of the reduced search (every catalogue entry checked) and of the liveness check on the
unreduced graph (broken obligations and fair lassos under the full fairness set).

With `--lean`, what the reference config leaves open is set at its smallest (only NEW and
DESTROY events, a timeout of 1 tick, no userspace requests).

Usage: python scripts/bench_explorer.py [--max-conntracks 4] [--budget 300000] [--lean]
       [--suite-only | --no-suite]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from nfct_spec.engines.explorer import Stats, explore, peak_rss_mib
from nfct_spec.engines.lasso import FULL_FAIRNESS, build_graph, check_liveness
from nfct_spec.models.config import Config
from nfct_spec.models.presets import RELIABLE, suite
from nfct_spec.spec.catalogue import CATALOGUE

LISTENER = replace(RELIABLE, capacity=2)


LEAN = {"event_bits": ("NEW", "DESTROY"), "ct_timeout": 1, "requesters": ()}
"""`--lean`: what the reference config leaves open, at its smallest (only NEW and DESTROY
events, a timeout of 1 tick, no userspace requests)."""


def reference(max_conntracks: int, lean: bool = False) -> Config:
    """The reference config of the benchmark (with `lean`, the smallest choices of what the
    reference leaves open)."""
    config = Config(
        name="reference",
        variant="2.6.31",
        nf_conntrack_max=3,
        flows=4,
        max_conntracks=max_conntracks,
        listeners=(LISTENER,),
        events_retry_timeout=3,
        ct_timeout=2,
    )
    return config.with_(**LEAN) if lean else config


def growth(flows: int) -> Config:
    """The growth series config for `flows` flows."""
    return Config(
        name="growth",
        variant="2.6.31",
        nf_conntrack_max=1,
        flows=flows,
        max_conntracks=2,
        listeners=(RELIABLE,),
        events_retry_timeout=2,
        ct_timeout=1,
    )


def _count(stats: Stats) -> str:
    return f"{stats.states}" if stats.complete else f"> {stats.states} (budget)"


def ci_suite() -> None:
    """The table of the `ci` suite: every member exhausted, safety and liveness timed."""
    print("## The ci suite\n")
    print("| variant | config | states | transitions | depth | seconds | unreduced | seconds |")
    print("|---|---|---|---|---|---|---|---|")
    total = 0.0
    for variant in ("2.6.30", "2.6.31", "6.x"):
        for config in suite("ci", variant):
            s = explore(config, CATALOGUE).stats
            started = time.perf_counter()
            graph = build_graph(config)
            check_liveness(graph, FULL_FAIRNESS)
            live = time.perf_counter() - started
            total += s.seconds + live
            print(
                f"| {variant} | {config.name} | {s.states} | {s.transitions} | {s.depth} "
                f"| {s.seconds:.1f} | {len(graph.states)} | {live:.1f} |",
                flush=True,
            )
    print(f"\nIn all {total:.1f} s, peak RSS {peak_rss_mib():.0f} MiB.\n")


def main() -> None:
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-conntracks", type=int, default=4)
    parser.add_argument("--budget", type=int, default=300_000)
    parser.add_argument("--max-flows", type=int, default=5)
    parser.add_argument("--suite-only", action="store_true", help="only the ci suite table")
    parser.add_argument("--no-suite", action="store_true", help="skip the ci suite table")
    parser.add_argument(
        "--lean",
        action="store_true",
        help="reference config with only NEW and DESTROY, timeout 1, no userspace requests",
    )
    args = parser.parse_args()

    if not args.no_suite:
        ci_suite()
    if args.suite_only:
        return

    ref = explore(reference(args.max_conntracks, args.lean), CATALOGUE, max_states=args.budget)
    s = ref.stats
    lean = ", lean" if args.lean else ""
    print(
        f"## Reference config (max_conntracks {args.max_conntracks}{lean}, budget {args.budget})\n"
    )
    print("| exhausted | states | transitions | depth | seconds | states/s | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {'yes' if s.complete else 'no'} | {s.states} | {s.transitions} | {s.depth} "
        f"| {s.seconds:.1f} | {s.states_per_second:.0f} | {peak_rss_mib():.0f} |"
    )
    print("\n## State count by allocation bound (reference config)\n")
    print("| max allocations | states | transitions | depth | seconds |")
    print("|---|---|---|---|---|")
    for allocations in range(1, args.max_conntracks):
        a = explore(reference(allocations, args.lean), CATALOGUE, max_states=args.budget).stats
        print(
            f"| {allocations} | {_count(a)} | {a.transitions} | {a.depth} | {a.seconds:.1f} |",
            flush=True,
        )
    print("\n## State count by number of flows (growth config)\n")
    print("| flows | reduced | seconds | unreduced | seconds | ratio |")
    print("|---|---|---|---|---|---|")
    for flows in range(2, args.max_flows + 1):
        config = growth(flows)
        reduced = explore(config, CATALOGUE, max_states=args.budget).stats
        full = explore(config, CATALOGUE, max_states=args.budget, symmetry=False).stats
        ratio = f"{full.states / reduced.states:.2f}" if full.complete else "-"
        print(
            f"| {flows} | {_count(reduced)} | {reduced.seconds:.1f} "
            f"| {_count(full)} | {full.seconds:.1f} | {ratio} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
