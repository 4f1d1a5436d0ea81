"""The history oracle over whole suite members: every transition of each member of the `ci`
suite (observers of the FULL level, no reduction) checked against the complete-history forms of
the properties (tests/explorer/history_forms.py), as tests/explorer/test_observers_match_history.py
does for the first states of each member.

Usage: python scripts/oracle.py [--limit N] [--variant V]...   (prints one line per member)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "tests" / "explorer")]

from test_observers_match_history import MEMBERS, compare  # noqa: E402


def main() -> int:
    """Compare the two forms on every selected member; exit 1 on the first disagreement."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="states per member (all)")
    parser.add_argument("--variant", action="append", help="variant (repeatable; all)")
    args = parser.parse_args()
    for variant, config in MEMBERS:
        if args.variant and variant not in args.variant:
            continue
        started = time.process_time()
        try:
            transitions, shown = compare(config, args.limit)
        except AssertionError as exc:
            print(f"{variant} {config.name}: the forms disagree: {exc}")
            return 1
        seconds = time.process_time() - started
        found = ", ".join(f"{k} {v}" for k, v in shown.items() if v)
        print(
            f"{variant} {config.name}: {transitions} transitions agree in {seconds:.0f} s ({found})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
