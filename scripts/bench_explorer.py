"""Explorer benchmark: distinct states per second, time and peak memory on the reference
config, and how the state count grows with memory slots and flows, with and without symmetry
reduction. Prints Markdown tables.

Reference config (variants 2.6.31 and 6.x): 4 flows, nf_conntrack_max 3, `--slots` memory
slots (default 4: conntracks are freed and allocated again for ever, at most that many at
once), one listener with BROADCAST_ERROR and NO_ENOBUFS subscribed to new/update/destroy with a
2-message queue, retry timeout 3 ticks, conntrack timeout 2 ticks. Each search keeps the
observers of one search group (see `nfct_spec.engines.explorer.search_groups`); the row names
it. A search that reaches `--budget` states stops and is reported as not exhausted.

Slots: the reference config with 1, 2, ... slots (obligations only, the search of every
kernel-only property such as table-bound), which is where the state space grows.
`--slots-only` runs only this series, and with `--untimed` it searches each `--variants`
variant with its DESTROY retries untimed (the abstraction the reference config is exhausted
on), without the properties, to the end unless `--budget` cuts it (block `slots-untimed`).
`--listeners-only L` does the same for 1 to L copies of the reference listener on `--slots`
slots (block `listeners-untimed`).

Growth: the same listener options with a 1-message queue, limit 1, retry timeout 2, timeout 1,
two slots, for 2 to `--max-flows` flows, with and without symmetry reduction.

The `ci` suite: every member of the suite that `nfct-spec check` exhausts, per variant, with
each search group's states and time, and the liveness check of both entries on the
symmetry-reduced graph with its renamings (`nfct_spec.engines.lasso_sym`).

With `--lean`, what the reference config leaves open is set at its smallest (only NEW and
DESTROY events, a timeout of 1 tick, no userspace requests).

Partial-order reduction (`--por-only` to run only this part, `--no-por` to skip it): every
safety search of the `ci` suite, the reference config within the budget, and the reference
config with 2 slots (exhausted), each without and with the reduction, side by side; the time
with the reduction includes the unreduced search that shows its findings again.

Workers (`--workers-only`, `--no-workers`): the same searches with 1 worker (the sequential
search) and with 2 worker processes, wall time and processor time (summed over the
processes); the pool is started once, before the first search, and its start is not counted.
A first row measures the machine: one sequential search alone, then two copies of it at once
in two processes, which bounds what two workers can gain while other work shares the cores.

Every figure is also written to the figures record (docs/figures.json, or `--record`), which
the README's tables are generated from (`nfct-spec doc --update-readme README.md`): block
`ci-suite`, `reference`, `slots`, `growth`, `por` and `workers`, and the explorer's row of
`measured` when both the suite and the reference ran. The `por` and `workers` blocks say
whether the model ran compiled and the load average of the machine while they were measured.

`--untimed` searches the reference config with its DESTROY retries untimed (2.6.31's retry
timers, the 6.x worker; `explore(.., untimed=True)`; its rows say so and how the findings were
shown again).
`--variants` names the variants of the reference config's searches, and `--reference-only` runs
only those searches (a row replaces the row of the same search whatever its budget was);
`--searches` keeps only the search groups named by their observers (for example
`obligations+receipts`), to measure one without the others.

`--flows` sets the reference config's flows for its searches (`--flows 5 --slots 5`: the
five-flow, five-slot config, the reference's limit of 3 kept; its rows name the flows).

Usage: python scripts/bench_explorer.py [--slots 4] [--flows 4] [--budget 300000] [--lean]
       [--variants 2.6.31,6.x] [--reference-only] [--untimed] [--searches LEVELS]
       [--suite-only | --no-suite] [--por-only | --no-por] [--workers-only | --no-workers]
       [--slots-only [--untimed]] [--listeners-only L]
       [--record docs/figures.json]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shlex
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

from nfct_spec.docs.figures import RECORD, load_figures, record_argument, record_block, record_row
from nfct_spec.engines import lasso_sym
from nfct_spec.engines.explorer import Stats, explore, peak_rss_mib, search_groups
from nfct_spec.engines.lasso import FULL_FAIRNESS
from nfct_spec.engines.parallel import Pool
from nfct_spec.models import COMPILED
from nfct_spec.models.config import VARIANTS, Config
from nfct_spec.models.observers import OBLIGATIONS, RECEIPTS, level_name
from nfct_spec.models.presets import RELIABLE, suite
from nfct_spec.spec.catalogue import CATALOGUE
from nfct_spec.spec.fairness import LIVENESS
from nfct_spec.spec.records import Property

LISTENER = replace(RELIABLE, capacity=2)
ROOT = Path(__file__).resolve().parents[1]
COMMAND = shlex.join(["python", "scripts/bench_explorer.py", *sys.argv[1:]])


LEAN = {"event_bits": ("NEW", "DESTROY"), "ct_timeout": 1, "requesters": ()}
"""`--lean`: what the reference config leaves open, at its smallest (only NEW and DESTROY
events, a timeout of 1 tick, no userspace requests)."""


def reference(slots: int, variant: str = "2.6.31", lean: bool = False, flows: int = 4) -> Config:
    """The reference config of the benchmark (with `lean`, the smallest choices of what the
    reference leaves open; `flows` other than 4 for the larger configs of `--flows`)."""
    config = Config(
        name="reference",
        variant=variant,
        nf_conntrack_max=3,
        flows=flows,
        slots=slots,
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
        slots=2,
        listeners=(RELIABLE,),
        events_retry_timeout=2,
        ct_timeout=1,
    )


def _count(stats: Stats) -> str:
    return f"{stats.states}" if stats.complete else f"> {stats.states} (budget)"


def _groups(config: Config) -> list[tuple[int, list[Property]]]:
    props = [p for p in CATALOGUE if p.kind != "liveness" and p.expected_for(config) != "n/a"]
    return search_groups(props)


def ci_suite(record: Path) -> tuple[int, float, float, float]:
    """The table of the `ci` suite: every member's searches (one per group of observers) and
    its liveness check; written as block `ci-suite`. Returns the number of members, the total
    time, the peak memory and the states per second over every search."""
    print("## The ci suite\n")
    print("| variant | config | observers | states | transitions | depth | seconds |")
    print("|---|---|---|---|---|---|---|")
    total = 0.0
    states = 0
    searching = 0.0
    members = 0
    rows: list[dict[str, object]] = []
    for variant in ("2.6.30", "2.6.31", "6.x"):
        for config in suite("ci", variant):
            members += 1
            for level, group in _groups(config):
                e = explore(config, group, level=level)
                s = e.stats
                total += s.seconds
                states += s.states
                searching += s.seconds
                count = (
                    f"{s.states} (last witness)"
                    if not s.complete and set(e.findings) == e.checked
                    else _count(s)
                )
                print(
                    f"| {variant} | {config.name} | {level_name(level)} | {count} "
                    f"| {s.transitions} | {s.depth} | {s.seconds:.1f} |",
                    flush=True,
                )
                rows.append(
                    {
                        "variant": variant,
                        "config": config.name,
                        "observers": level_name(level),
                        "states": s.states,
                        "transitions": s.transitions,
                        "depth": s.depth,
                        "seconds": round(s.seconds, 1),
                    }
                )
            started = time.perf_counter()
            graph = lasso_sym.build_quotient(config)
            for prop_id in LIVENESS:
                lasso_sym.check_liveness(graph, FULL_FAIRNESS, prop_id)
            live = time.perf_counter() - started
            total += live
            print(
                f"| {variant} | {config.name} | liveness graph | {len(graph.states)} | | "
                f"| {live:.1f} |",
                flush=True,
            )
            rows.append(
                {
                    "variant": variant,
                    "config": config.name,
                    "observers": "liveness (obligations, renamings kept)",
                    "states": len(graph.states),
                    "transitions": None,
                    "depth": None,
                    "seconds": round(live, 1),
                }
            )
    peak = peak_rss_mib()
    rate = states / searching if searching else 0.0
    print(f"\nIn all {total:.1f} s, peak RSS {peak:.0f} MiB, {rate:,.0f} states/s.\n")
    record_block(
        record,
        "ci-suite",
        {
            "about": "The explorer's ci suite: per member, one search per group of observers "
            "(each stops once every property it checks has its finding), then the liveness "
            "check of both entries on the symmetry-reduced graph with its renamings under the "
            "full fairness set.",
            "command": COMMAND,
            "columns": [
                ["variant", "variant"],
                ["config", "config"],
                ["observers", "search"],
                ["states", "states"],
                ["transitions", "transitions"],
                ["depth", "depth"],
                ["seconds", "s"],
            ],
            "rows": rows,
            "after": "All {searches} searches take {total_seconds:.0f} s "
            "(peak {peak_rss_mib:.0f} MiB, {states_per_second:,} states/s).",
            "values": {
                "searches": len(rows),
                "total_seconds": round(total, 1),
                "peak_rss_mib": round(peak),
                "states_per_second": int(round(rate, -2)),
            },
        },
    )
    return members, total, peak, rate


PROGRESS_EVERY = 1_000_000


_printed = [-1]


def _progress(stats: Stats) -> None:
    """A line on stderr per million states of a long search (once: the search reports again
    when it ends)."""
    if stats.states % PROGRESS_EVERY == 0 and stats.states != _printed[0]:
        _printed[0] = stats.states
        print(
            f"  ... {stats.states:,} states, depth {stats.depth}, {stats.seconds:.0f} s, "
            f"{peak_rss_mib():,.0f} MiB",
            file=sys.stderr,
            flush=True,
        )


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


def _record_reference(record: Path, run: str, row: dict[str, object]) -> None:
    """Write one row of block `reference` in place of the row of the same search (`run`: the
    variant, observers and slots), whatever budget that one had; a new search is appended."""
    block = load_figures(record)["reference"]
    same = [
        i
        for i, r in enumerate(block["rows"])
        if r["run"] == run or r["run"].startswith((f"{run}, budget", f"{run} (findings"))
    ]
    at = same[0] if same else len(block["rows"])
    rows = [r for i, r in enumerate(block["rows"]) if i not in same]
    rows.insert(at - sum(1 for i in same if i < at), row)
    record_block(record, "reference", {**block, "rows": rows})


def _load() -> float:
    return round(os.getloadavg()[0], 1)


def _conditions(loads: list[float]) -> str:
    model = "compiled (mypyc)" if COMPILED else "interpreted (NFCT_SPEC_PURE=1)"
    return (
        f"the model {model}, {os.cpu_count()} cores, load average (1 min) "
        f"{min(loads)} to {max(loads)} while measuring"
    )


def _with_shown(stats: Stats) -> float:
    """The time of a search, with the unreduced search that showed its findings again."""
    return stats.seconds + (stats.shown.seconds if stats.shown is not None else 0.0)


def _rate(states: int, seconds: float) -> int:
    return int(round(states / seconds, -2)) if seconds > 0 else 0


def _por_row(run: str, plain: Stats, reduced: Stats) -> dict[str, object]:
    seconds = _with_shown(reduced)
    assert reduced.reduction is not None
    return {
        "run": run,
        "states": plain.states,
        "depth": plain.depth,
        "seconds": round(plain.seconds, 1),
        "states_per_second": _rate(plain.states, plain.seconds),
        "por_states": reduced.states,
        "por_depth": reduced.depth,
        "por_seconds": round(seconds, 1),
        "por_states_per_second": _rate(reduced.states, seconds),
        "por_reduced": reduced.reduction.reduced,
    }


def _print_por(row: dict[str, object]) -> None:
    print(
        f"| {row['run']} | {row['states']} | {row['depth']} | {row['seconds']} "
        f"| {row['por_states']} | {row['por_depth']} | {row['por_seconds']} "
        f"| {row['por_reduced']} |",
        flush=True,
    )


def por_figures(record: Path, budget: int, slots: int) -> None:
    """Block `por`: searches without and with partial-order reduction, side by side."""
    print("\n## Partial-order reduction\n")
    print("| run | states | depth | s | states (POR) | depth (POR) | s (POR) | reduced in |")
    print("|---|---|---|---|---|---|---|---|")
    rows: list[dict[str, object]] = []
    loads = [_load()]
    for variant in ("2.6.30", "2.6.31", "6.x"):
        plain_total, reduced_total = Stats(), Stats()
        searches = 0
        reduced_in = 0
        for config in suite("ci", variant):
            for level, group in _groups(config):
                plain = explore(config, group, level=level).stats
                reduced = explore(config, group, level=level, por=True).stats
                assert reduced.reduction is not None
                searches += 1
                reduced_in += reduced.reduction.reduced
                plain_total.states += plain.states
                plain_total.seconds += plain.seconds
                reduced_total.states += reduced.states
                reduced_total.seconds += _with_shown(reduced)
        loads.append(_load())
        row = {
            "run": f"`ci` suite, {variant}: every safety search ({searches})",
            "states": plain_total.states,
            "depth": None,
            "seconds": round(plain_total.seconds, 1),
            "states_per_second": _rate(plain_total.states, plain_total.seconds),
            "por_states": reduced_total.states,
            "por_depth": None,
            "por_seconds": round(reduced_total.seconds, 1),
            "por_states_per_second": _rate(reduced_total.states, reduced_total.seconds),
            "por_reduced": reduced_in,
        }
        rows.append(row)
        _print_por(row)
    for variant in ("2.6.31", "6.x"):
        config = reference(slots, variant)
        for level, group in _groups(config):
            plain = explore(config, group, max_states=budget, level=level).stats
            reduced = explore(config, group, max_states=budget, level=level, por=True).stats
            done = "exhausted" if plain.complete else f"budget {budget:,}"
            run = f"reference, {variant}, {level_name(level)}, {slots} slots, {done}"
            rows.append(_por_row(run, plain, reduced))
            _print_por(rows[-1])
            loads.append(_load())
        config = reference(2, variant)
        for level in (OBLIGATIONS, OBLIGATIONS | RECEIPTS):
            group = dict(_groups(config))[level]
            plain = explore(config, group, max_states=budget, level=level).stats
            reduced = explore(config, group, max_states=budget, level=level, por=True).stats
            done = "exhausted" if plain.complete else f"budget {budget:,}"
            run = f"reference, {variant}, {level_name(level)}, 2 slots, {done}"
            rows.append(_por_row(run, plain, reduced))
            _print_por(rows[-1])
            loads.append(_load())
    record_block(
        record,
        "por",
        {
            "about": "Searches without and with partial-order reduction (`--reduction por`), "
            "side by side; the time with it includes the unreduced search that shows its "
            "findings again. 'reduced in': the states expanded with a reduced set of steps.",
            "command": COMMAND,
            "columns": [
                ["run", "run"],
                ["states", "states"],
                ["depth", "depth"],
                ["seconds", "s"],
                ["states_per_second", "states/s"],
                ["por_states", "states (POR)"],
                ["por_depth", "depth (POR)"],
                ["por_seconds", "s (POR)"],
                ["por_states_per_second", "states/s (POR)"],
                ["por_reduced", "reduced in"],
            ],
            "rows": rows,
            "after": "Measured with {conditions}.",
            "values": {"conditions": _conditions(loads)},
        },
    )


def _worker_row(run: str, alone: Stats, shared: Stats) -> dict[str, object]:
    return {
        "run": run,
        "states": alone.states,
        "seconds_1": round(alone.seconds, 1),
        "seconds_2": round(shared.seconds, 1),
        "speedup": f"{alone.seconds / shared.seconds:.2f}" if shared.seconds else None,
        "cpu_1": round(alone.cpu_seconds, 1),
        "cpu_2": round(shared.cpu_seconds, 1),
    }


def _reference_search(slots: int) -> float:
    """The 2.6.31 reference config's obligations search, exhausted: its wall time."""
    config = reference(slots, "2.6.31")
    group = dict(_groups(config))[OBLIGATIONS]
    return explore(config, group, level=OBLIGATIONS).stats.seconds


