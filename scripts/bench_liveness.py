"""Liveness benchmark: the lasso search of `destroy-eventually` and `expiry-eventually` on the
reference config (`scripts/bench_explorer.py`), on the symmetry-reduced graph whose edges keep
their renamings (`nfct_spec.engines.lasso_sym`, what `nfct-spec explore` runs).

Per variant and slot count: the graph (states, transitions, seconds, peak memory, exhausted or
not within `--budget`), each liveness entry under the full fairness set (its verdict and the
seconds of its search), and the lasso of `destroy-eventually` under each fairness set with one
record dropped (its length, or none). With `--unreduced`, also the unreduced graph's state
count within the same budget, for the size of the reduction, and whether the unreduced lasso
search agrees (a broken obligation and a fair lasso exactly where this one finds them, for
both entries under every fairness set). With `--untimed`, the graph is that of the config with
its DESTROY retries untimed (`Config.retry_untimed`, read as `nfct_spec.engines.lasso` says
under "Untimed retries"), and `--timed` adds whether the search of the config as it is agrees
(when its graph fits the budget). `--no-weaker` leaves out the lassos of the weaker fairness
sets (on the untimed four-slot 2.6.31 graph one of them needs more memory than this machine
has). `--weaker-elsewhere` searches them without the
measured config's own graph, as `nfct-spec explore --reduction untimed` does when it decides
every entry on the untimed graph (`nfct_spec.engines.lasso_transfer.Elsewhere`): a lasso of
the config as it is (timed) with fewer slots, replayed and judged fair on the measured config
as it is, or else a state where that config stutters for ever, searched breadth-first on it;
a set with neither may still have a lasso whose cycle moves, and the row says so.

Rows go to block `liveness` of the figures record (docs/figures.json, or `--record`), keyed by
run: a run replaces the row of the same variant and slots. Each variant runs in a process of
its own (its peak memory is its own).

`--kept-order` also builds the graph that keeps the dying list's order (2.6.31 sorts it where
nothing reads it, `nfct_spec.engines.lasso_sym`) and says whether its search agrees the same
way, with its state count.

Usage: python scripts/bench_liveness.py [--variants 2.6.31,6.x] [--slots 2] [--budget N]
       [--unreduced] [--untimed [--timed]] [--no-weaker | --weaker-elsewhere] [--kept-order]
       [--record docs/figures.json]
"""

from __future__ import annotations

import argparse
import multiprocessing
import shlex
import sys
import time
from concurrent.futures import ProcessPoolExecutor

from bench_explorer import reference

from nfct_spec.docs.figures import RECORD, load_figures, record_argument, record_block, record_row
from nfct_spec.engines import lasso, lasso_sym, lasso_transfer
from nfct_spec.engines.explorer import peak_rss_mib
from nfct_spec.spec.fairness import LIVENESS

BLOCK = "liveness"
COLUMNS = [
    ["run", "run"],
    ["command", "command", "code"],
    ["exhausted", "exhausted"],
    ["states", "states"],
    ["unreduced", "unreduced states"],
    ["agrees", "unreduced search agrees"],
    ["timed", "search of the timed config agrees"],
    ["kept", "search keeping the dying-list order agrees"],
    ["transitions", "transitions"],
    ["graph_seconds", "graph s"],
    ["destroy", "destroy-eventually"],
    ["expiry", "expiry-eventually"],
    ["lassos", "lassos without one record (steps)"],
    ["seconds", "s in all"],
    ["peak_mib", "peak MiB"],
]


def _verdict(outcome: lasso.LivenessOutcome, seconds: float) -> str:
    found = lasso.liveness_verdict(outcome, "holds")[0]
    return f"{found} ({seconds:.0f} s)"


