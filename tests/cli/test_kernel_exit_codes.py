"""`nfct-spec kernel` exit codes without a live kernel: 4 when the kernel cannot be used, 5
when it answers something the harness cannot handle, each in one line on stderr; the trace
validator refusing a run as too large is a result, not an error. The kernel is replaced by
stand-ins here, so these run anywhere (tests/kernel runs the real thing as root)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from nfct_spec.cli import main
from nfct_spec.commands import kernel as command
from nfct_spec.kernel import netns, scenarios
from nfct_spec.kernel.netlink import CtnlError, NetlinkFormatError
from nfct_spec.kernel.observe import FlowEvent, ObservedTrace, ParamValue


def _raising(exc: BaseException) -> Callable[..., ObservedTrace]:
    def run(name: str, params: dict[str, ParamValue], **_: object) -> ObservedTrace:
        raise exc

    return run


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_no_root_or_namespaces_exits_4_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(netns, "unavailable_reason", lambda: "needs root (euid is 1000)")
    assert main(["kernel", "run", "expiry"]) == 4
    assert "live kernel unavailable: needs root (euid is 1000)" in _one_line(capsys)


@pytest.mark.parametrize(
    ("exc", "code", "text"),
    [
        (NetlinkFormatError("bad nlmsg_len 3 at offset 0"), 5, "cannot handle: bad nlmsg_len 3"),
        (CtnlError(22, "Invalid argument"), 5, "cannot handle: [Errno 22] Invalid argument"),
        (netns.CleanupError("remove namespace nfctspec-1-ab: busy"), 5, "cannot handle: remove"),
        (OSError("nft -f - failed (1): no nf_tables"), 4, "unavailable: nft -f - failed"),
    ],
    ids=["netlink parse error", "ctnetlink error", "cleanup failed", "setup refused"],
)
def test_a_live_kernel_failure_has_its_own_exit_code_and_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    exc: BaseException,
    code: int,
    text: str,
) -> None:
    monkeypatch.setattr(command, "run_scenario_with", _raising(exc))
    assert main(["kernel", "run", "expiry"]) == code
    assert text in _one_line(capsys)


def test_the_scenarios_module_uses_the_same_exit_codes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(netns, "unavailable_reason", lambda: "needs root (euid is 1000)")
    assert scenarios.main(["expiry"]) == 4
    assert "live kernel unavailable" in _one_line(capsys)
    monkeypatch.setattr(scenarios, "run_scenario_with", _raising(NetlinkFormatError("short")))
    assert scenarios.main(["expiry"]) == 5
    _one_line(capsys)


def test_bad_parameters_are_refused_before_the_kernel_is_touched(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    touched: list[str] = []
    monkeypatch.setattr(netns, "unavailable_reason", lambda: touched.append("kernel") or "stand-in")
    assert main(["kernel", "run", "reliable-flush", "-p", "flows=100000"]) == 2
    assert "outside" in _one_line(capsys) and not touched


def test_a_run_too_large_to_validate_is_a_result_not_an_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    flows = tuple(FlowEvent(0.1 * i, i, i + 1, "tcp", 20000 + i, 9) for i in range(20))
    trace = ObservedTrace("expiry", {}, "6.18", (), flows)
    monkeypatch.setattr(command, "run_scenario_with", lambda *a, **k: trace)
    monkeypatch.setattr(command, "verdicts", lambda t: [])
    assert main(["kernel", "run", "expiry", "-o", str(tmp_path / "rec.json")]) == 0
    out = capsys.readouterr().out
    assert "not searched: 20 TCP connections" in " ".join(out.split())
    assert (tmp_path / "rec.json").read_text().startswith('{\n "format": "nfct-spec-observed/1"')