def _load_now(_: int) -> float:
    return _load()


def _ceiling(slots: int) -> dict[str, object]:
    """What the machine gives two processes at once: the same sequential search alone, then
    twice at the same time in two processes (what two workers could reach at best)."""
    alone = _reference_search(slots)
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as executor:
        list(executor.map(_load_now, range(2)))  # the processes are up before the clock
        started = time.perf_counter()
        both = list(executor.map(_reference_search, [slots, slots]))
        elapsed = time.perf_counter() - started
    return {
        "run": f"the machine: the reference search ({slots} slots, obligations) alone, then "
        f"twice at once in two processes (each took {min(both):.1f} to {max(both):.1f} s)",
        "states": None,
        "seconds_1": round(alone, 1),
        "seconds_2": round(elapsed, 1),
        "speedup": f"{2 * alone / elapsed:.2f}",
        "cpu_1": None,
        "cpu_2": None,
    }


def worker_figures(record: Path, budget: int) -> None:
    """Block `workers`: the sequential search against two worker processes, after what the
    machine gives two independent processes at once (the ceiling of two workers)."""
    print("\n## One worker against two\n")
    print("| run | states | s, 1 worker | s, 2 workers | speed-up | CPU s, 1 | CPU s, 2 |")
    print("|---|---|---|---|---|---|---|")
    rows: list[dict[str, object]] = []
    loads = [_load()]

    def show(row: dict[str, object]) -> None:
        rows.append(row)
        loads.append(_load())
        print(
            f"| {row['run']} | {row['states']} | {row['seconds_1']} | {row['seconds_2']} "
            f"| {row['speedup']} | {row['cpu_1']} | {row['cpu_2']} |",
            flush=True,
        )

    show(_ceiling(2))
    with Pool(2) as pool:
        alone_total, shared_total = Stats(), Stats()
        searches = 0
        for variant in ("2.6.30", "2.6.31", "6.x"):
            for config in suite("ci", variant):
                for level, group in _groups(config):
                    alone = explore(config, group, level=level).stats
                    shared = explore(config, group, level=level, pool=pool).stats
                    searches += 1
                    for total, one in ((alone_total, alone), (shared_total, shared)):
                        total.states += one.states
                        total.seconds += one.seconds
                        total.cpu_seconds += one.cpu_seconds
        run = f"`ci` suite: every safety search ({searches})"
        show(_worker_row(run, alone_total, shared_total))
        config = next(c for c in suite("ci", "2.6.31") if c.name == "ci.expectations")
        group = dict(_groups(config))[OBLIGATIONS | RECEIPTS]
        alone = explore(config, group, level=OBLIGATIONS | RECEIPTS).stats
        shared = explore(config, group, level=OBLIGATIONS | RECEIPTS, pool=pool).stats
        show(_worker_row("2.6.31 ci.expectations, obligations+receipts", alone, shared))
        for slots in (2, 4):
            config = reference(slots, "2.6.31")
            group = dict(_groups(config))[OBLIGATIONS]
            alone = explore(config, group, max_states=budget, level=OBLIGATIONS).stats
            shared = explore(config, group, max_states=budget, level=OBLIGATIONS, pool=pool).stats
            done = "exhausted" if alone.complete else f"budget {budget:,}"
            run = f"reference, 2.6.31, obligations, {slots} slots, {done}"
            show(_worker_row(run, alone, shared))
    record_block(
        record,
        "workers",
        {
            "about": "The same searches with 1 worker (the sequential search) and with 2 "
            "worker processes (`--workers 2`); processor time summed over the processes. The "
            "pool is started once and its start is not counted. The first row measures the "
            "machine itself: one sequential search alone, then two copies of it at once in "
            "two processes (2 x alone / both: what two workers could gain at best while "
            "other work shares the cores).",
            "command": COMMAND,
            "columns": [
                ["run", "run"],
                ["states", "states"],
                ["seconds_1", "s, 1 worker"],
                ["seconds_2", "s, 2 workers"],
                ["speedup", "speed-up"],
                ["cpu_1", "CPU s, 1 worker"],
                ["cpu_2", "CPU s, 2 workers"],
            ],
            "rows": rows,
            "after": "Measured with {conditions}.",
            "values": {"conditions": _conditions(loads)},
        },
    )


