"""`nfct-spec fuzz`: a long fuzzing campaign under HypoFuzz, on every core and on several
machines, keeping what it finds in an example database.

The campaign runs HypoFuzz's `hypothesis fuzz` on the campaign's tests
(`nfct_spec.engines.fuzz_campaign`) with N worker processes for the given hours, shows its
progress, then reports like `check`: every finding replayed, minimised and saved as a trace,
the verdicts merged into results.json (engine `hypofuzz`, with the campaign's scope), the pages
rewritten. The example database (a folder under the output folder by default, or Redis) keeps
every covering and failing example: a campaign on the same database replays them first, and
machines sharing one Redis share their finds. `--replay` reports what the database holds
without fuzzing. Ctrl-C ends a campaign early and still reports what it found (exit 130).

Before it reports, a campaign (or a replay) gives each premise none of its runs reached the
second chance `check` gives it: runs sampled from the explorer's shortest run into the premise
(`nfct_spec.engines.fuzz_harvest.sample_premise`), one line of progress per premise. A
campaign ended by Ctrl-C skips them (its premises stay vacuous), and Ctrl-C during them reports
the premises sampled so far (exit 130): the findings are never lost to an interrupt.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from nfct_spec.commands.common import (
    UsageError,
    configs_from_args,
    properties_from_ids,
    verdict_cell,
)
from nfct_spec.engines.fuzz_campaign import (
    Campaign,
    HypoFuzz,
    campaign_tests,
    database_keys,
    is_redis,
    open_database,
    write_campaign,
)
from nfct_spec.engines.fuzz_harvest import (
    ENGINE,
    PREMISE_PROFILE,
    PREMISE_SEED,
    Found,
    Missed,
    missed_premises,
    replay_database,
    sample_premise,
    verdicts,
)
from nfct_spec.engines.fuzz_log import LogReader, Progress, Reached
from nfct_spec.engines.fuzz_status import Coverage, CoverageReader
from nfct_spec.engines.sampling import Checked
from nfct_spec.models.config import Config
from nfct_spec.models.presets import PRESETS
from nfct_spec.outdir import fresh_subdir, prepare
from nfct_spec.results import Result, exit_code, write_results
from nfct_spec.spec.catalogue import Property
from nfct_spec.traces import save_trace
from nfct_spec.viewer.html import write_pages

POLL_SECONDS = 1.0
MAX_RESTARTS = 10
INTERRUPTED = 130


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `fuzz`."""
    fuzz = sub.add_parser("fuzz", help="a long fuzzing campaign under HypoFuzz")
    fuzz.add_argument("--out", default="nfct-spec-out", help="output folder")
    fuzz.add_argument("--variant", action="append", help="variant to fuzz (repeatable)")
    fuzz.add_argument("--preset", default="ci", choices=PRESETS)
    fuzz.add_argument("--config", help="a JSON config file instead of a preset")
    fuzz.add_argument("--property", action="append", help="property id (repeatable)")
    fuzz.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    fuzz.add_argument("--hours", type=float, default=1.0, help="campaign length (default 1)")
    where = fuzz.add_mutually_exclusive_group()
    where.add_argument("--database", help="example database folder (default OUT/fuzz/db)")
    where.add_argument("--redis", metavar="URL", help="a shared Redis example database")
    fuzz.add_argument("--dashboard", action="store_true", help="serve HypoFuzz's dashboard")
    fuzz.add_argument("--port", type=int, default=9999, help="dashboard port (default 9999)")
    fuzz.add_argument("--steps", type=int, default=30, help="steps per run (default 30)")
    fuzz.add_argument(
        "--no-guidance",
        action="store_true",
        help="no targets or observer events (coverage and findings only)",
    )
    fuzz.add_argument(
        "--stop-when-found",
        action="store_true",
        help="end the campaign once every expected finding is found",
    )
    fuzz.add_argument(
        "--replay", action="store_true", help="report what the database holds; do not fuzz"
    )


