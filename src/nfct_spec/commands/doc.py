"""`nfct-spec doc`: generate the specification document (HTML site and Markdown) from the
chapters, the catalogue, the claims, the action docstrings and the latest results."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from nfct_spec.commands.common import UsageError
from nfct_spec.docs.build import build, load_results, update_readme
from nfct_spec.docs.content import DocError
from nfct_spec.outdir import prepare


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `doc`."""
    doc = sub.add_parser("doc", help="generate the specification document")
    doc.add_argument("-o", "--out", default="nfct-spec-out/doc", help="output folder")
    doc.add_argument(
        "--results",
        default="nfct-spec-out/results.json",
        help="results file written by `nfct-spec check`",
    )
    doc.add_argument(
        "--update-readme",
        metavar="README",
        help="also regenerate the property table of this README",
    )


def run(args: argparse.Namespace, console: Console) -> int:
    """Write the document and say where it is."""
    try:
        if args.update_readme:
            changed = update_readme(Path(args.update_readme))
            console.print(f"{args.update_readme}: {'updated' if changed else 'already up to date'}")
        results = Path(args.results)
        doc = load_results(results)
        pages = build(prepare(Path(args.out)), results, doc)
    except DocError as exc:
        raise UsageError(str(exc)) from None
    console.print(
        f"wrote {len(pages)} pages to {Path(args.out) / 'index.html'} "
        f"(Markdown in {Path(args.out) / 'md'})"
    )
    return 0
