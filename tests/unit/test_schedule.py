"""The suite's groups are handed out longest first (`tests/schedule.py`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.schedule import (
    FOLDER_GROUPS,
    RECORD,
    SERIAL_GROUPS,
    GroupClock,
    group_of_report,
    longest_first,
    recorded_seconds,
)


@dataclass
class FakeTest:
    nodeid: str


@dataclass
class FakeReport:
    nodeid: str
    duration: float


def test_groups_come_longest_first_and_unmeasured_ones_after_in_collection_order() -> None:
    items = [FakeTest(n) for n in ("a1", "b1", "a2", "c1", "d1", "b2")]
    groups = {"a1": "A", "a2": "A", "b1": "B", "b2": "B", "c1": "C", "d1": "D"}
    longest_first(items, groups, {"A": 5.0, "B": 40.0})
    assert [i.nodeid for i in items] == ["b1", "b2", "a1", "a2", "c1", "d1"]


def test_a_report_is_counted_in_its_group_with_or_without_xdist(tmp_path: Path) -> None:
    groups = {"tests/x.py::t": "check"}
    assert group_of_report("tests/x.py::t", groups) == "check"
    assert group_of_report("tests/y.py::t@kernel", {}) == "kernel"
    assert group_of_report("tests/y.py::t", {}) == "tests/y.py"
    out = tmp_path / "seconds.json"
    clock = GroupClock(out, groups)
    for nodeid, duration in (
        ("tests/x.py::t", 2.0),
        ("tests/y.py::u@y", 1.5),
        ("tests/x.py::t", 0.5),
    ):
        clock.pytest_runtest_logreport(FakeReport(nodeid, duration))  # type: ignore[arg-type]
    controller = SimpleNamespace(config=SimpleNamespace())  # no `workerinput`: not a worker
    clock.pytest_sessionfinish(controller)  # type: ignore[arg-type]
    assert recorded_seconds(out) == {"check": 2.5, "y": 1.5}
    assert list(json.loads(out.read_text())["seconds"]) == ["check", "y"]


def test_the_recorded_groups_are_groups_of_this_suite() -> None:
    """A record that names no current group orders nothing: every group it names must still
    exist (module groups by their path, the serial groups by name)."""
    names = set(recorded_seconds(RECORD))
    assert names, "tests/group_seconds.json records no group"
    tests = Path(__file__).resolve().parents[1]
    serial = {*SERIAL_GROUPS.values(), *FOLDER_GROUPS}
    stale = {g for g in names if g not in serial and not (tests.parent / g).is_file()}
    assert not stale, f"groups recorded that the suite no longer has: {sorted(stale)}"


@pytest.mark.parametrize("text", ["{", '{"seconds": [1, 2]}', '{"seconds": {"a": "x"}}', "[]"])
def test_a_record_that_is_not_one_is_a_clear_error(tmp_path: Path, text: str) -> None:
    bad = tmp_path / "seconds.json"
    bad.write_text(text)
    with pytest.raises(pytest.UsageError, match="not a record of group seconds"):
        recorded_seconds(bad)
    assert recorded_seconds(tmp_path / "missing.json") == {}
