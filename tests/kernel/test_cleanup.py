"""The oracle leaves the host as it found it: on exceptions, SIGINT, SIGTERM, and after SIGKILL.

The signal tests run a scenario in a subprocess, wait until it has lowered the global
``nf_conntrack_max`` (so it is mid-run), signal it, and check that the namespace is gone and
the sysctl is back.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import nfct_spec.kernel
from nfct_spec.kernel import netns
from nfct_spec.kernel.scenarios import SCENARIOS, run_scenario, run_scenario_with

pytestmark = pytest.mark.kernel

MAX = "net.netfilter.nf_conntrack_max"
LIMIT = 37


def current_netns() -> str:
    return os.readlink("/proc/thread-self/ns/net")


@pytest.fixture
def host_state(live_kernel: None) -> Iterator[str]:
    """The original ``nf_conntrack_max``; after the test, assert nothing of ours is left."""
    original = netns.read_sysctl(MAX)
    before = set(netns.list_namespaces())
    yield original
    assert netns.read_sysctl(MAX) == original
    assert set(netns.list_namespaces()) <= before
    assert not netns.JOURNAL_PATH.exists()


def test_sandbox_restores_sysctls_and_removes_namespace_after_an_exception(
    host_state: str,
) -> None:
    home = current_netns()
    with pytest.raises(RuntimeError, match="boom"), netns.sandbox() as box:
        name = box.netns.name
        box.set_sysctl(MAX, LIMIT, per_netns=False)
        box.set_sysctl("net.netfilter.nf_conntrack_udp_timeout", 2, per_netns=True)
        assert netns.read_sysctl(MAX) == str(LIMIT)
        assert netns.JOURNAL_PATH.exists()
        with box.netns.entered():
            assert current_netns() != home
            raise RuntimeError("boom")
    assert current_netns() == home
    assert name not in netns.list_namespaces()
    assert netns.read_sysctl(MAX) == host_state


def test_sandbox_leaves_namespaces_it_did_not_create_alone(host_state: str) -> None:
    foreign = f"nfcttest-{secrets.token_hex(4)}"
    live_twin = f"{netns.PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
    subprocess.run(["ip", "netns", "add", foreign], check=True)
    try:
        subprocess.run(["ip", "netns", "add", live_twin], check=True)
        try:
            with netns.sandbox():
                pass
            present = os.listdir(netns.NETNS_DIR)
            assert foreign in present
            assert live_twin in present, "a namespace whose creator is alive is not an orphan"
        finally:
            subprocess.run(["ip", "netns", "del", live_twin], check=True)
    finally:
        subprocess.run(["ip", "netns", "del", foreign], check=True)


def _start_table_full() -> subprocess.Popen[str]:
    src = Path(nfct_spec.kernel.__file__).resolve().parents[2]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))
    argv = [sys.executable, "-m", "nfct_spec.kernel.scenarios", "table-full", "-v"]
    argv += ["-p", f"limit={LIMIT}", "-p", "probes=40", "-p", "probe_every=0.25"]
    return subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _wait_for_limit(proc: subprocess.Popen[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while netns.read_sysctl(MAX) != str(LIMIT):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            _, err = proc.communicate()
            pytest.fail(f"scenario never lowered {MAX} (rc={proc.returncode}):\n{err}")
        time.sleep(0.005)
    time.sleep(0.3)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_mid_run_restores_conntrack_max_and_removes_the_namespace(
    host_state: str, signum: signal.Signals
) -> None:
    proc = _start_table_full()
    try:
        _wait_for_limit(proc)
        assert netns.list_namespaces(), "the run's namespace exists while it runs"
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode in (-signum, 128 + signum), err
    assert f"interrupted by {signum.name}" in err
    assert netns.read_sysctl(MAX) == host_state
    assert not [n for n in netns.list_namespaces() if n.startswith(f"{netns.PREFIX}{proc.pid}-")]


def test_a_run_killed_with_sigkill_is_repaired_by_the_next_run(host_state: str) -> None:
    proc = _start_table_full()
    try:
        _wait_for_limit(proc)
        proc.kill()
        proc.wait()
        assert netns.read_sysctl(MAX) == str(LIMIT), "nothing can clean up after SIGKILL"
        orphans = [n for n in netns.list_namespaces() if n.startswith(f"{netns.PREFIX}{proc.pid}-")]
        assert orphans
        with netns.host_lock():
            repaired = netns.recover_stale()
        assert f"restored {MAX}={host_state}" in repaired
        assert f"removed orphaned namespace {orphans[0]}" in repaired
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        with netns.host_lock():
            netns.recover_stale()


def test_without_root_the_oracle_says_why_and_touches_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    reason = netns.unavailable_reason()
    assert reason is not None and "root" in reason
    with pytest.raises(netns.KernelUnavailable, match="root"):
        run_scenario("reliable-flush", flows=1)


def test_a_missing_nft_is_named_with_the_package_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr("shutil.which", lambda tool: None if tool == "nft" else "/x")
    reason = netns.unavailable_reason()
    assert reason is not None and "nftables" in reason


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"flows": 0}, "outside"),
        ({"flows": 2.5}, "integer"),
        ({"drain_timeout": 600.0}, "outside"),
        ({"bogus": 1}, "unknown parameter"),
    ],
)
def test_bad_parameters_are_rejected_before_anything_is_touched(
    params: dict[str, int | float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        run_scenario_with("reliable-flush", dict(params))


def test_every_scenario_bounds_all_its_waits() -> None:
    for scenario in SCENARIOS.values():
        for name, default in scenario.defaults.items():
            if isinstance(default, float):
                limit = scenario.limits.get(name)
                assert limit is not None, f"{scenario.name}.{name} has no bound"
                high = limit[1]
                assert isinstance(high, float) and high <= 10.0
