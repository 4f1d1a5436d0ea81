"""`nfct-spec replay TRACE`: check a trace against the model, naming the first step that is
not enabled or does not match."""

from __future__ import annotations

import argparse

from rich.console import Console

from nfct_spec.commands.common import checked_variant
from nfct_spec.replay import replay
from nfct_spec.traces import load_trace


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `replay`."""
    rep = sub.add_parser("replay", help="replay a trace against the model")
    rep.add_argument("trace")


def run(args: argparse.Namespace, console: Console) -> int:
    """Replay a trace file against the model."""
    trace = load_trace(args.trace)
    checked_variant(trace.config.variant)
    report = replay(trace)
    console.print(
        ("[green]ok[/green]: " if report.ok else "[red]FAILED[/red]: ") + report.message,
        highlight=False,
    )
    return 0 if report.ok else 1
