"""The `nfct-spec` command line.

Exit codes: 0 every verdict as expected, 1 some property not as expected (or a trace that does
not replay), 2 bad input or usage, 3 some verdict unknown (budget ran out).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from nfct_spec.engines.hypothesis_engine import PROFILES
from nfct_spec.engines.sampling import Checked, check_sampling
from nfct_spec.models.config import VARIANTS, Config, ConfigError, load_config
from nfct_spec.models.presets import PRESETS, preset
from nfct_spec.models.registry import ACTIONS, actions_for
from nfct_spec.models.variants import MODELLED
from nfct_spec.outdir import OutDirError, fresh_subdir, prepare
from nfct_spec.replay import replay
from nfct_spec.results import Result, exit_code, write_results
from nfct_spec.spec.catalogue import BY_ID, Property, lookup
from nfct_spec.traces import TraceError, load_trace, save_trace

DEFAULT_VARIANTS = ("2.6.30", "2.6.31")


class UsageError(Exception):
    """Bad input: reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _variant(name: str) -> str:
    if name not in VARIANTS:
        raise UsageError(f"unknown variant {name!r} (known: {', '.join(VARIANTS)})")
    if name not in MODELLED:
        raise UsageError(
            f"variant {name!r} has no executable model yet (modelled: {', '.join(MODELLED)})"
        )
    return name


def _configs(args: argparse.Namespace) -> list[Config]:
    if args.config:
        config = load_config(args.config)
        _variant(config.variant)
        if args.variant and args.variant != [config.variant]:
            raise UsageError("--variant cannot be combined with --config (the file names one)")
        return [config]
    variants = [_variant(v) for v in (args.variant or DEFAULT_VARIANTS)]
    return [preset(args.preset, v) for v in variants]


def _properties(ids: Sequence[str] | None) -> list[Property]:
    if not ids:
        return list(BY_ID.values())
    try:
        return [lookup(i) for i in ids]
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None


def _table(results: list[Result], variants: list[str]) -> Table:
    table = Table(title="property x variant (expected -> hypothesis verdict)")
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
            colour = {"ok": "green", "unknown": "yellow"}.get(r.status, "red bold")
            row.append(f"[{colour}]{r.expected} -> {r.verdict}[/{colour}]")
        table.add_row(*row)
    return table


def cmd_check(args: argparse.Namespace, console: Console) -> int:
    """The main job: sample every property on every variant and write the results."""
    configs = _configs(args)
    props = _properties(args.property)
    profile = PROFILES[args.profile]
    out = prepare(Path(args.out))
    traces_dir = fresh_subdir(out, "traces")
    started = time.time()
    checked: list[Checked] = []
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[found]} findings"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        for config in configs:
            task = progress.add_task(
                f"{config.variant} ({config.name})", total=2 * profile.max_examples, found=0
            )
            done = {"full": 0, "quiet": 0}

            def report(
                name: str, runs: int, found: int, task: TaskID = task, done: dict[str, int] = done
            ) -> None:
                done[name] = min(runs, profile.max_examples)
                progress.update(task, completed=sum(done.values()), found=found)

            checked += check_sampling(
                config, props, profile, args.seed, out / ".hypothesis", report
            )
            progress.update(task, completed=2 * profile.max_examples)
    results: list[Result] = []
    for item in checked:
        result = item.result
        if item.trace is not None:
            name = Path(result.variant) / f"{result.property_id}.json"
            save_trace(item.trace, traces_dir / name)
            result = Result(**{**result.__dict__, "trace": str(Path("traces") / name)})
        results.append(result)
    elapsed = time.time() - started
    run = {
        "command": "check",
        "profile": profile.name,
        "seed": args.seed,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "elapsed_seconds": round(elapsed, 2),
    }
    write_results(out / "results.json", results, run, {c.variant: c.to_json() for c in configs})
    console.print(_table(results, [c.variant for c in configs]))
    code = exit_code(results)
    summary = {
        0: "every verdict as expected",
        1: "some verdict NOT as expected",
        3: "some expected finding was not found within the budget (unknown)",
    }[code]
    console.print(
        f"{summary}; results in {out / 'results.json'}, traces in {traces_dir} ({elapsed:.1f} s)"
    )
    return code


def cmd_actions(args: argparse.Namespace, console: Console) -> int:
    """List the action registry."""
    actions = actions_for(_variant(args.variant)) if args.variant else ACTIONS
    if args.json:
        data = [
            {
                "name": a.name,
                "kind": a.kind,
                "variants": sorted(a.variants),
                "modifies": sorted(a.modifies),
                "doc": a.doc,
            }
            for a in actions
        ]
        print(json.dumps(data, indent=1))
        return 0
    table = Table(title="action registry")
    for column in ("action", "kind", "variants", "what it models"):
        table.add_column(column)
    for a in actions:
        table.add_row(a.name, a.kind, ", ".join(sorted(a.variants)), a.summary)
    console.print(table)
    return 0


def cmd_replay(args: argparse.Namespace, console: Console) -> int:
    """Replay a trace file against the model."""
    trace = load_trace(args.trace)
    _variant(trace.config.variant)
    report = replay(trace)
    console.print(
        ("[green]ok[/green]: " if report.ok else "[red]FAILED[/red]: ") + report.message,
        highlight=False,
    )
    return 0 if report.ok else 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (errors raise UsageError instead of exiting)."""
    parser = _Parser(prog="nfct-spec", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    check = sub.add_parser("check", help="check every property on every variant")
    check.add_argument("--out", default="nfct-spec-out", help="output folder")
    check.add_argument("--variant", action="append", help="variant to check (repeatable)")
    check.add_argument("--preset", default="ci", choices=PRESETS)
    check.add_argument("--config", help="a JSON config file instead of a preset")
    check.add_argument("--profile", default="ci", choices=sorted(PROFILES))
    check.add_argument("--seed", type=int, default=0)
    check.add_argument("--property", action="append", help="property id (repeatable)")
    actions = sub.add_parser("actions", help="list the action registry")
    actions.add_argument("--json", action="store_true")
    actions.add_argument("--variant")
    rep = sub.add_parser("replay", help="replay a trace against the model")
    rep.add_argument("trace")
    return parser


COMMANDS = {"check": cmd_check, "actions": cmd_actions, "replay": cmd_replay}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    console = Console()
    err = Console(stderr=True)
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args, console)
    except (UsageError, ConfigError, TraceError, OutDirError) as exc:
        err.print(f"nfct-spec: error: {exc}", highlight=False, markup=False)
        return 2
    except KeyboardInterrupt:
        err.print("nfct-spec: interrupted", highlight=False)
        return 130


if __name__ == "__main__":
    sys.exit(main())
