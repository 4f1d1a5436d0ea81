"""`nfct-spec prove`: the Z3 engine. Inductive proofs over symbolic configs for the properties
expected to hold, shortest BMC findings (replayed through the Python model) for those expected
to be violated or witnessed; verdicts merged into results.json under engine "z3".

Every variant has its own transition relation. For 6.x (Linux 6.18: single-winner
nf_ct_delete(), the ordered redelivery list and its delayed worker, as shipped and with the
posted ecache_work() fix, gc expiry, events auto mode) the run proves table-bound, count-exact,
one-place, dying-has-retry, missed-only-undelivered, destroy-before-free (assuming a build
failure is reported to reliable listeners), no-crash and destroy-eventually (ranking function
under the fair drain), and finds may-drop-when-full by BMC. Every induction query is written as
one line `transition conjunct status seconds` to DIR/z3-induction.txt (and to the console with
`--lines`). A solver timeout is `unknown` (exit 3), never `proved`. The (property, variant)
pairs run in `--jobs` worker processes (default: one per CPU). `--lasso` also searches, by BMC
on the 2.6.31 `ci` preset, a destroy-eventually lasso under each weaker fairness set (every
record but one) and writes each to DIR/traces/z3/2.6.31/destroy-eventually.without-RECORD.json;
the one without traffic-stops takes about a minute, so `--lasso` is not part of the default run.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from nfct_spec.commands.common import UsageError, properties_from_ids
from nfct_spec.engines.lasso import weaker_fairness_sets
from nfct_spec.engines.z3_bmc import find_lasso
from nfct_spec.engines.z3_runner import ENGINE, Outcome, run_all
from nfct_spec.files import write_text
from nfct_spec.models.config import VARIANTS, Config
from nfct_spec.models.presets import preset
from nfct_spec.models.variants import MODELLED
from nfct_spec.outdir import prepare
from nfct_spec.proofs.induction import Line
from nfct_spec.proofs.lasso_z3 import dropped_record
from nfct_spec.results import check_mergeable, exit_code, write_results
from nfct_spec.spec.fairness import TRAFFIC_STOPS
from nfct_spec.traces import save_trace

LASSO_DEPTH = 12
LASSO_BUDGET_MS = 900_000
"""Depth and solver budget of the lasso without traffic-stops (found at depth 11)."""
SHORT_LASSO_DEPTH = 8
"""The other weaker sets have lassos of at most 5 steps."""
MAX_TIMEOUT = 86_400.0
"""One day per query: far beyond any query of the suite, and well inside the solver's
32-bit millisecond timeout."""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `prove`."""
    prove = sub.add_parser(
        "prove",
        help="prove invariants with Z3 (2.6.30, 2.6.31 and 6.x); BMC for findings",
        description="Z3 on every variant's own transition relation (6.x included: the ordered "
        "redelivery list, the delayed worker as shipped and fixed, single-winner "
        "nf_ct_delete(), gc expiry): induction over symbolic configs for the properties "
        "expected to hold, a ranking function for destroy-eventually (2.6.31, 6.x), shortest "
        "BMC findings replayed through the Python model for those expected to be found.",
    )
    prove.add_argument("--out", default="nfct-spec-out", help="output folder")
    prove.add_argument(
        "--variant",
        action="append",
        help=f"variant (repeatable; default all: {', '.join(VARIANTS)})",
    )
    prove.add_argument("--property", action="append", help="property id (repeatable)")
    prove.add_argument(
        "--timeout", type=float, default=30.0, help="seconds per solver query (default 30)"
    )
    prove.add_argument("--lines", action="store_true", help="print every induction line")
    prove.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="worker processes for the (property, variant) pairs (default: one per CPU)",
    )
    prove.add_argument(
        "--lasso",
        action="store_true",
        help="also search (BMC, about a minute) a destroy-eventually lasso of 2.6.31 under each "
        "weaker fairness set",
    )


def _jobs(jobs: int | None) -> int:
    if jobs is None:
        return os.cpu_count() or 1
    if jobs < 1:
        raise UsageError("--jobs must be at least 1")
    return jobs


