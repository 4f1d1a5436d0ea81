"""Helpers of the fuzzing tests: small campaigns with real HypoFuzz workers and databases.

Every campaign here fuzzes 2.6.31 for `table-bound` (an expected violation found within seconds)
and ends once it is found and kept in the database (`--stop-when-found`). `TWO_TESTS` is the
`tiny` preset: its sysctl writes give it a full and a quiet test, one per worker of a two-worker
campaign. `ONE_TEST` is `tiny-quiet.json`, the same config without the sysctl writes, so its
own quiet slice and a campaign of one test: the tests that carry examples from one campaign to
the next use it, since with two tests HypoFuzz may schedule the one that kept no example first
and find the violation by search before it replays the other.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nfct_spec.cli import main
from nfct_spec.engines.fuzz_campaign import campaign_tests, load_campaign, open_database
from nfct_spec.engines.fuzz_harvest import stored_examples
from nfct_spec.engines.fuzz_log import Finding, LogReader

CONFIG = Path(__file__).with_name("tiny-quiet.json")
TWO_TESTS = ("--preset", "tiny", "--variant", "2.6.31")
ONE_TEST = ("--config", str(CONFIG))
SEARCH = ("--property", "table-bound", "--hours", "0.05")
FINDING = ("2.6.31", "table-bound")


def fuzz(out: Path, *extra: str, tests: tuple[str, ...] = TWO_TESTS) -> int:
    """`nfct-spec fuzz` on a small campaign, ending once the finding is kept."""
    return main(["fuzz", *tests, *SEARCH, "--stop-when-found", "--out", str(out), *extra])


def logged_findings(out: Path) -> dict[tuple[str, str], Finding]:
    """What the workers of the last campaign in `out` logged, per (variant, property)."""
    return LogReader(out / "fuzz" / "campaign" / "workers").read().findings


def stored(out: Path) -> dict[str, int]:
    """How many examples the database of the last campaign in `out` holds, per test."""
    campaign = load_campaign(out / "fuzz" / "campaign")
    database = open_database(campaign.database)
    return {
        t.name: len(stored_examples(database, t.database_key))
        for t in campaign_tests(campaign, log=False)
    }


def results(out: Path) -> dict[str, Any]:
    """The results file of `out`."""
    data: dict[str, Any] = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return data
