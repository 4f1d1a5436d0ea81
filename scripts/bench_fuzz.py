"""Benchmarks of `nfct-spec fuzz` (the README's figures come from this script's output).

`guidance`: runs until a deep finding first shows, with and without the guidance targets
(`nfct_spec.engines.fuzz_guidance`), median over seeds. Each run fuzzes one campaign test in
this process with HypoFuzz's own fuzz target (what a worker runs, coverage included), its
random generators seeded, on a fresh in-memory database. HypoFuzz also decides some things by
the clock (when to re-run an example to sample an observation), so a seed fixes a run almost,
not exactly.

`workers`: runs per second of a real campaign (HypoFuzz's hub and N worker processes) with 1
and with 2 workers, measured after every worker has started (worker start-up is not fuzzing),
with the CPU seconds the workers got in that time and the load average: on a machine shared
with other work, wall-clock runs/s scale only as far as the workers get the cores, while runs
per worker CPU second show what each worker does with what it gets.

    python scripts/bench_fuzz.py guidance [--seeds 8] [--budget 800]
    python scripts/bench_fuzz.py workers [--seconds 120] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from hypofuzz.database import HypofuzzDatabase
from hypofuzz.hypofuzz import FuzzTarget
from hypothesis import settings
from hypothesis.database import InMemoryExampleDatabase

from nfct_spec.engines.fuzz_campaign import Campaign, HypoFuzz, campaign_tests, write_campaign
from nfct_spec.engines.fuzz_log import LogReader
from nfct_spec.engines.fuzz_machine import RUN_HEALTH_CHECKS
from nfct_spec.models.config import Config
from nfct_spec.models.presets import preset
from nfct_spec.spec.catalogue import CATALOGUE


def guidance_config(args: argparse.Namespace) -> Config:
    """The benchmark's config: the `tiny` preset with a table limit of N (default 3), N + 1
    flows and at most N + 2 allocations. `table-bound` then needs the table full and an
    early drop whose victim's DESTROY fails, so that it only moves to the dying list and
    stays counted: the deeper the larger N, and the deep states are what guidance is for."""
    return preset(args.preset, args.variant).with_(
        nf_conntrack_max=args.limit, flows=args.limit + 1, slots=args.limit + 2
    )


def runs_to_find(
    config: Config, prop: str, guidance: bool, seed: int, budget: int, steps: int
) -> tuple[int | None, float]:
    """Runs of the campaign's full-slice test until `prop` shows (None: not within
    `budget`), and the seconds it took."""
    database = InMemoryExampleDatabase()
    settings.register_profile(
        "bench-fuzz", database=database, deadline=None, suppress_health_check=RUN_HEALTH_CHECKS
    )
    settings.load_profile("bench-fuzz")
    campaign = Campaign((config,), (prop,), "", steps, guidance, "")
    (test,) = [t for t in campaign_tests(campaign, log=False) if t.slice_name == "full"]
    fuzzer = FuzzTarget.from_hypothesis_test(test.function, database=HypofuzzDatabase(database))
    fuzzer.random.seed(seed)
    fuzzer.provider.random.seed(seed)
    fuzzer._enter_fixtures()
    started = time.perf_counter()
    found = test.target.collection.found
    while prop not in found and fuzzer.provider.ninputs < budget:
        fuzzer.run_one()
    seconds = time.perf_counter() - started
    return (fuzzer.provider.ninputs if prop in found else None), seconds


def bench_guidance(args: argparse.Namespace) -> dict[str, object]:
    config = guidance_config(args)
    out: dict[str, object] = {"config": config.to_json(), "property": args.property}
    for guidance in (True, False):
        runs: list[int | None] = []
        seconds = 0.0
        for seed in range(args.seeds):
            found_at, took = runs_to_find(
                config, args.property, guidance, seed, args.budget, args.steps
            )
            runs.append(found_at)
            seconds += took
        # A seed that did not find it within the budget counts as the budget (a lower
        # bound), so the median is one too when such seeds are many.
        capped = [r if r is not None else args.budget for r in runs]
        label = "with guidance" if guidance else "without guidance"
        out[label] = {
            "runs per seed": runs,
            "median runs": statistics.median(capped),
            "not found within budget": sum(r is None for r in runs),
            "seconds": round(seconds, 1),
        }
        print(label, json.dumps(out[label]), file=sys.stderr, flush=True)
    return out


def _cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU seconds of the given processes so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def runs_per_second(workers: int, seconds: float, config: Config) -> dict[str, object]:
    """Steady-state runs/s of a campaign with `workers` worker processes."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "campaign"
        campaign = Campaign(
            (config,),
            tuple(p.id for p in CATALOGUE),
            str(Path(tmp) / "db"),
            30,
            True,
            str(folder / "workers"),
        )
        write_campaign(folder, campaign)
        reader = LogReader(folder / "workers")
        hub = HypoFuzz(folder, workers, dashboard=False, port=0)
        hub.start()
        try:
            deadline = time.monotonic() + 120
            while reader.read().workers < workers:
                if time.monotonic() > deadline or not hub.running:
                    raise RuntimeError(f"workers did not start:\n{hub.log_tail()}")
                time.sleep(0.5)
            pids = [int(p.stem) for p in (folder / "workers").glob("*.json")]
            start_runs, start = reader.read().runs, time.monotonic()
            start_cpu, load_before = _cpu_seconds(pids), os.getloadavg()[0]
            time.sleep(seconds)
            progress = reader.read()
            elapsed = time.monotonic() - start
            cpu = _cpu_seconds(pids) - start_cpu
            load_after = os.getloadavg()[0]
        finally:
            hub.stop()
    runs = progress.runs - start_runs
    return {
        "workers": workers,
        "seconds": round(elapsed, 1),
        "runs": runs,
        "runs/s": round(runs / elapsed, 2),
        "worker CPU seconds": round(cpu, 1),
        "runs per worker CPU second": round(runs / cpu, 2) if cpu else 0.0,
        "load average (1 min) before, after": [round(load_before, 1), round(load_after, 1)],
        "cores": os.cpu_count() or 0,
        "steps/run": round(progress.steps / max(progress.runs, 1), 1),
    }


def bench_workers(args: argparse.Namespace) -> dict[str, object]:
    config = preset(args.preset, args.variant)
    rows = [runs_per_second(n, args.seconds, config) for n in args.workers]
    for row in rows:
        print(json.dumps(row), file=sys.stderr, flush=True)
    return {"config": f"{args.preset} {args.variant}", "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="bench", required=True)
    g = sub.add_parser("guidance", help="runs to a deep finding, with and without guidance")
    g.add_argument("--preset", default="tiny")
    g.add_argument("--variant", default="2.6.31")
    g.add_argument("--property", default="table-bound")
    g.add_argument("--limit", type=int, default=3)
    g.add_argument("--steps", type=int, default=30)
    g.add_argument("--seeds", type=int, default=8)
    g.add_argument("--budget", type=int, default=800)
    w = sub.add_parser("workers", help="runs/s of a campaign with 1 and 2 workers")
    w.add_argument("--preset", default="ci")
    w.add_argument("--variant", default="2.6.31")
    w.add_argument("--seconds", type=float, default=120.0)
    w.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    result = bench_guidance(args) if args.bench == "guidance" else bench_workers(args)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
