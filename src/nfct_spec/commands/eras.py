"""`nfct-spec eras`: every engine on the kernel-era configs of the history page.

The era configs (`nfct_spec.docs.eras`: the smp granularity's eras of 2.6.31 and of 3.17 and
later, and the 6.x worker's review era beside the released one) each differ from their
neighbour by one upstream change, and the catalogue states per era what is expected of each
property. `nfct-spec check` covers the variants' presets and stays within its time budget;
this command is the check of the eras: the explorer exhausts every era config for every
catalogue entry it judges (findings BFS-shortest, with their traces), Hypothesis samples each
config, and each verdict is compared with the catalogue's expectation for that config. Z3
(`nfct_spec.engines.z3_eras`) searches each expected finding that has a BMC target to the
explorer's depth (the two shortest paths must have the same length) and proves the entries that
hold where an era proof is written (`nfct_spec.proofs.era_plans`); for a config its encoding
does not cover (namespace exit, the 6.x worker's review era) the reason is printed and Z3
gives no verdict, never a pass.

An era config built to show a fault (the history page's record of it, `nfct_spec.docs.faults`:
the config that has the fault and the catalogue entries that catch it) that the explorer
exhausts without the finding is a contradiction, not `unknown`: the fault is in the config by
construction, so a complete search that misses it means the model lost the fault, not that the
config is too small (the rule the `ci` suite applies, `nfct_spec.engines.suite.SHOWN_BY`). A
search cut by its budget stays `unknown`, and so does Hypothesis not finding it (a sample
proves nothing).
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from nfct_spec.commands import explore
from nfct_spec.commands.check import SAMPLING_WORKERS, ignore_interrupts, sample
from nfct_spec.commands.common import OUTCOMES, properties_from_ids, verdict_cell
from nfct_spec.docs.eras import ERAS, era_config
from nfct_spec.docs.faults import SHOWN_BY
from nfct_spec.engines import z3_eras
from nfct_spec.engines.hypothesis_engine import PROFILES
from nfct_spec.engines.z3_runner import ENGINE as Z3
from nfct_spec.outdir import fresh_subdir, prepare
from nfct_spec.proofs.guard import encoding_gap
from nfct_spec.results import Result, check_mergeable, exit_code, write_results
from nfct_spec.spec.catalogue import CATALOGUE
from nfct_spec.traces import save_trace

DEFAULT_Z3_TIMEOUT = 300.0
"""Seconds per Z3 query: the deepest BMC search of the era configs (12 steps) takes about a
minute on this kind of machine."""

GUARANTEES = ("invariant", "action", "liveness")
"""The kinds of catalogue entries checked by default: what the kernel promises, or fails to.
The witnesses of non-guarantees need configs built to show them (the `ci` suite of
`nfct-spec check`); the one-flow era configs show few, so `--property` asks for them."""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `eras`."""
    eras = sub.add_parser("eras", help="every engine on the kernel-era configs")
    eras.add_argument("--out", default="nfct-spec-eras", help="output folder")
    eras.add_argument("--era", action="append", choices=sorted(ERAS), help="era (repeatable)")
    eras.add_argument(
        "--property",
        action="append",
        help="property id (repeatable; default: every invariant, action and liveness entry)",
    )
    eras.add_argument("--profile", default="eras", choices=sorted(PROFILES))
    eras.add_argument("--seed", type=int, default=0)
    eras.add_argument(
        "--z3-timeout",
        type=_positive_seconds,
        default=DEFAULT_Z3_TIMEOUT,
        help=f"seconds per Z3 query (default {DEFAULT_Z3_TIMEOUT:g})",
    )
    eras.add_argument("--no-z3", action="store_true", help="skip Z3 (BMC and the era proofs)")


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def _explored(result: Result, name: str) -> Result:
    """An explorer result of era config `name`, its trace path relative to the output folder
    (each era's search writes its traces under `explorer/NAME/`)."""
    trace = None if result.trace is None else str(Path("explorer") / name / result.trace)
    return dataclasses.replace(result, config=name, trace=trace)


