"""`nfct-spec doc`: generate the specification document (HTML site and Markdown) from the
chapters, the catalogue, the claims, the action docstrings and the latest results; with
`--update-readme`, also regenerate the README's generated blocks (the property table from the
catalogue, the measured figures from the figures record). `--update-readme` alone, with no
results written yet and none named, only updates the README."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from nfct_spec.commands.common import UsageError
from nfct_spec.docs.build import build, load_results, update_readme
from nfct_spec.docs.content import DocError
from nfct_spec.outdir import prepare

DEFAULT_RESULTS = Path("nfct-spec-out/results.json")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `doc`."""
    doc = sub.add_parser("doc", help="generate the specification document")
    doc.add_argument("-o", "--out", default="nfct-spec-out/doc", help="output folder")
    doc.add_argument(
        "--results",
        help=f"results file written by `nfct-spec check` (default {DEFAULT_RESULTS})",
    )
    doc.add_argument(
        "--update-readme",
        metavar="README",
        help="also regenerate the generated blocks of this README (the property table, and "
        "the measured figures from the figures record)",
    )
    doc.add_argument(
        "--figures",
        metavar="FILE",
        help="the figures record the README's figures are rendered from "
        "(default: docs/figures.json beside the README)",
    )


def run(args: argparse.Namespace, console: Console) -> int:
    """Write the document and say where it is."""
    try:
        if args.update_readme:
            figures = Path(args.figures) if args.figures else None
            changed = update_readme(Path(args.update_readme), figures)
            console.print(f"{args.update_readme}: {'updated' if changed else 'already up to date'}")
            if args.results is None and not DEFAULT_RESULTS.exists():
                return 0
        results = Path(args.results) if args.results else DEFAULT_RESULTS
        doc = load_results(results)
        pages = build(prepare(Path(args.out)), results, doc)
    except DocError as exc:
        raise UsageError(str(exc)) from None
    console.print(
        f"wrote {len(pages)} pages to {Path(args.out) / 'index.html'} "
        f"(Markdown in {Path(args.out) / 'md'})"
    )
    return 0
