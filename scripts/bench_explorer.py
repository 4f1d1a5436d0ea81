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

Every figure is also written to the figures record (docs/figures.json, or `--record`), which
the README's tables are generated from (`nfct-spec doc --update-readme README.md`) and
tests/explorer/test_suite.py reads its pinned counts from: block `ci-suite` (the suite),
`reference` (one row per reference run, and per lean allocation bound), `allocations` and
`growth`, and the explorer's row of `measured` when both the suite and the reference ran.

Usage: python scripts/bench_explorer.py [--max-conntracks 4] [--budget 300000] [--lean]
       [--suite-only | --no-suite] [--record docs/figures.json]
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path

from nfct_spec.docs.figures import RECORD, record_block, record_row
from nfct_spec.engines.explorer import Stats, explore, peak_rss_mib
from nfct_spec.engines.lasso import FULL_FAIRNESS, build_graph, check_liveness
from nfct_spec.models.config import Config
from nfct_spec.models.presets import RELIABLE, suite
from nfct_spec.spec.catalogue import CATALOGUE

LISTENER = replace(RELIABLE, capacity=2)
ROOT = Path(__file__).resolve().parents[1]
COMMAND = shlex.join(["python", "scripts/bench_explorer.py", *sys.argv[1:]])


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


def ci_suite(record: Path) -> tuple[int, float, float]:
    """The table of the `ci` suite: every member exhausted, safety and liveness timed; written
    as block `ci-suite`. Returns the number of members, the total time and the peak memory."""
    print("## The ci suite\n")
    print("| variant | config | states | transitions | depth | seconds | unreduced | seconds |")
    print("|---|---|---|---|---|---|---|---|")
    total = 0.0
    rows: list[dict[str, object]] = []
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
            rows.append(
                {
                    "variant": variant,
                    "config": config.name,
                    "states": s.states,
                    "transitions": s.transitions,
                    "depth": s.depth,
                    "seconds": round(s.seconds, 1),
                    "unreduced_states": len(graph.states),
                    "liveness_seconds": round(live, 1),
                }
            )
    peak = peak_rss_mib()
    print(f"\nIn all {total:.1f} s, peak RSS {peak:.0f} MiB.\n")
    record_block(
        record,
        "ci-suite",
        {
            "about": "The explorer's ci suite: every member exhausted; the reduced search with "
            "every catalogue entry checked, then the unreduced graph with the liveness check "
            "under the full fairness set. tests/explorer/test_suite.py pins states, "
            "transitions and depth.",
            "command": COMMAND,
            "columns": [
                ["variant", "variant"],
                ["config", "config"],
                ["states", "states"],
                ["transitions", "transitions"],
                ["depth", "depth"],
                ["seconds", "s"],
                ["unreduced_states", "unreduced states"],
                ["liveness_seconds", "liveness s"],
            ],
            "rows": rows,
            "after": "All {searches} searches take {total_seconds:.0f} s "
            "(peak {peak_rss_mib:.0f} MiB).",
            "values": {
                "searches": len(rows),
                "total_seconds": round(total, 1),
                "peak_rss_mib": round(peak),
            },
        },
    )
    return len(rows), total, peak


def _allocations(bound: int) -> str:
    return f"at most {bound} allocation{'' if bound == 1 else 's'}"


def _reference_row(run: str, stats: Stats, peak: float | None) -> dict[str, object]:
    return {
        "run": run,
        "command": COMMAND,
        "exhausted": stats.complete,
        "states": stats.states,
        "transitions": stats.transitions,
        "depth": stats.depth,
        "seconds": round(stats.seconds, 1),
        "states_per_second": int(round(stats.states_per_second, -2)),
        "peak_rss_mib": None if peak is None else round(peak),
    }


def main() -> None:
    """Run the benchmark, print the tables and write them to the figures record."""
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
    parser.add_argument(
        "--record", type=Path, default=ROOT / RECORD, help="the figures record to write"
    )
    args = parser.parse_args()

    suite_figures = None if args.no_suite else ci_suite(args.record)
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
    label = f"{'lean, ' if args.lean else ''}{_allocations(args.max_conntracks)}"
    if not s.complete:
        label += f", budget {args.budget:,}"
    record_row(args.record, "reference", "run", _reference_row(label, s, peak_rss_mib()))
    print("\n## State count by allocation bound (reference config)\n")
    print("| max allocations | states | transitions | depth | seconds |")
    print("|---|---|---|---|---|")
    allocations: list[dict[str, object]] = []
    for bound in range(1, args.max_conntracks):
        a = explore(reference(bound, args.lean), CATALOGUE, max_states=args.budget).stats
        print(
            f"| {bound} | {_count(a)} | {a.transitions} | {a.depth} | {a.seconds:.1f} |",
            flush=True,
        )
        if args.lean:
            row = _reference_row(f"lean, {_allocations(bound)}", a, None)
            record_row(args.record, "reference", "run", row)
        allocations.append(
            {
                "max_conntracks": bound,
                "exhausted": a.complete,
                "states": a.states if a.complete else f"more than {a.states:,} (the budget)",
                "states_reached": a.states,
                "transitions": a.transitions,
                "depth": a.depth if a.complete else None,
                "seconds": round(a.seconds, 1),
            }
        )
    if not args.lean:
        record_block(
            args.record,
            "allocations",
            {
                "about": "The reference config with at most N allocations: where the state "
                "space explodes.",
                "command": COMMAND,
                "columns": [
                    ["max_conntracks", "reference config, at most N allocations"],
                    ["states", "states"],
                    ["depth", "depth"],
                ],
                "rows": allocations,
            },
        )
    print("\n## State count by number of flows (growth config)\n")
    print("| flows | reduced | seconds | unreduced | seconds | ratio |")
    print("|---|---|---|---|---|---|")
    growth_rows: list[dict[str, object]] = []
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
        growth_rows.append(
            {
                "flows": flows,
                "reduced": reduced.states if reduced.complete else _count(reduced),
                "unreduced": full.states if full.complete else _count(full),
                "reduced_seconds": round(reduced.seconds, 1),
                "unreduced_seconds": round(full.seconds, 1),
            }
        )
    record_block(
        args.record,
        "growth",
        {
            "about": "The growth config (the pinned test config, 2.6.31, at most 2 "
            "allocations) for 2 to 5 flows, with and without symmetry reduction.",
            "command": COMMAND,
            "columns": [
                ["flows", "flows"],
                ["reduced", "states (reduced)"],
                ["unreduced", "states without reductions"],
            ],
            "rows": growth_rows,
        },
    )
    if suite_figures is not None:
        members, total, peak = suite_figures
        figure = (
            f"the `ci` suite: all {members} configs (3 variants) exhausted in {total:.0f} s, "
            f"{peak:.0f} MiB; {s.states_per_second:,.0f} states/s with every catalogue entry "
            f"checked; the reference config is {'' if s.complete else 'not '}exhausted "
            "(see above)"
        )
        row = {"what": "the explorer benchmark", "command": COMMAND, "figure": figure}
        record_row(args.record, "measured", "what", row)
    print(f"\nwrote the figures to {args.record}")


if __name__ == "__main__":
    main()
