"""The `nfct-spec` subcommands: one module each, with `add_parser(subparsers)` and
`run(args, console) -> exit code`. `nfct_spec.cli` registers every module listed here."""

from __future__ import annotations

from nfct_spec.commands import (
    actions,
    check,
    doc,
    eras,
    explore,
    fuzz,
    kernel,
    prove,
    replay,
    trace,
)

COMMAND_MODULES = (check, eras, actions, replay, trace, doc, kernel, prove, explore, fuzz)
