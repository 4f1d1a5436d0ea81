"""`nfct-spec actions`: the action registry, as a table or as JSON."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.table import Table

from nfct_spec.commands.common import checked_variant
from nfct_spec.models.registry import ACTIONS, actions_for


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `actions`."""
    actions = sub.add_parser("actions", help="list the action registry")
    actions.add_argument("--json", action="store_true")
    actions.add_argument("--variant")


def _where(variants: frozenset[str], granularities: frozenset[str]) -> str:
    """The variants, and the granularity when the action has only one."""
    text = ", ".join(sorted(variants))
    return text if len(granularities) > 1 else f"{text} ({', '.join(granularities)} only)"


def run(args: argparse.Namespace, console: Console) -> int:
    """List the action registry (with `--variant`, its atomic actions)."""
    actions = actions_for(checked_variant(args.variant)) if args.variant else ACTIONS
    if args.json:
        data = [
            {
                "name": a.name,
                "kind": a.kind,
                "variants": sorted(a.variants),
                "granularities": sorted(a.granularities),
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
        table.add_row(a.name, a.kind, _where(a.variants, a.granularities), a.summary)
    console.print(table)
    return 0