def _variants(names: list[str] | None) -> list[str]:
    for name in names or []:
        if name not in VARIANTS:
            raise UsageError(f"unknown variant {name!r} (known: {', '.join(VARIANTS)})")
    return list(names) if names else list(VARIANTS)


def _line_text(variant: str, prop_id: str, line: Line) -> str:
    return (
        f"{variant} {prop_id}: {line.transition} {line.conjunct} {line.status} {line.seconds:.3f}s"
    )


def _cti_text(line: Line) -> list[str]:
    if line.model is None:
        return []
    return [f"    {key}: {value}" for key, value in line.model.items()]


def lasso_config(dropped: str) -> Config:
    """The config a lasso is searched on: the 2.6.31 `ci` preset, with two memory slots for the
    lasso without traffic-stops (it needs two conntracks at once, and the search is faster than
    with the preset's four slots)."""
    config = preset("ci", "2.6.31")
    if dropped == TRAFFIC_STOPS.id:
        config = config.with_(name="ci-2-slots", slots=2)
    return config


def _lasso(out: Path, console: Console) -> None:
    for fairness in weaker_fairness_sets():
        dropped = dropped_record(fairness)
        depth = LASSO_DEPTH if dropped == TRAFFIC_STOPS.id else SHORT_LASSO_DEPTH
        found, loop = find_lasso(lasso_config(dropped), depth, LASSO_BUDGET_MS, fairness)
        if found.trace is None:
            console.print(
                f"lasso without {dropped}: none found ({found.status}, depth {found.depth})"
            )
            continue
        name = f"destroy-eventually.without-{dropped}.json"
        path = out / "traces" / ENGINE / "2.6.31" / name
        save_trace(found.trace, path)
        console.print(
            f"lasso without {dropped}: {len(found.trace.steps)} steps, loop at state {loop}, "
            f"{found.seconds:.1f} s; written to {path}"
        )


def run(args: argparse.Namespace, console: Console) -> int:
    """Prove or find every selected property on every selected variant."""
    if not 0 < args.timeout <= MAX_TIMEOUT:
        raise UsageError(f"--timeout must be a number of seconds in (0, {MAX_TIMEOUT:.0f}]")
    variants = _variants(args.variant)
    props = properties_from_ids(args.property)
    jobs = _jobs(getattr(args, "jobs", None))
    out = prepare(Path(args.out))
    check_mergeable(out / "results.json")
    started = time.time()
    outcomes: list[Outcome] = []
    log: list[str] = []
    tasks = [(prop, variant) for variant in variants for prop in props]
    for prop, variant, outcome in run_all(tasks, args.timeout, out, jobs):
        if outcome is None:
            continue
        for line in outcome.lines:
            text = _line_text(variant, prop.id, line)
            log.append(text)
            if line.status == "cti":
                log.extend(_cti_text(line))
            if args.lines or line.status != "proved":
                console.print(text, highlight=False)
        outcomes.append(outcome)
    write_text(out / "z3-induction.txt", "\n".join(log) + "\n", "induction log", None)
    if args.lasso:
        _lasso(out, console)
    results = [o.result for o in outcomes]
    table = Table(title="z3: property x variant (expected -> verdict)")
    for column in ("property", "variant", "expected -> verdict", "scope / reason"):
        table.add_column(column)
    for r in results:
        colour = {"ok": "green", "unknown": "yellow"}.get(r.status, "red bold")
        table.add_row(
            r.property_id,
            r.variant,
            f"[{colour}]{r.expected} -> {r.verdict}[/{colour}]",
            r.scope if r.verdict == "proved" else r.reason,
        )
    console.print(table)
    elapsed = time.time() - started
    run_info = {
        "command": "prove",
        "engine": ENGINE,
        "timeout_seconds": args.timeout,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "elapsed_seconds": round(elapsed, 2),
    }
    configs = {v: preset("ci", v).to_json() for v in variants if v in MODELLED}
    write_results(out / "results.json", results, run_info, configs)
    code = exit_code(results)
    console.print(
        f"{len(results)} z3 verdicts in {elapsed:.1f} s; results in {out / 'results.json'}"
    )
    return code
