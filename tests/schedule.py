"""The suite's xdist groups, and the order they are handed to the workers: longest first.

`scripts/test` runs the suite on two workers with `--dist loadgroup`, which gives each worker
the next group whenever it is nearly out of tests. xdist's own order is by number of tests,
so a group of few but slow tests (the main job, the mutants, the Z3 agreement walks) can be
handed out last and leave one worker running it alone while the other idles. Handing out the
groups longest first (the classic longest-processing-time rule) keeps both busy to the end.

How long each group takes is measured, not guessed: `scripts/test --group-seconds-out FILE`
sums each group's setup, call and teardown times over a run and writes them (sorted, rounded)
to FILE; `tests/group_seconds.json` is such a record, made on the machine of the README's
figures. Groups it does not name (new tests) follow the named ones in collection order. The
record only orders the run: a stale or missing one costs time, never a result.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Protocol, TypeVar

import pytest

SERIAL_GROUPS: dict[str, str] = {
    "checked": "check",
    "live_kernel": "kernel",
    "first_campaign": "fuzz",
}
"""Fixture -> the xdist group of every test that uses it. `checked` runs the whole main job
once per worker that asks for it, so its tests share one worker; the live-kernel tests share
their scenario cache and run one at a time (each creates its own namespaces, but one at a time
keeps their timings those of an idle machine); every fuzz test (by folder, below) starts
HypoFuzz workers of its own and shares the first campaign."""
FOLDER_GROUPS = ("fuzz", "kernel")
"""Folders of tests/ whose tests form one group each (named after the folder)."""


RECORD = Path(__file__).with_name("group_seconds.json")
"""The measured seconds of each group that order the run."""


def recorded_seconds(path: Path = RECORD) -> dict[str, float]:
    """The recorded seconds of each group; empty when there is no record. A record that is
    not one stops the run with a one-line error naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        seconds = data["seconds"]
        return {str(group): float(value) for group, value in seconds.items()}
    except FileNotFoundError:
        return {}
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise pytest.UsageError(f"{path}: not a record of group seconds ({exc!r})") from None


class Test(Protocol):
    """What the ordering reads of a collected test."""

    @property
    def nodeid(self) -> str: ...


T = TypeVar("T", bound=Test)


def longest_first(items: list[T], groups: dict[str, str], seconds: dict[str, float]) -> None:
    """Reorder `items` in place so that whole groups come longest first (by `seconds`), the
    groups without a figure after them; within a group, and among groups without a figure,
    collection order is kept. `groups` maps each test id to its group."""
    first_seen: dict[str, int] = {}
    for position, item in enumerate(items):
        first_seen.setdefault(groups[item.nodeid], position)

    def key(item: T) -> tuple[float, int]:
        group = groups[item.nodeid]
        return (-seconds.get(group, -1.0), first_seen[group])

    items.sort(key=key)


def group_of_report(nodeid: str, groups: dict[str, str]) -> str:
    """The group of a test report: from the `@group` suffix xdist gives test ids, or, without
    xdist, from the collection."""
    if nodeid in groups:
        return groups[nodeid]
    if "@" in nodeid:
        return nodeid.rsplit("@", 1)[1]
    return nodeid.split("::", 1)[0]


class GroupClock:
    """Sums the seconds of each group's test phases and writes them at the end of the run."""

    def __init__(self, out: Path, groups: dict[str, str]) -> None:
        self.out = out
        self.groups = groups
        self.seconds: defaultdict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[group_of_report(report.nodeid, self.groups)] += report.duration

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.seconds or hasattr(session.config, "workerinput"):
            return
        ordered = sorted(self.seconds.items(), key=lambda kv: (-kv[1], kv[0]))
        record = {
            "about": "seconds of each xdist group of the suite in one run (tests/schedule.py)",
            "seconds": {group: round(value, 1) for group, value in ordered},
        }
        self.out.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