@dataclass
class Outcome:
    """How a campaign went: the findings, the runs that reached each watched premise, and
    the totals that make its scope."""

    found: Found
    premises: Reached
    variant_runs: dict[str, int]
    runs: int
    steps: int
    states: int
    seconds: float
    interrupted: bool = False
    restarts: int = 0
    coverage: Coverage | None = None


def _check_args(args: argparse.Namespace) -> None:
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    if not args.hours > 0:
        raise UsageError("--hours must be positive")
    if args.steps < 1:
        raise UsageError("--steps must be at least 1")
    if args.redis and not is_redis(args.redis):
        raise UsageError(f"--redis {args.redis!r}: expected a redis:// or unix:// URL")
    needed = ["redis"] if args.redis else []
    if not args.replay:
        needed.append("hypofuzz")
    for module in needed:
        if importlib.util.find_spec(module) is None:
            raise UsageError(
                f"{module} is not installed: install the fuzz extra (pip install 'nfct-spec[fuzz]')"
            )


def _campaign(args: argparse.Namespace, configs: list[Config], props: list[Property]) -> Campaign:
    out = Path(args.out)
    database = args.redis or args.database or str(out / "fuzz" / "db")
    return Campaign(
        configs=tuple(configs),
        properties=tuple(p.id for p in props),
        database=database,
        steps=args.steps,
        guidance=not args.no_guidance,
        log_dir=str((out / "fuzz" / "campaign" / "workers").resolve()),
    )


def _expected_findings(configs: list[Config], props: list[Property]) -> set[tuple[str, str]]:
    return {
        (c.variant, p.id)
        for c in configs
        for p in props
        if p.expected_for(c) in ("violated", "witness")
    }


def _view(
    campaign: Campaign,
    progress: Progress,
    coverage: Coverage | None,
    elapsed: float,
    planned: float,
    workers: int,
    expected: set[tuple[str, str]],
) -> Group:
    """The progress panel."""
    rate = progress.runs / elapsed if elapsed > 0 else 0.0
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    variants = ", ".join(f"{c.variant} ({c.name})" for c in campaign.configs)
    table.add_row("campaign", f"{variants}; {workers} workers; database {campaign.database}")
    table.add_row("time", f"{elapsed / 60:.1f} of {planned / 60:.1f} min")
    table.add_row(
        "this machine",
        f"{progress.runs:,} runs ({rate:.1f}/s), {progress.steps:,} steps, "
        f"{progress.states:,} distinct states",
    )
    if coverage is not None:
        since = "-" if coverage.since_new is None else f"{coverage.since_new:.0f} s ago"
        table.add_row(
            "HypoFuzz",
            f"{coverage.runs:,} runs by {coverage.workers} workers on this database, "
            f"coverage {coverage.behaviours:,} behaviours (last new {since}), "
            f"{coverage.failures} failures",
        )
    found = set(progress.findings)
    hits = len(found & expected)
    unexpected = sorted(f"{v} {p}" for v, p in found - expected)
    table.add_row(
        "findings",
        f"{hits} of {len(expected)} expected"
        + (f"; NOT expected: {', '.join(unexpected)}" if unexpected else ""),
    )
    missing = sorted(f"{v} {p}" for v, p in expected - found)
    lines: list[Table | Text] = [table]
    if missing:
        lines.append(Text("not yet: " + ", ".join(missing), style="dim"))
    return Group(*lines)


def _found_and_kept(
    expected: set[tuple[str, str]], progress: Progress, coverage: CoverageReader
) -> bool:
    """Every expected finding was logged, and the run that showed it is in the database."""
    if not expected <= set(progress.findings):
        return False
    kept = coverage.kept()
    return all((progress.findings[key].test, key[1]) in kept for key in expected)


