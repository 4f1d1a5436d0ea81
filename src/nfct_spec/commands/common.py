"""What the subcommands share: the usage error, variant and property look-ups, configs."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from rich.table import Table

from nfct_spec.files import load_json
from nfct_spec.models.config import VARIANTS, Config, config_from_json
from nfct_spec.models.presets import preset
from nfct_spec.models.variants import MODELLED
from nfct_spec.results import Result
from nfct_spec.spec.catalogue import BY_ID, Property, lookup

DEFAULT_VARIANTS = ("2.6.30", "2.6.31", "6.x")


class UsageError(Exception):
    """Bad input: reported in one line, exit code 2."""


def load_config(path: str | Path) -> Config:
    """Read a config file; InputError (one line naming the file and the field) on any
    problem."""
    return load_json(path, "config", config_from_json)


def checked_variant(name: str) -> str:
    """`name` if it is a variant with an executable model; UsageError otherwise."""
    if name not in VARIANTS:
        raise UsageError(f"unknown variant {name!r} (known: {', '.join(VARIANTS)})")
    if name not in MODELLED:
        raise UsageError(
            f"variant {name!r} has no executable model yet (modelled: {', '.join(MODELLED)})"
        )
    return name


def configs_from_args(args: argparse.Namespace) -> list[Config]:
    """The configs named by --config or by --preset and --variant."""
    if getattr(args, "config", None):
        config = load_config(args.config)
        checked_variant(config.variant)
        if args.variant and args.variant != [config.variant]:
            raise UsageError("--variant cannot be combined with --config (the file names one)")
        return [config]
    variants = [checked_variant(v) for v in (args.variant or DEFAULT_VARIANTS)]
    return [preset(args.preset, v) for v in variants]


def properties_from_ids(ids: Sequence[str] | None) -> list[Property]:
    """The catalogue entries named by `ids` (all when none); UsageError for an unknown id."""
    if not ids:
        return list(BY_ID.values())
    try:
        return [lookup(i) for i in ids]
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None


def default_jobs() -> int:
    """Worker processes of the Z3 proofs when not told: one per CPU (each query is
    single-threaded)."""
    return os.cpu_count() or 1


OUTCOMES = {
    0: "every verdict as expected",
    1: "some verdict NOT as expected",
    3: "some verdict unknown (an expected finding not found within the budget, or an entry "
    "expected to hold whose premise no run reached)",
}
"""What a checking command's exit code says (`nfct_spec.results.exit_code`)."""


def worst(a: int, b: int) -> int:
    """The exit code of two parts of a run together: 1 before 3 before 0."""
    for code in (1, 3):
        if code in (a, b):
            return code
    return 0


def verdict_cell(result: Result) -> str:
    """`expected -> verdict`, coloured by the result's status (green as expected, yellow
    undecided, red otherwise): the cell every command's table shows."""
    colour = {"ok": "green", "unknown": "yellow"}.get(result.status, "red bold")
    return f"[{colour}]{result.expected} -> {result.verdict}[/{colour}]"


def z3_table(results: Sequence[Result]) -> Table:
    """The Z3 verdicts: property, variant, expected -> verdict, and the scope of a proof or the
    reason of anything else."""
    table = Table(title="z3: property x variant (expected -> verdict)")
    for column in ("property", "variant", "expected -> verdict", "scope / reason"):
        table.add_column(column)
    for r in results:
        table.add_row(
            r.property_id,
            r.variant,
            verdict_cell(r),
            r.scope if r.verdict == "proved" else r.reason,
        )
    return table
