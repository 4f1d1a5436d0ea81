"""Fixtures of the fuzzing tests (helpers in `fuzzing`). HypoFuzz and the Redis client come
with the `fuzz` extra, which `scripts/test` installs: without them the tests skip, except
under CI, where that is a failure.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import time
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


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A throw-away redis-server on 127.0.0.1 (no persistence), stopped after the test."""
    server = shutil.which("redis-server")
    if server is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed; scripts/test installs it as root")
        pytest.skip("redis-server is not installed (Debian package redis-server)")
    port = _free_port()
    proc = subprocess.Popen(
        [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
