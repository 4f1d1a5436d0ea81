"""Pinned state counts of the configs of `configs/` (the era configs of the smp granularity and
of the 6.x worker, and the namespace-exit configs): a regression test of the smp steps, the
eras and namespace exit, as `test_pinned_counts` is of the atomic model. The counts come from
the figures record (block `pinned-eras`); re-pin with `python scripts/pin_counts.py`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from helpers import explore_pinned, figures
from nfct_spec.models.config import config_from_json

ROOT = Path(__file__).resolve().parents[2]
PINNED = figures("pinned-eras")["rows"]


def test_every_config_file_is_pinned() -> None:
    files = sorted(f"configs/{p.name}" for p in (ROOT / "configs").glob("*.json"))
    assert [row["file"] for row in PINNED] == files


@pytest.mark.parametrize("row", PINNED, ids=[row["file"] for row in PINNED])
def test_each_config_file_has_its_pinned_state_counts(row: dict[str, Any]) -> None:
    config = config_from_json(json.loads((ROOT / row["file"]).read_text(encoding="utf-8")))
    unreduced = explore_pinned(config, row)
    assert unreduced.stats.complete and unreduced.stats.states == row["unreduced_states"]