def _fuzz(
    args: argparse.Namespace,
    campaign: Campaign,
    console: Console,
    expected: set[tuple[str, str]],
) -> Outcome:
    """Run HypoFuzz on the campaign until the time is up, it stops, or Ctrl-C."""
    out = Path(args.out)
    folder = fresh_subdir(out, "fuzz/campaign")
    write_campaign(folder, campaign)
    keys = database_keys(campaign_tests(campaign, log=False))
    reader = LogReader(Path(campaign.log_dir))
    coverage_reader = CoverageReader(open_database(campaign.database), keys)
    planned = args.hours * 3600
    started = time.monotonic()
    hub = HypoFuzz(folder, args.workers, args.dashboard, args.port)
    hub.start()
    if args.dashboard:
        console.print(f"HypoFuzz dashboard: http://localhost:{args.port}/")
    interrupted = False
    restarts = runs_at_start = 0
    coverage: Coverage | None = None
    try:
        with Live(console=console, refresh_per_second=2, transient=False) as live:
            while (elapsed := time.monotonic() - started) < planned:
                progress = reader.read()
                coverage = coverage_reader.read()
                live.update(
                    _view(campaign, progress, coverage, elapsed, planned, args.workers, expected)
                )
                if args.stop_when_found and _found_and_kept(expected, progress, coverage_reader):
                    break
                if not hub.running:
                    # HypoFuzz's hub exits when every test has failed, and also when no
                    # worker finished its first hundred runs within a minute (it takes
                    # that for "nothing left to fuzz"): restart it then, if it made progress.
                    stuck = progress.runs == runs_at_start
                    if coverage.failures >= len(keys) or stuck or restarts >= MAX_RESTARTS:
                        break
                    restarts += 1
                    runs_at_start = progress.runs
                    hub = HypoFuzz(folder, args.workers, args.dashboard, args.port)
                    hub.start()
                time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        code = hub.stop()
    seconds = time.monotonic() - started
    progress = reader.read()
    all_found = expected <= set(progress.findings)
    if not interrupted and seconds < planned and not (args.stop_when_found and all_found):
        console.print(
            f"[yellow]HypoFuzz stopped after {seconds:.0f} s (exit {code}, "
            f"{restarts} restarts); the end of {hub.log_path}:[/yellow]\n{hub.log_tail()}"
        )
    found: Found = {key: f.steps for key, f in progress.findings.items()}
    return Outcome(
        found,
        progress.premises,
        progress.variant_runs,
        progress.runs,
        progress.steps,
        progress.states,
        seconds,
        interrupted,
        restarts,
        coverage,
    )


def _sample_missed(
    configs: list[Config],
    props: list[Property],
    found: Found,
    reached: Reached,
    console: Console,
    interrupted: bool = False,
) -> tuple[Missed, bool]:
    """Sample runs into each premise no run reached (`missed_premises`), one line per premise
    as each is done; and whether the command was interrupted (`interrupted`: the campaign
    was, so none is sampled; or Ctrl-C came during them, and those done so far are kept)."""
    pending = missed_premises(configs, props, found, reached)
    if not pending:
        return {}, interrupted
    if interrupted:
        console.print(
            f"premise runs: none, the campaign was interrupted ({len(pending)} premise(s) "
            "no run reached stay vacuous)"
        )
        return {}, True
    console.print(
        f"premise runs: {len(pending)} premise(s) no run reached; sampling runs from the "
        f"explorer's shortest run into each (profile {PREMISE_PROFILE.name}, seed {PREMISE_SEED})"
    )
    missed: Missed = {}
    try:
        for config, prop_id in pending:
            started = time.monotonic()
            extra = sample_premise(config, props, prop_id)
            missed[(config.variant, prop_id)] = extra
            console.print(
                f"premise runs: {config.variant} {prop_id}: {extra.note()} "
                f"({time.monotonic() - started:.1f} s)"
            )
    except KeyboardInterrupt:
        console.print(
            f"premise runs: interrupted ({len(pending) - len(missed)} premise(s) not sampled "
            "stay vacuous)"
        )
        return missed, True
    return missed, False


def _table(results: list[Result], variants: list[str]) -> Table:
    table = Table(title="property x variant (expected -> hypofuzz verdict)")
    table.add_column("property")
    for variant in variants:
        table.add_column(variant)
    cells = {(r.property_id, r.variant): r for r in results}
    for prop_id in dict.fromkeys(r.property_id for r in results):
        row = [prop_id]
        for variant in variants:
            r = cells.get((prop_id, variant))
            if r is None:
                row.append("[dim]n/a[/dim]")
                continue
            row.append(verdict_cell(r))
        table.add_row(*row)
    return table


