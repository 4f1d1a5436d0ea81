"""Shared fixtures and the Hypothesis profiles of the test suite.

Profiles: `ci` (the default, derandomized so CI runs are reproducible), `dev` (randomised,
fewer examples) and `deep` (many examples). Choose one with HYPOTHESIS_PROFILE. No health
check is suppressed (see `SUPPRESSED_HEALTH_CHECKS` of the Hypothesis engine for why none is
expected to fire): a failed one fails its test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from nfct_spec.cli import main

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


@pytest.fixture(scope="session")
def checked(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    """`nfct-spec check` at its default budget, run once per session: (exit code, out dir)."""
    out = tmp_path_factory.mktemp("check") / "out"
    return main(["check", "--out", str(out)]), out
