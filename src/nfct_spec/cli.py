"""The `nfct-spec` command line.

Exit codes, the same for every command:

  0  every verdict as expected
  1  some verdict not as expected (or a trace that does not replay, a Z3 encoding that
     disagrees with the model, a kernel recording the model does not explain, a live-kernel
     monitor not as expected)
  2  bad input or usage: a file that cannot be read or has the wrong shape, an unknown option
     or value, an output that would replace a file of the user's (one line on stderr)
  3  unknown: a budget or a solver timeout left some verdict undecided, or no run reached
     the premise of an entry expected to hold (the verdict would be vacuous)
  4  the live kernel is unavailable (not root, no network namespaces, no conntrack or
     ctnetlink, tools missing)
  5  the live kernel answered something nfct-spec cannot handle (say a netlink message it
     cannot parse), reported in one line
  130 interrupted (128 + the signal's number for SIGTERM and SIGHUP during a kernel run)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from rich.console import Console

from nfct_spec.commands import COMMAND_MODULES
from nfct_spec.commands.common import UsageError
from nfct_spec.docs.content import DocError
from nfct_spec.files import InputError, ShapeError
from nfct_spec.models.config import ConfigError

INPUT_ERRORS = (UsageError, InputError, ShapeError, ConfigError, DocError)
"""Everything that means bad input (exit 2): the files module's error, and the errors of the
decoders and checks that name a field or a value of an argument."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (errors raise UsageError instead of exiting)."""
    parser = _Parser(
        prog="nfct-spec", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for module in COMMAND_MODULES:
        module.add_parser(sub)
    return parser


def _one_line(text: str) -> str:
    return " ".join(text.split())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    console = Console()
    commands = {m.__name__.rsplit(".", 1)[-1]: m for m in COMMAND_MODULES}
    try:
        args = build_parser().parse_args(argv)
        return int(commands[args.command].run(args, console))
    except INPUT_ERRORS as exc:
        print(f"nfct-spec: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nfct-spec: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
