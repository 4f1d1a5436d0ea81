"""`nfct-spec trace show|html|minimize|pytest|itf-export|itf-import`: tools on one trace file.

Every subcommand loads and validates the trace first (one-line error naming the file, the
field and the step, exit 2), and checks where its output goes before doing any work. An output
file is replaced only if nfct-spec wrote it (a file of the user's, a folder or a dangling link
is refused) and only when named with `-o`: `minimize` writes FILE.min.json by default and
refuses an existing file there.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console

from nfct_spec.commands.common import UsageError, checked_variant
from nfct_spec.files import InputError, check_output, write_text
from nfct_spec.replay import replay
from nfct_spec.traces import SIGNATURE, Trace, TraceError, load_trace, save_trace
from nfct_spec.viewer.export_pytest import SIGNATURE as TEST_SIGNATURE
from nfct_spec.viewer.export_pytest import render_test
from nfct_spec.viewer.html import GENERATOR, write_page
from nfct_spec.viewer.itf import load_plain_itf, to_plain_itf
from nfct_spec.viewer.lanes import validate
from nfct_spec.viewer.minimize import minimize_trace
from nfct_spec.viewer.show import show


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `trace` and its subcommands."""
    trace = sub.add_parser("trace", help="show, render, minimize or export a trace")
    tsub = trace.add_subparsers(dest="trace_command", required=True)
    p = tsub.add_parser("show", help="the trace in the terminal")
    p.add_argument("file")
    p.add_argument("--flow", type=int, help="follow the conntracks of one flow")
    p.add_argument("--listener", help="follow one listener")
    p.add_argument("--full", action="store_true", help="full state after every step")
    p = tsub.add_parser("html", help="one self-contained HTML page")
    p.add_argument("file")
    p.add_argument("-o", "--output", required=True, help="the page to write")
    p = tsub.add_parser("minimize", help="drop steps and shrink arguments")
    p.add_argument("file")
    p.add_argument("-o", "--output", help="output file (default FILE.min.json, never overwritten)")
    p = tsub.add_parser("pytest", help="export as a pytest regression test")
    p.add_argument("file")
    p.add_argument("-o", "--output", help="the test file (default: standard output)")
    p.add_argument("--fixed", action="store_true", help="assert that the finding is gone")
    p = tsub.add_parser("itf-export", help="write plain ITF for Apalache/Quint tools")
    p.add_argument("file")
    p.add_argument("-o", "--output", required=True)
    p = tsub.add_parser("itf-import", help="read plain ITF back into a trace file")
    p.add_argument("file")
    p.add_argument("-o", "--output", required=True)


def _load(path: str) -> Trace:
    trace = load_trace(path)
    checked_variant(trace.config.variant)
    _validated(trace, path)
    return trace


def _validated(trace: Trace, path: str) -> None:
    """The viewer's consistency checks, reported like every other problem of the file."""
    try:
        validate(trace)
    except TraceError as exc:
        raise InputError("trace", path, str(exc)) from None


def _output(path: Path, explicit: bool, what: str, signature: str) -> Path:
    """Where an output goes, checked before any work is done."""
    if not explicit and (path.exists() or path.is_symlink()):
        raise UsageError(f"{path} exists; name the output with -o to replace it")
    check_output(path, what, signature)
    return path


def _minimize(args: argparse.Namespace, console: Console) -> int:
    trace = _load(args.file)
    default = Path(args.file).with_suffix(".min.json")
    out = Path(args.output) if args.output else default
    _output(out, bool(args.output), "trace", SIGNATURE)
    small = minimize_trace(trace)
    report = replay(small)
    if not report.ok:
        console.print(f"[red]minimized trace does not replay[/red]: {report.message}")
        return 1
    save_trace(small, out)
    console.print(
        f"{len(trace.steps)} steps -> {len(small.steps)} steps; {report.message}; wrote {out}",
        highlight=False,
    )
    return 0


def run(args: argparse.Namespace, console: Console) -> int:
    """Dispatch one `trace` subcommand."""
    command = args.trace_command
    if command == "itf-import":
        trace = load_plain_itf(args.file)
        checked_variant(trace.config.variant)
        _validated(trace, args.file)
        save_trace(trace, Path(args.output))
        console.print(f"wrote {args.output} ({len(trace.steps)} steps)", highlight=False)
        return 0
    if command == "minimize":
        return _minimize(args, console)
    trace = _load(args.file)
    if command == "show":
        names = [listener.name for listener in trace.config.listeners]
        if args.listener is not None and args.listener not in names:
            raise UsageError(f"--listener: no listener {args.listener!r} (have {names})")
        if args.flow is not None and not 0 <= args.flow < trace.config.flows:
            raise UsageError(f"--flow: must be in 0..{trace.config.flows - 1}")
        show(trace, console, flow=args.flow, listener=args.listener, full=args.full)
        return 0
    if command == "html":
        page = write_page(trace, Path(args.output), signature=GENERATOR)
        console.print(f"wrote {page}", highlight=False)
        return 0
    if command == "pytest":
        text = render_test(trace, source=Path(args.file).name, fixed=args.fixed)
        if args.output:
            write_text(args.output, text, "test file", TEST_SIGNATURE)
            console.print(f"wrote {args.output}", highlight=False)
        else:
            print(text, end="")
        return 0
    plain = json.dumps(to_plain_itf(trace), indent=1) + "\n"
    write_text(args.output, plain, "ITF trace", SIGNATURE)
    console.print(f"wrote {args.output} (plain ITF)", highlight=False)
    return 0
