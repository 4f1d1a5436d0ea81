"""`scripts/bench_premises.py`: which configs each variant's premises are searched on, and what
a cell of its table says for each outcome of a premise search."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from bench_premises import cell, configs_of

from nfct_spec.engines.premises import PremiseReach, reach


def test_the_suite_and_the_shipped_reference_config_where_there_is_one() -> None:
    assert [where for where, _ in configs_of("2.6.30")] == ["ci suite"]
    runs = dict(configs_of("6.x"))
    assert [c.name for c in runs["reference, 4 slots"]] == ["reference"]
    assert runs["reference, 4 slots"][0].slots == 4
    assert len(runs["ci suite"]) == 6


def test_a_cell_says_where_the_premise_was_reached_or_why_not() -> None:
    found = reach("one-place", configs_of("6.x")[0][1], 1_000)
    assert found is not None and cell(found, 1_000, several=True) == "depth 2 (ci.sysctl)"
    assert cell(found, 1_000, several=False) == "depth 2"
    never = PremiseReach("one-place", None, 0, 1_234, complete=True)
    assert cell(never, 1_000, several=True) == "never (1,234 states)"
    cut = PremiseReach("one-place", None, 0, 1_000, complete=False)
    assert cell(cut, 1_000, several=True) == "not within 1,000 states"
