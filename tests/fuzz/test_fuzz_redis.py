"""Two machines, one Redis: a campaign on a real `redis-server` (Debian's package, started
here on loopback and stopped after) finds the violation, and a campaign of another
"machine" (its own output folder and workers) pointed at the same Redis replays it at once."""

from __future__ import annotations

import time
from pathlib import Path

from fuzzing import FINDING, ONE_TEST, fuzz, logged_findings, results, stored
from nfct_spec.engines.fuzz_redis import SharedRedisDatabase


def test_machines_sharing_one_redis_share_their_finds(redis_url: str, tmp_path: Path) -> None:
    first, second = tmp_path / "machine-a", tmp_path / "machine-b"
    code_a = fuzz(first, "--workers", "1", "--redis", redis_url, tests=ONE_TEST)
    kept = stored(first)
    code_b = fuzz(second, "--workers", "1", "--redis", redis_url, tests=ONE_TEST)
    finding = logged_findings(second)[FINDING]
    (result,) = [
        r
        for r in results(second)["results"]
        if r["engine"] == "hypofuzz" and r["property"] == "table-bound"
    ]
    assert code_a == 0 and code_b == 0
    assert list(kept) == [finding.test] and kept[finding.test] > 0
    assert finding.run <= 2 * kept[finding.test] + 1
    assert result["verdict"] == "violated" and redis_url in result["scope"]


def test_a_save_on_one_machine_reaches_the_listeners_of_another(redis_url: str) -> None:
    here, there = SharedRedisDatabase(redis_url), SharedRedisDatabase(redis_url)
    heard: list[object] = []
    there.add_listener(heard.append)
    try:
        time.sleep(0.3)  # the subscription is live once the reader thread has polled
        here.save(b"key", b"value")
        deadline = time.monotonic() + 5
        while not heard and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        there.remove_listener(heard.append)
    assert heard == [("save", (b"key", b"value"))]
