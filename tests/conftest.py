"""Shared fixtures and the Hypothesis profiles of the test suite.

Profiles: `ci` (the default, derandomized so CI runs are reproducible), `dev` (randomised,
fewer examples) and `deep` (many examples). Choose one with HYPOTHESIS_PROFILE. No health
check is suppressed (see `SUPPRESSED_HEALTH_CHECKS` of the Hypothesis engine for why none is
expected to fire): a failed one fails its test.

`scripts/test` runs the suite in worker processes (pytest-xdist, `--dist loadgroup`). Tests
that share an expensive session fixture, or that must not run beside each other, are kept in
one worker by the groups of `SERIAL_GROUPS` and `FOLDER_GROUPS`; the groups are handed out
longest first (both in `tests/schedule.py`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from nfct_spec.cli import main
from nfct_spec.engines.hypothesis_constants import module_independent_generation
from tests.schedule import (
    FOLDER_GROUPS,
    SERIAL_GROUPS,
    GroupClock,
    longest_first,
    recorded_seconds,
)

settings.register_profile(
    "ci",
    max_examples=60,
    stateful_step_count=30,
    derandomize=True,
    database=None,
    deadline=None,
)
settings.register_profile("dev", max_examples=30, stateful_step_count=25, deadline=None)
settings.register_profile("deep", max_examples=2000, stateful_step_count=60, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session", autouse=True)
def _module_independent_hypothesis() -> Iterator[None]:
    """Every Hypothesis test of the session draws without the constants of the modules the
    worker happens to have imported (which depends on the tests it ran before), as the
    engine's searches do."""
    with module_independent_generation():
        yield


GROUPS: dict[str, str] = {}
"""Test id -> its xdist group, filled at collection."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--group-seconds-out",
        metavar="FILE",
        type=Path,
        help="write the seconds each xdist group took in this run to FILE (tests/schedule.py)",
    )


def pytest_configure(config: pytest.Config) -> None:
    out = config.getoption("group_seconds_out")
    if out is not None:
        config.pluginmanager.register(GroupClock(out, GROUPS), "group-clock")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put each test in its xdist group; a no-op without xdist. It runs before xdist's own
    hook, which reads the groups into the test ids it schedules by.

    A test that uses a fixture of `SERIAL_GROUPS`, or lives in tests/fuzz or tests/kernel,
    goes to that group; any other test goes to the group of its module, because many modules
    cache their explorations in module globals (`functools.cache`), which a worker of its own
    would compute again. `tests/unit/test_xdist_groups.py` checks that xdist turned the groups
    into the test ids it schedules by. The groups are then ordered longest first by their
    recorded seconds (`tests/schedule.py`; `scripts/test` keeps xdist from reordering them)."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        group = next((g for fixture, g in SERIAL_GROUPS.items() if fixture in names), None)
        if group is None and item.path.parent.name in FOLDER_GROUPS:
            group = item.path.parent.name
        if group is None:
            group = item.nodeid.split("::", 1)[0]
        item.add_marker(pytest.mark.xdist_group(group))
        GROUPS[item.nodeid] = group
    longest_first(items, GROUPS, recorded_seconds())


@pytest.fixture(scope="session")
def checked(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    """`nfct-spec check` at its default budget, run once per session: (exit code, out dir)."""
    out = tmp_path_factory.mktemp("check") / "out"
    return main(["check", "--out", str(out)]), out
