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
`--lines`). A solver timeout is `unknown` (exit 3), never `proved`. Before any proof, the
agreement guard checks a fixed sample of model steps against each variant's encoding; where
they disagree, or where a BMC path does not replay in the model, the verdict is `error` (exit 1)
with `encoding disagrees with the model at ACTION: ...` as the reason
(`nfct_spec.engines.z3_engine`, which `nfct-spec check` runs too). The (property, variant)
pairs run in `--jobs` worker processes (default: one per CPU). `--lasso` also searches, by BMC
on the 2.6.31 `ci` preset, a destroy-eventually lasso under each weaker fairness set (every
record but one) and writes each to DIR/traces/z3/2.6.31/destroy-eventually.without-RECORD.json;
the one without traffic-stops takes about a minute, so `--lasso` is not part of the default run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from nfct_spec.commands.common import (
    UsageError,
    default_jobs,
    properties_from_ids,
    worst,
    z3_table,
)
from nfct_spec.engines.lasso import weaker_fairness_sets
from nfct_spec.engines.z3_bmc import BmcMismatch, find_lasso
from nfct_spec.engines.z3_engine import DEFAULT_TIMEOUT, prove
from nfct_spec.engines.z3_runner import ENGINE
from nfct_spec.models.config import VARIANTS, Config
from nfct_spec.models.presets import preset
from nfct_spec.outdir import prepare
from nfct_spec.proofs.guard import Disagreement
from nfct_spec.proofs.lasso_z3 import dropped_record
from nfct_spec.results import check_mergeable
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
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds per solver query (default {DEFAULT_TIMEOUT:g})",
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
        return default_jobs()
    if jobs < 1:
        raise UsageError("--jobs must be at least 1")
    return jobs


def _variants(names: list[str] | None) -> list[str]:
    for name in names or []:
        if name not in VARIANTS:
            raise UsageError(f"unknown variant {name!r} (known: {', '.join(VARIANTS)})")
    return list(names) if names else list(VARIANTS)


def lasso_config(dropped: str) -> Config:
    """The config a lasso is searched on: the 2.6.31 `ci` preset, with two memory slots for the
    lasso without traffic-stops (it needs two conntracks at once, and the search is faster than
    with the preset's four slots)."""
    config = preset("ci", "2.6.31")
    if dropped == TRAFFIC_STOPS.id:
        config = config.with_(name="ci-2-slots", slots=2)
    return config


def _lasso(out: Path, console: Console) -> int:
    """Search the lassos of `--lasso` and write each one found. Returns 1 if a path found does
    not replay in the model (the encoding disagrees with it), else 0."""
    code = 0
    for fairness in weaker_fairness_sets():
        dropped = dropped_record(fairness)
        depth = LASSO_DEPTH if dropped == TRAFFIC_STOPS.id else SHORT_LASSO_DEPTH
        try:
            found, loop = find_lasso(lasso_config(dropped), depth, LASSO_BUDGET_MS, fairness)
        except BmcMismatch as exc:
            disagreement = Disagreement(exc.action, exc.message)
            console.print(f"lasso without {dropped}: {disagreement}", highlight=False)
            code = 1
            continue
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
    return code


def run(args: argparse.Namespace, console: Console) -> int:
    """Prove or find every selected property on every selected variant."""
    if not 0 < args.timeout <= MAX_TIMEOUT:
        raise UsageError(f"--timeout must be a number of seconds in (0, {MAX_TIMEOUT:.0f}]")
    variants = _variants(args.variant)
    props = properties_from_ids(args.property)
    jobs = _jobs(args.jobs)
    out = prepare(Path(args.out))
    check_mergeable(out / "results.json")

    def show(text: str) -> None:
        console.print(text, highlight=False)

    z3 = prove(variants, props, out, args.timeout, jobs, show, every_line=args.lines)
    code = z3.code
    if args.lasso:
        code = worst(code, _lasso(out, console))
    console.print(z3_table(z3.results))
    console.print(
        f"{len(z3.results)} z3 verdicts in {z3.seconds:.1f} s; results in {out / 'results.json'}"
    )
    return code
