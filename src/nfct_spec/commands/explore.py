"""`nfct-spec explore`: exhaustive breadth-first search of a config with the explicit-state
explorer. Safety and witness properties are checked on the symmetry-reduced state space,
`destroy-eventually` on the unreduced graph (broken obligations and fair lassos under the full
fairness set, plus one lasso search per weaker set, written as extra traces). Results are merged
into results.json with engine `explorer`; BFS-shortest traces go under traces-explorer/."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from nfct_spec.checking import searched
from nfct_spec.commands.common import UsageError, configs_from_args, properties_from_ids
from nfct_spec.engines.explorer import Exploration, Stats, explore, trace_of, verdict
from nfct_spec.engines.lasso import (
    FULL_FAIRNESS,
    PROPERTY,
    build_graph,
    check_liveness,
    find_lasso,
    lasso_trace,
    liveness_verdict,
    weaker_fairness_sets,
)
from nfct_spec.models.config import Config
from nfct_spec.models.presets import PRESETS
from nfct_spec.outdir import fresh_subdir, prepare
from nfct_spec.results import Result, exit_code, write_results
from nfct_spec.spec.catalogue import Property
from nfct_spec.traces import Trace, save_trace

ENGINE = "explorer"
DEFAULT_MAX_STATES = 500_000
TRACES = "traces-explorer"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `explore`."""
    cmd = sub.add_parser("explore", help="exhaustive breadth-first search of one config")
    cmd.add_argument("--out", default="nfct-spec-out", help="output folder")
    cmd.add_argument("--variant", action="append", help="variant to explore (repeatable)")
    cmd.add_argument("--preset", default="ci", choices=PRESETS)
    cmd.add_argument("--config", help="a JSON config file instead of a preset")
    cmd.add_argument(
        "--max-states",
        type=int,
        default=DEFAULT_MAX_STATES,
        help="stop (verdict unknown) after this many distinct states",
    )
    cmd.add_argument("--property", action="append", help="property id (repeatable)")


def _safety(
    config: Config, props: list[Property], max_states: int, progress: Progress
) -> Exploration:
    task: TaskID = progress.add_task(
        f"{config.variant} ({config.name}) safety", total=max_states, info=""
    )

    def report(stats: Stats) -> None:
        progress.update(
            task,
            completed=stats.states,
            info=f"{stats.transitions} transitions, depth {stats.depth}",
        )

    exploration = explore(config, props, max_states, progress=report)
    progress.update(task, total=exploration.stats.states, completed=exploration.stats.states)
    return exploration


def _save(trace: Trace, out: Path, name: str) -> str:
    save_trace(trace, out / TRACES / name)
    return str(Path(TRACES) / name)


def _explore_config(
    config: Config, props: list[Property], max_states: int, out: Path, progress: Progress
) -> list[Result]:
    results: list[Result] = []
    exploration = _safety(config, props, max_states, progress)
    for prop in props:
        if prop.kind == "liveness" or not searched(prop, config):
            continue
        found, scope = verdict(prop, exploration)
        path = None
        if prop.id in exploration.findings:
            path = _save(trace_of(exploration, prop), out, f"{config.variant}/{prop.id}.json")
        results.append(_result(prop, config, found, scope, path))
    live = [p for p in props if p.id == PROPERTY and searched(p, config)]
    if live:
        task = progress.add_task(f"{config.variant} ({config.name}) liveness", total=None, info="")
        graph = build_graph(config, max_states)
        progress.update(task, info=f"{len(graph.states)} states (unreduced)")
        outcome = check_liveness(graph, FULL_FAIRNESS)
        found, scope, trace = liveness_verdict(outcome, live[0].expected_for(config))
        path = None if trace is None else _save(trace, out, f"{config.variant}/{PROPERTY}.json")
        results.append(_result(live[0], config, found, scope, path))
        for fairness in weaker_fairness_sets():
            lasso = find_lasso(graph, fairness)
            if lasso is not None:
                dropped = next(f for f in FULL_FAIRNESS if f not in fairness)
                name = f"{config.variant}/{PROPERTY}.without-{dropped}.json"
                _save(lasso_trace(config, lasso, fairness), out, name)
        progress.update(task, total=1, completed=1)
    return results


def _result(prop: Property, config: Config, found: str, scope: str, trace: str | None) -> Result:
    return Result(
        prop.id,
        config.variant,
        ENGINE,
        found,
        prop.expected_for(config),
        scope,
        prop.reason_for(config),
        trace=trace,
        config=config.name,
    )


def _table(results: list[Result]) -> Table:
    table = Table(title="explorer: expected -> verdict")
    for column in ("property", "variant", "verdict", "scope"):
        table.add_column(column)
    for r in results:
        colour = {"ok": "green", "unknown": "yellow"}.get(r.status, "red bold")
        table.add_row(
            r.property_id, r.variant, f"[{colour}]{r.expected} -> {r.verdict}[/{colour}]", r.scope
        )
    return table


def run(args: argparse.Namespace, console: Console) -> int:
    """Explore every selected config and write the explorer's results."""
    if args.max_states < 1:
        raise UsageError("--max-states must be at least 1")
    configs = configs_from_args(args)
    props = properties_from_ids(args.property)
    out = prepare(Path(args.out))
    fresh_subdir(out, TRACES)
    started = time.time()
    results: list[Result] = []
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed} states"),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        for config in configs:
            results += _explore_config(config, props, args.max_states, out, progress)
    elapsed = time.time() - started
    run_info = {
        "command": "explore",
        "max_states": args.max_states,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "elapsed_seconds": round(elapsed, 2),
    }
    write_results(
        out / "results.json", results, run_info, {c.variant: c.to_json() for c in configs}
    )
    console.print(_table(results))
    code = exit_code(results)
    console.print(f"results in {out / 'results.json'}, traces in {out / TRACES} ({elapsed:.1f} s)")
    return code