def measure(
    variant: str,
    slots: int,
    budget: int,
    unreduced: bool,
    untimed: bool = False,
    timed: bool = False,
    weaker: bool = True,
    weaker_elsewhere: bool = False,
    kept_order: bool = False,
) -> dict[str, object]:
    """One row: the graph, both entries under the full fairness set, the weaker lassos."""
    config = reference(slots, variant)
    if untimed:
        config = config.with_(retry_untimed=True)
    started = time.perf_counter()

    def progress(states: int) -> None:
        if states % 500_000 == 0:
            print(f"  {states:,} states, {time.perf_counter() - started:.0f} s", flush=True)

    graph = lasso_sym.build_quotient(config, budget, progress=progress)
    built = time.perf_counter() - started
    print(f"{variant}, {slots} slots: {len(graph.states):,} states in {built:.0f} s", flush=True)
    verdicts: dict[str, str] = {}
    for prop_id in LIVENESS:
        at = time.perf_counter()
        outcome = lasso_sym.check_liveness(graph, lasso.FULL_FAIRNESS, prop_id)
        verdicts[prop_id] = _verdict(outcome, time.perf_counter() - at)
        print(f"  {prop_id}: {verdicts[prop_id]}", flush=True)
    lassos = []
    elsewhere = lasso_transfer.Elsewhere(config.with_(retry_untimed=False))
    for fairness in lasso.weaker_fairness_sets():
        dropped = next(f for f in lasso.FULL_FAIRNESS if f not in fairness)
        if weaker_elsewhere:
            found, how = elsewhere.lasso(fairness)
            steps = how if found is None else f"{len(found.prefix) + len(found.cycle)} ({how})"
            lassos.append(f"{dropped}: {steps}")
            print(f"  without {dropped}: {steps}", flush=True)
            continue
        if not graph.complete:
            lassos.append(f"{dropped}: not searched (budget)")
            continue
        if not weaker:
            lassos.append(f"{dropped}: not searched")
            continue
        found = lasso_sym.find_lasso(graph, fairness)
        steps = "none" if found is None else str(len(found.prefix) + len(found.cycle))
        lassos.append(f"{dropped}: {steps}")
        print(f"  without {dropped}: {steps}", flush=True)
    row: dict[str, object] = {
        "run": f"{variant}, {slots} slots"
        + (", retries untimed" if untimed else "")
        + ("" if graph.complete else f", budget {budget:,}"),
        "exhausted": "yes" if graph.complete else "no",
        "states": len(graph.states),
        "unreduced": None,
        "agrees": None,
        "timed": None,
        "kept": None,
        "transitions": graph.transitions,
        "graph_seconds": round(built, 1),
        "destroy": verdicts[LIVENESS[0]],
        "expiry": verdicts[LIVENESS[1]],
        "lassos": "; ".join(lassos),
        "seconds": round(time.perf_counter() - started, 1),
        "peak_mib": round(peak_rss_mib()),
    }
    if unreduced:
        plain = lasso.build_graph(config, budget)
        row["unreduced"] = f"{len(plain.states):,}" + ("" if plain.complete else " (budget)")
        row["agrees"] = _agreement(graph, plain) if plain.complete and graph.complete else None
    if kept_order:
        ordered = lasso_sym.build_quotient(config, budget, dying_order=True)
        row["kept"] = (
            f"{_agreement(graph, ordered)}, {len(ordered.states):,} states"
            if ordered.complete and graph.complete
            else f"not searched ({len(ordered.states):,} states, the budget)"
        )
    if untimed and timed:
        concrete = lasso_sym.build_quotient(config.with_(retry_untimed=False), budget)
        row["timed"] = (
            f"{_agreement(graph, concrete)}, {len(concrete.states):,} states"
            if concrete.complete and graph.complete
            else f"not searched ({len(concrete.states):,} states, the budget)"
        )
    return row


def _agreement(graph: lasso_sym.Quotient, plain: lasso.Graph | lasso_sym.Quotient) -> str:
    """Whether the other search (unreduced, of the timed config, or keeping the dying list's
    order) finds a broken obligation and a fair lasso exactly where this one does, for both
    entries under every fairness set."""
    cases = [
        (prop_id, fairness)
        for prop_id in LIVENESS
        for fairness in [lasso.FULL_FAIRNESS, *lasso.weaker_fairness_sets()]
    ]
    differ = []
    for prop_id, fairness in cases:
        one = lasso_sym.check_liveness(graph, fairness, prop_id)
        other = lasso_sym.check_any(plain, fairness, prop_id)
        if (one.broken is None, one.lasso is None) != (other.broken is None, other.lasso is None):
            dropped = ",".join(f for f in lasso.FULL_FAIRNESS if f not in fairness) or "none"
            differ.append(f"{prop_id} without {dropped}")
    return f"yes ({len(cases)} of {len(cases)})" if not differ else "NO: " + "; ".join(differ)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="2.6.31,6.x")
    parser.add_argument("--slots", type=int, default=2)
    parser.add_argument("--budget", type=int, default=4_000_000)
    parser.add_argument("--unreduced", action="store_true")
    parser.add_argument("--untimed", action="store_true")
    parser.add_argument("--timed", action="store_true")
    parser.add_argument("--no-weaker", dest="weaker", action="store_false")
    parser.add_argument("--weaker-elsewhere", action="store_true")
    parser.add_argument("--kept-order", action="store_true")
    parser.add_argument("--record", type=record_argument, default=RECORD)
    args = parser.parse_args()
    if args.timed and not args.untimed:
        parser.error("--timed compares with the search of --untimed: give both")
    if args.weaker_elsewhere and not args.weaker:
        parser.error("--weaker-elsewhere says how to search the weaker lassos: drop --no-weaker")
    command = shlex.join(["python", "scripts/bench_liveness.py", *sys.argv[1:]])
    spawn = multiprocessing.get_context("spawn")
    for variant in args.variants.split(","):
        # Each variant in a process of its own, so that its peak memory is its own.
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
            row = pool.submit(
                measure,
                variant,
                args.slots,
                args.budget,
                args.unreduced,
                args.untimed,
                args.timed,
                args.weaker,
                args.weaker_elsewhere,
                args.kept_order,
            ).result()
        row["command"] = command
        if BLOCK not in (load_figures(args.record) if args.record.exists() else {}):
            record_block(
                args.record,
                BLOCK,
                {
                    "about": "Liveness on the reference config: the symmetry-reduced graph "
                    "with its renamings, both entries under the full fairness set, and the "
                    "lasso of destroy-eventually without each fairness record.",
                    "command": command,
                    "columns": COLUMNS,
                    "rows": [row],
                },
            )
        else:
            record_row(args.record, BLOCK, "run", row)
            block = load_figures(args.record)[BLOCK]
            if block["columns"] != COLUMNS:
                rows = [{"agrees": None, "timed": None, "kept": None, **r} for r in block["rows"]]
                record_block(args.record, BLOCK, {**block, "columns": COLUMNS, "rows": rows})


if __name__ == "__main__":
    main()