def _report(
    args: argparse.Namespace,
    configs: list[Config],
    checked: list[Checked],
    run: dict[str, Any],
    console: Console,
) -> int:
    """Save traces, merge results.json, rewrite the pages, print the table; the exit code."""
    out = Path(args.out)
    traces_dir = fresh_subdir(out, f"traces/{ENGINE}")
    results: list[Result] = []
    for item in checked:
        result = item.result
        if item.trace is not None:
            name = Path(result.variant) / f"{result.property_id}.json"
            save_trace(item.trace, traces_dir / name)
            trace_path = str((traces_dir / name).relative_to(out))
            result = Result(**{**result.__dict__, "trace": trace_path})
        results.append(result)
    write_results(out / "results.json", results, run, {c.variant: c.to_json() for c in configs})
    fresh_subdir(out, "html")
    index = write_pages(out, out / "results.json")
    console.print(_table(results, [c.variant for c in configs]))
    console.print(f"results in {out / 'results.json'}, traces in {traces_dir}, pages in {index}")
    return exit_code(results)


def run(args: argparse.Namespace, console: Console) -> int:
    """Fuzz (or replay the database), then report like `check`."""
    _check_args(args)
    configs = configs_from_args(args)
    props = properties_from_ids(args.property)
    prepare(Path(args.out))
    campaign = _campaign(args, configs, props)
    started = time.time()
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started))
    if args.replay:
        replayed = replay_database(campaign)
        scope = (
            f"a replay of the {replayed.examples} examples of database {campaign.database} "
            f"({replayed.steps} steps)"
        )
        missed, stopped = _sample_missed(configs, props, replayed.found, replayed.reached, console)
        checked = verdicts(
            configs,
            props,
            replayed.found,
            scope,
            {"database": campaign.database},
            replayed.reached,
            replayed.variant_examples,
            missed,
        )
        run_record: dict[str, Any] = {
            "command": "fuzz",
            "replay": True,
            "database": campaign.database,
            "examples": replayed.examples,
            "steps": replayed.steps,
            "premise_runs": len(missed),
            "started": when,
            "elapsed_seconds": round(time.time() - started, 2),
        }
        code = _report(args, configs, checked, run_record, console)
        return INTERRUPTED if stopped else code
    outcome = _fuzz(args, campaign, console, _expected_findings(configs, props))
    hours = outcome.seconds / 3600
    scope = (
        f"a campaign of {hours:.3f} h on {args.workers} workers: {outcome.runs:,} runs, "
        f"{outcome.steps:,} steps, {outcome.states:,} distinct states "
        f"(database {campaign.database})"
    )
    meta = {"database": campaign.database, "workers": args.workers, "hours": round(hours, 4)}
    missed, stopped = _sample_missed(
        configs, props, outcome.found, outcome.premises, console, outcome.interrupted
    )
    checked = verdicts(
        configs, props, outcome.found, scope, meta, outcome.premises, outcome.variant_runs, missed
    )
    run_record = {
        "command": "fuzz",
        "replay": False,
        "database": campaign.database,
        "workers": args.workers,
        "hours": round(hours, 4),
        "runs": outcome.runs,
        "steps": outcome.steps,
        "states": outcome.states,
        "interrupted": stopped,
        "stopped_when_found": args.stop_when_found,
        "restarts": outcome.restarts,
        "premise_runs": len(missed),
        "guidance": campaign.guidance,
        "started": when,
        "elapsed_seconds": round(time.time() - started, 2),
    }
    if outcome.coverage is not None:
        run_record["hypofuzz"] = {
            "runs": outcome.coverage.runs,
            "behaviours": outcome.coverage.behaviours,
            "workers": outcome.coverage.workers,
            "failures": outcome.coverage.failures,
        }
    code = _report(args, configs, checked, run_record, console)
    if stopped:
        console.print("interrupted: the campaign's findings so far are saved")
        return INTERRUPTED
    return code
