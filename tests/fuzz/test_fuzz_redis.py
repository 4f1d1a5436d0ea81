"""Two machines, one Redis: a campaign on a real `redis-server` (Debian's package, started
here on loopback and stopped after) finds the violation, and a campaign of another
"machine" (its own output folder and workers) pointed at the same Redis replays it at once."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fuzzing import FINDING, fuzz, logged_findings, results, stored


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


def test_machines_sharing_one_redis_share_their_finds(redis_url: str, tmp_path: Path) -> None:
    first, second = tmp_path / "machine-a", tmp_path / "machine-b"
    code_a = fuzz(first, "--workers", "1", "--redis", redis_url)
    kept = stored(first)
    code_b = fuzz(second, "--workers", "1", "--redis", redis_url)
    finding = logged_findings(second)[FINDING]
    (result,) = [
        r
        for r in results(second)["results"]
        if r["engine"] == "hypofuzz" and r["property"] == "table-bound"
    ]
    assert code_a == 0 and code_b == 0
    assert sum(kept.values()) > 0
    assert finding.run <= 2 * kept[finding.test] + 1
    assert result["verdict"] == "violated" and redis_url in result["scope"]
