"""The suite's xdist groups reach the scheduler (`tests/conftest.py`)."""

from __future__ import annotations

import pytest


def test_the_xdist_group_is_part_of_the_test_id(request: pytest.FixtureRequest) -> None:
    """`--dist loadgroup` schedules by a suffix that xdist's own collection hook appends to each
    test id. pytest-xdist 3.8.0 appends it by writing `item._nodeid`, which pytest 9.2 no longer
    reads: the ids then carry no group, the tests of a group are spread over the workers as
    with `--dist load`, and every module cache and the main job are computed again in each
    worker (in a run of the whole suite the main job's setup was measured twice, about 380 s
    each). pyproject.toml keeps pytest below 9.2 for this; this test fails on any such change
    instead of letting it only slow the suite down."""
    if not request.config.getoption("loadgroup", default=False):
        pytest.skip("only meaningful under --dist loadgroup, as scripts/test runs the suite")
    assert request.node.nodeid.endswith("@tests/unit/test_xdist_groups.py"), request.node.nodeid
