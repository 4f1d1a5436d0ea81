"""Fixtures of the fuzzing tests (helpers in `fuzzing`). HypoFuzz and the Redis client come
with the `fuzz` extra, which `scripts/test` installs: without them the tests skip, except
under CI, where that is a failure.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from fuzzing import fuzz


def _require(module: str, what: str) -> None:
    if importlib.util.find_spec(module) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{what} is not installed; scripts/test installs the fuzz extra")
        pytest.skip(f"{what} is not installed (pip install 'nfct-spec[fuzz]')")


@pytest.fixture(autouse=True)
def _fuzz_extra() -> None:
    _require("hypofuzz", "HypoFuzz")
    _require("redis", "the redis client")


@pytest.fixture(scope="session")
def first_campaign(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """One campaign of two workers on a fresh database: (exit code, output folder)."""
    _require("hypofuzz", "HypoFuzz")
    out = tmp_path_factory.mktemp("fuzz") / "out"
    yield fuzz(out, "--workers", "2"), out
