"""Helpers of the fuzzing tests: small campaigns with real HypoFuzz workers and databases.

Every campaign here fuzzes the `tiny` preset of 2.6.31 for `table-bound` (an expected
violation found within seconds) and ends once it is found and kept in the database
(`--stop-when-found`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nfct_spec.cli import main
from nfct_spec.engines.fuzz_campaign import campaign_tests, load_campaign, open_database
from nfct_spec.engines.fuzz_harvest import stored_examples
from nfct_spec.engines.fuzz_log import Finding, LogReader

CAMPAIGN = (
    "--preset",
    "tiny",
    "--variant",
    "2.6.31",
    "--property",
    "table-bound",
    "--hours",
    "0.05",
)
FINDING = ("2.6.31", "table-bound")


def fuzz(out: Path, *extra: str) -> int:
    """`nfct-spec fuzz` on the small campaign, ending once the finding is kept."""
    return main(["fuzz", *CAMPAIGN, "--stop-when-found", "--out", str(out), *extra])


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