def _table(results: list[Result]) -> Table:
    table = Table(title="era config x property (expected -> verdict)")
    for column in ("era config", "property", "explorer", "hypothesis", "z3"):
        table.add_column(column)
    cells = {(r.config, r.property_id, r.engine): r for r in results}
    for config, prop_id in dict.fromkeys((r.config, r.property_id) for r in results):
        row = [config, prop_id]
        for engine in (explore.ENGINE, "hypothesis", Z3):
            result = cells.get((config, prop_id, engine))
            row.append("[dim]n/a[/dim]" if result is None else verdict_cell(result))
        table.add_row(*row)
    return table


def run(args: argparse.Namespace, console: Console) -> int:
    """Explore and sample every selected era config; write results.json and print the table."""
    names = sorted(set(args.era)) if args.era else sorted(ERAS)
    configs = [era_config(name) for name in names]
    props = (
        properties_from_ids(args.property)
        if args.property
        else [p for p in CATALOGUE if p.kind in GUARANTEES]
    )
    profile = PROFILES[args.profile]
    out = prepare(Path(args.out))
    check_mergeable(out / "results.json")
    traces = fresh_subdir(out, "traces")
    started = time.time()
    z3 = {}
    z3_seconds: dict[str, float] = {}
    for config in configs:
        gap = encoding_gap(config)
        if args.no_z3:
            gap = "skipped (--no-z3)"
        z3[config.name] = gap or "BMC of the expected findings, the era proofs (below)"
        console.print(f"Z3: {config.name}: {z3[config.name]}")
    workers = min(SAMPLING_WORKERS, len(configs))
    with multiprocessing.Pool(workers, initializer=ignore_interrupts) as pool:
        database = out / ".hypothesis"
        pending = [
            pool.apply_async(sample, (config, [p.id for p in props], profile, args.seed, database))
            for config in configs
        ]
        console.print(
            f"Hypothesis: {len(configs)} era config(s) sampled in the background "
            f"(profile {profile.name}); the explorer exhausts each meanwhile"
        )
        results: list[Result] = []
        searches: list[dict[str, object]] = []
        with explore.progress_bars(console) as progress:
            for config in configs:
                found = explore.explore_configs(
                    config.name,
                    (config,),
                    props,
                    explore.DEFAULT_MAX_STATES,
                    out / "explorer" / config.name,
                    progress,
                    lassos=False,
                    searches=searches,
                    shown_by=SHOWN_BY,
                )
                results += [_explored(r, config.name) for r in found]
        if not args.no_z3:
            encoded = [c for c in configs if encoding_gap(c) is None]
            console.print(
                f"Z3: {len(encoded)} era config(s): BMC to the explorer's depth of each "
                "expected finding, induction where an era proof is written"
            )
            explored = {(r.config, r.property_id): r for r in results}
            results += z3_eras.judge_all(
                encoded, props, explored, out, args.z3_timeout, console.print, z3_seconds
            )
        for config, sampled in zip(configs, pending, strict=True):
            for item in sampled.get():
                result = dataclasses.replace(item.result, config=config.name)
                if item.trace is not None:
                    name = Path(config.name) / f"{result.property_id}.json"
                    save_trace(item.trace, traces / name)
                    result = dataclasses.replace(
                        result, trace=str((traces / name).relative_to(out))
                    )
                results.append(result)
    run_info = {
        "command": "eras",
        "profile": profile.name,
        "seed": args.seed,
        "eras": names,
        "searches": searches,
        "z3": z3,
        "z3_seconds": z3_seconds,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "elapsed_seconds": round(time.time() - started, 2),
    }
    configs_json = {f"{c.variant}/{c.name}": c.to_json() for c in configs}
    write_results(out / "results.json", results, run_info, configs_json)
    console.print(_table(results))
    code = exit_code(results)
    console.print(
        f"{OUTCOMES[code]}; results in {out / 'results.json'} ({time.time() - started:.1f} s)"
    )
    return code