def main() -> None:
    """Run the benchmark, print the tables and write them to the figures record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--budget", type=int, default=300_000)
    parser.add_argument("--max-flows", type=int, default=5)
    parser.add_argument(
        "--flows",
        type=int,
        default=4,
        help="flows of the reference config's searches (default 4; for example --flows 5 "
        "--slots 5 for the five-flow, five-slot config)",
    )
    parser.add_argument(
        "--variants",
        default="2.6.31,6.x",
        help="the variants of the reference config, comma-separated (default 2.6.31,6.x)",
    )
    parser.add_argument(
        "--reference-only",
        action="store_true",
        help="only the reference config's searches (no slot and flow series, POR or workers)",
    )
    parser.add_argument(
        "--untimed",
        action="store_true",
        help="search the reference config with `untimed=True` (DESTROY retries untimed, "
        "findings shown again with timed retries)",
    )
    parser.add_argument(
        "--searches",
        default="",
        help="the reference config's search groups to run, by their observers, comma-separated "
        "(for example obligations+receipts; default every group)",
    )
    parser.add_argument("--suite-only", action="store_true", help="only the ci suite table")
    parser.add_argument("--no-suite", action="store_true", help="skip the ci suite table")
    parser.add_argument(
        "--lean",
        action="store_true",
        help="reference config with only NEW and DESTROY, timeout 1, no userspace requests",
    )
    parser.add_argument(
        "--record", type=record_argument, default=ROOT / RECORD, help="the figures record to write"
    )
    parser.add_argument(
        "--slots-only",
        action="store_true",
        help="only the state count by memory slots (with --untimed: per variant, retries untimed)",
    )
    parser.add_argument(
        "--listeners-only",
        type=int,
        metavar="L",
        help="only the state count by listeners, 1 to L of them (retries untimed, per variant)",
    )
    parser.add_argument("--por-only", action="store_true", help="only the POR comparison")
    parser.add_argument("--no-por", action="store_true", help="skip the POR comparison")
    parser.add_argument(
        "--workers-only", action="store_true", help="only the 1 against 2 workers comparison"
    )
    parser.add_argument(
        "--no-workers", action="store_true", help="skip the 1 against 2 workers comparison"
    )
    args = parser.parse_args()
    if args.flows < 1 or args.slots < 1:
        parser.error(f"--flows and --slots must be at least 1, got {args.flows} and {args.slots}")
    variants = args.variants.split(",")
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variant {', '.join(unknown)} (one of {', '.join(VARIANTS)})")

    if args.listeners_only is not None:
        if args.listeners_only < 1:
            parser.error(f"--listeners-only must be at least 1, got {args.listeners_only}")
        listener_series(args.record, args.slots, args.listeners_only, args.budget, variants)
        print(f"\nwrote the figures to {args.record}")
        return
    if args.slots_only:
        if args.untimed:
            untimed_slot_series(args.record, args.slots, args.budget, variants)
        else:
            slot_series(args)
        print(f"\nwrote the figures to {args.record}")
        return
    if args.por_only or args.workers_only:
        if args.por_only:
            por_figures(args.record, args.budget, args.slots)
        if args.workers_only:
            worker_figures(args.record, args.budget)
        print(f"\nwrote the figures to {args.record}")
        return
    skip_suite = args.no_suite or args.reference_only
    suite_figures = None if skip_suite else ci_suite(args.record)
    if args.suite_only:
        return

    lean = ", lean" if args.lean else ""
    flows = f", {args.flows} flows" if args.flows != 4 else ""
    print(f"## Reference config ({args.slots} slots{flows}{lean}, budget {args.budget:,})\n")
    print("| variant | observers | exhausted | states | transitions | depth | seconds | states/s |")
    print("|---|---|---|---|---|---|---|---|")
    rates: list[float] = []
    exhausted = True
    wanted = {name for name in args.searches.split(",") if name}
    for variant in variants:
        config = reference(args.slots, variant, args.lean, args.flows)
        groups = _groups(config)
        named = {level_name(level) for level, _ in groups}
        if wanted - named:
            parser.error(
                f"no search group {', '.join(sorted(wanted - named))} "
                f"(the groups: {', '.join(sorted(named))})"
            )
        for level, group in groups:
            if wanted and level_name(level) not in wanted:
                continue
            s = explore(
                config,
                group,
                max_states=args.budget,
                level=level,
                progress=_progress,
                untimed=args.untimed,
            ).stats
            rates.append(s.states_per_second)
            exhausted &= s.complete
            print(
                f"| {variant} | {level_name(level)} | {'yes' if s.complete else 'no'} "
                f"| {s.states} | {s.transitions} | {s.depth} | {s.seconds:.1f} "
                f"| {s.states_per_second:.0f} |",
                flush=True,
            )
            run = f"{variant}, {level_name(level)}, {args.slots} slots{flows}{lean}"
            if s.abstraction is not None:
                run = f"{run}, {s.abstraction}"
            label = run if s.complete else f"{run}, budget {args.budget:,}"
            if s.shown is not None:
                shown = "exhausted" if s.shown.complete else "stopped at the last finding"
                label += (
                    f" (findings shown without it: {s.shown.states:,} states, "
                    f"{s.shown.seconds:.0f} s, {shown})"
                )
            _record_reference(args.record, run, _reference_row(label, s, peak_rss_mib()))
    if args.reference_only:
        print(f"\nwrote the figures to {args.record}")
        return
    slot_series(args)
    growth_series(args)
    if suite_figures is not None:
        members, total, peak, rate = suite_figures
        figure = (
            f"the `ci` suite: all {members} configs (3 variants) exhausted in {total:.0f} s, "
            f"{peak:.0f} MiB, {rate:,.0f} states/s with every catalogue entry checked; the "
            f"reference config ({args.slots} slots) is {'' if exhausted else 'not '}exhausted "
            f"within {args.budget:,} states per search"
        )
        row = {"what": "the explorer benchmark", "command": COMMAND, "figure": figure}
        record_row(args.record, "measured", "what", row)
    if not args.no_por:
        por_figures(args.record, args.budget, args.slots)
    if not args.no_workers:
        worker_figures(args.record, args.budget)
    print(f"\nwrote the figures to {args.record}")


def slot_series(args: argparse.Namespace) -> None:
    """The reference config (2.6.31) with 1 to `--slots` memory slots, obligations only,
    within the budget (block `slots`)."""
    print("\n## State count by memory slots (reference config, obligations only)\n")
    print("| slots | states | transitions | depth | seconds |")
    print("|---|---|---|---|---|")
    slot_rows: list[dict[str, object]] = []
    for slots in range(1, args.slots + 1):
        config = reference(slots, "2.6.31", args.lean)
        a = explore(config, [], max_states=args.budget, level=OBLIGATIONS).stats
        print(
            f"| {slots} | {_count(a)} | {a.transitions} | {a.depth} | {a.seconds:.1f} |",
            flush=True,
        )
        slot_rows.append(
            {
                "slots": slots,
                "exhausted": a.complete,
                "states": a.states if a.complete else f"more than {a.states:,} (the budget)",
                "depth": a.depth if a.complete else f"beyond {a.depth}",
                "seconds": round(a.seconds, 1),
            }
        )
    record_block(
        args.record,
        "slots",
        {
            "about": "The reference config (2.6.31) with N memory slots, obligations only: "
            "where the state space grows.",
            "command": COMMAND,
            "columns": [
                ["slots", "reference config, N slots"],
                ["states", "states"],
                ["depth", "depth"],
                ["seconds", "s"],
            ],
            "rows": slot_rows,
        },
    )


def untimed_slot_series(record: Path, slots: int, budget: int, variants: list[str]) -> None:
    """The reference config of each variant with 1 to `slots` memory slots (block
    `slots-untimed`): how the state space the reference config is exhausted on grows with the
    conntracks that can exist at once."""
    runs = [
        (variant, count, reference(count, variant))
        for variant in variants
        for count in range(1, slots + 1)
    ]
    untimed_series(
        record,
        "slots-untimed",
        "The reference config with N memory slots",
        ("slots", "N slots"),
        runs,
        budget,
    )


def listener_series(
    record: Path, slots: int, listeners: int, budget: int, variants: list[str]
) -> None:
    """The reference config of each variant with `slots` memory slots and 1 to `listeners`
    copies of its listener (block `listeners-untimed`): how the state space grows with the
    sockets events go to."""
    runs = [
        (
            variant,
            count,
            reference(slots, variant).with_(
                listeners=tuple(replace(LISTENER, name=f"listener{i}") for i in range(count))
            ),
        )
        for variant in variants
        for count in range(1, listeners + 1)
    ]
    untimed_series(
        record,
        "listeners-untimed",
        f"The reference config with {slots} memory slots and N copies of its listener",
        ("listeners", "N listeners"),
        runs,
        budget,
    )


def untimed_series(
    record: Path,
    block: str,
    what: str,
    column: tuple[str, str],
    runs: list[tuple[str, int, Config]],
    budget: int,
) -> None:
    """Search each config of `runs` (variant, N, config) with its DESTROY retries untimed,
    obligations kept and no property judged, to the end unless `budget` cuts it; print a row
    each and write block `block` (`column`: the key and label of N). Peak memory is printed,
    not recorded: it is the process's so far, and the searches run one after the other."""
    key, label = column
    print(f"\n## {what}, retries untimed, obligations kept\n")
    print(f"| variant | {key} | states | transitions | depth | seconds | states/s | peak MiB |")
    print("|---|---|---|---|---|---|---|---|")
    rows: list[dict[str, object]] = []
    loads = [_load()]
    for variant, count, config in runs:
        a = explore(
            config, [], max_states=budget, level=OBLIGATIONS, untimed=True, progress=_progress
        ).stats
        loads.append(_load())
        print(
            f"| {variant} | {count} | {_count(a)} | {a.transitions} | {a.depth} "
            f"| {a.seconds:.1f} | {a.states_per_second:,.0f} | {peak_rss_mib():,.0f} |",
            flush=True,
        )
        rows.append(
            {
                "variant": variant,
                key: count,
                "states": a.states if a.complete else f"more than {a.states:,} (the budget)",
                "transitions": a.transitions,
                "depth": a.depth if a.complete else f"beyond {a.depth}",
                "seconds": round(a.seconds, 1),
                "rate": int(round(a.states_per_second, -2)),
            }
        )
    record_block(
        record,
        block,
        {
            "about": f"{what}, DESTROY retries untimed, obligations kept, no property judged.",
            "command": COMMAND,
            "after": "Measured with {conditions}.",
            "values": {"conditions": _conditions(loads)},
            "columns": [
                ["variant", "variant"],
                [key, label],
                ["states", "states"],
                ["transitions", "transitions"],
                ["depth", "depth"],
                ["seconds", "s"],
                ["rate", "states/s"],
            ],
            "rows": rows,
        },
    )


def growth_series(args: argparse.Namespace) -> None:
    """The growth config for 2 to `--max-flows` flows, with and without symmetry (block
    `growth`)."""
    print("\n## State count by number of flows (growth config, obligations only)\n")
    print("| flows | reduced | seconds | unreduced | seconds | ratio |")
    print("|---|---|---|---|---|---|")
    growth_rows: list[dict[str, object]] = []
    for flows in range(2, args.max_flows + 1):
        config = growth(flows)
        reduced = explore(config, [], max_states=args.budget, level=OBLIGATIONS).stats
        full = explore(config, [], max_states=args.budget, symmetry=False, level=OBLIGATIONS).stats
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
            "about": "The growth config (2.6.31, two slots, obligations only) for 2 to "
            f"{args.max_flows} flows, with and without symmetry reduction.",
            "command": COMMAND,
            "columns": [
                ["flows", "flows"],
                ["reduced", "states (reduced)"],
                ["unreduced", "states without reductions"],
            ],
            "rows": growth_rows,
        },
    )


if __name__ == "__main__":
    main()
