"""The shipped live-kernel recordings and `nfct-spec kernel validate` (no kernel needed): each
recording is explained by the 6.x model, a recording the model cannot produce is reported at
its first unexplained event (exit 1), one the validator cannot search is "not modelled" with
its reason (exit 3), and a file that is not a recording is bad input (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nfct_spec.cli import main
from nfct_spec.kernel.recorded import (
    EXPLAINED,
    NOT_EXPLAINED,
    NOT_MODELLED,
    shipped,
    validate_recording,
)


def _edited(tmp_path: Path, name: str, edit: str) -> Path:
    (source,) = [p for p in shipped() if p.name == name]
    data = json.loads(source.read_text(encoding="utf-8"))
    events = data["events"]
    if edit == "destroy-of-another-flow":
        first = next(e for e in events if e["kind"] == "recv" and e["msg"] == "destroy")
        first["flow"] = (first["flow"] + 1) % data["params"]["flows"]
    elif edit == "without-option-change":
        data["events"] = [e for e in events if e["kind"] != "listener_option"]
    elif edit == "unknown-option":
        option = next(e for e in events if e["kind"] == "listener_option")
        option["option"] = "pktinfo"
    elif edit == "destroy-after-exit":
        read = next(e for e in events if e["kind"] == "recv")
        held = next(e["flow"] for e in events if e["kind"] == "flow" and e["flow"] != read["flow"])
        at = events.index(read)
        events.insert(at + 1, {**read, "t": read["t"] + 1.0, "flow": held})
    elif edit == "destroy-twice":
        read = next(e for e in events if e["kind"] == "recv" and e["msg"] == "destroy")
        events.insert(events.index(read) + 1, {**read, "t": read["t"] + 0.001})
    elif edit.startswith("first-destroy-at-"):
        read = next(e for e in events if e["kind"] == "recv")
        at = events.index(read)
        read["t"] = events[at + 1]["t"] = float(edit.removeprefix("first-destroy-at-"))
        data["events"] = [e for e in events if e["kind"] not in ("dump", "note")]
    elif edit == "tcp":
        for event in events:
            if event["kind"] == "flow":
                event["proto"] = "tcp"
    elif edit == "seven-flows":
        flows = [e for e in events if e["kind"] == "flow"]
        at = events.index(flows[-1])
        for n in range(data["params"]["flows"], 7):
            events.insert(at + 1, {**flows[-1], "flow": n, "sport": 20000 + n})
    path = tmp_path / f"{edit}.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_the_package_ships_recordings_of_linux_6() -> None:
    paths = shipped()
    assert len(paths) >= 6
    assert {validate_recording(p).kernel.split(".")[0] for p in paths} == {"6"}


@pytest.mark.parametrize("path", shipped(), ids=lambda p: p.stem)
def test_each_shipped_recording_is_explained_by_the_model(path: Path) -> None:
    result = validate_recording(path)
    assert result.outcome == EXPLAINED, result.detail
    assert result.events > 0


def test_validate_without_arguments_validates_the_shipped_recordings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["kernel", "validate"]) == 0
    out = capsys.readouterr().out
    assert f"{len(shipped())} recording(s)" in out


def test_a_destroy_of_the_wrong_flow_is_not_explained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _edited(tmp_path, "reliable-flush-flows3.json", "destroy-of-another-flow")
    result = validate_recording(path)
    assert result.outcome == NOT_EXPLAINED
    assert "read destroy of flow" in result.detail and "consistent states" in result.detail
    # The consistent states are described: the count, the entries waiting for redelivery
    # and each listener's queue (here empty: the worker has not resent yet).
    assert "candidates: count 2, 2 waiting, reliable []" in result.detail
    assert main(["kernel", "validate", str(path), *map(str, shipped())]) == 1


def test_a_destroy_read_twice_by_a_lone_reliable_listener_is_not_explained(
    tmp_path: Path,
) -> None:
    # The flush's DESTROYs get placeholder flows, bound as they are read: a flow once bound is
    # no longer one the pool stands for, so a second DESTROY of it has no conntrack to come from.
    path = _edited(tmp_path, "reliable-flush-flows3.json", "destroy-twice")
    result = validate_recording(path)
    assert result.outcome == NOT_EXPLAINED and "read destroy of flow" in result.detail


def test_a_full_flush_of_200_is_explained_and_a_destroy_of_the_wrong_flow_is_not(
    tmp_path: Path,
) -> None:
    name = "reliable-flush-flows200.json"
    assert validate_recording(next(p for p in shipped() if p.name == name)).outcome == EXPLAINED
    # The first DESTROY read names the next flow instead: that flow's DESTROY is then read
    # twice, which the flush's 200 conntracks cannot give a lone reliable listener.
    result = validate_recording(_edited(tmp_path, name, "destroy-of-another-flow"))
    assert result.outcome == NOT_EXPLAINED and "read destroy of flow" in result.detail


@pytest.mark.parametrize(("at", "outcome"), [("0.5", NOT_EXPLAINED), ("1.2", EXPLAINED)])
def test_an_expiry_destroy_comes_no_earlier_than_the_timeout(
    tmp_path: Path, at: str, outcome: str
) -> None:
    # expiry-flows2: the UDP timeout is written as 1 s and the flows are created at 0.053 s.
    # Nothing deletes them but their expiry, so a DESTROY read at 0.5 s has no execution, and
    # one read at 1.2 s has (the recording itself read it at 3.2 s, after a dump).
    path = _edited(tmp_path, "expiry-flows2.json", f"first-destroy-at-{at}")
    assert validate_recording(path).outcome == outcome


def test_a_run_too_large_for_the_validator_is_not_modelled(tmp_path: Path) -> None:
    path = _edited(tmp_path, "reliable-flush-flows3.json", "tcp")
    result = validate_recording(path)
    assert result.outcome == NOT_MODELLED
    assert "too large" in result.detail and "3 TCP connections" in result.detail
    assert main(["kernel", "validate", str(path)]) == 3


def test_a_run_beyond_the_search_configs_is_searched_not_refused(tmp_path: Path) -> None:
    # Seven flows (a search config has at most six): the run is searched as it is, and the
    # four flows added after the count sample of three contradict the samples that follow.
    path = _edited(tmp_path, "reliable-flush-flows3.json", "seven-flows")
    result = validate_recording(path)
    assert result.outcome == NOT_EXPLAINED and "count" in result.detail


def test_a_file_that_is_not_a_recording_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"events": []}', encoding="utf-8")
    assert main(["kernel", "validate", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0]


BUFFER_4096 = Path(__file__).with_name("data") / "reliable-flush-flows4-buffer4096-be-only.json"
"""A reliable flush of four conntracks to a listener whose buffer was granted 4,096 bytes:
Linux 6.18 queued three DESTROYs at once and refused the fourth (ENOBUFS, retried a second
later)."""


def test_the_buffer_holds_as_many_messages_as_the_6_18_accept_rule_takes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nfct_spec.kernel import conformance

    assert [conformance.capacity(b) for b in (2304, 4096, 8192, 212992)] == [1, 3, 6, 166]
    assert validate_recording(BUFFER_4096).outcome == EXPLAINED
    # One message per 2,304 bytes (the validator's earlier rule) holds one DESTROY, not three.
    monkeypatch.setattr(conformance, "capacity", lambda granted: max(1, granted // 2304))
    result = validate_recording(BUFFER_4096)
    assert result.outcome == NOT_EXPLAINED and "count 1" in result.detail


@pytest.mark.parametrize(
    "name", ["listener-close-flows3-clear-be.json", "listener-close-flows3-leave-group.json"]
)
def test_a_socket_option_changed_mid_run_is_what_explains_the_run(
    tmp_path: Path, name: str
) -> None:
    # Clearing BE (or leaving the group) is what lets the held entries be freed: the same
    # recording without the option change is not a behaviour of the model.
    assert validate_recording(next(p for p in shipped() if p.name == name)).outcome == EXPLAINED
    result = validate_recording(_edited(tmp_path, name, "without-option-change"))
    assert result.outcome == NOT_EXPLAINED and "count 0" in result.detail


def test_a_socket_option_the_model_lacks_is_not_modelled(tmp_path: Path) -> None:
    path = _edited(tmp_path, "listener-close-flows3-clear-be.json", "unknown-option")
    result = validate_recording(path)
    assert result.outcome == NOT_MODELLED
    assert "pktinfo" in result.detail and "not modelled" in result.detail
    assert main(["kernel", "validate", str(path)]) == 3


def test_a_send_to_a_congested_listener_is_refused_until_its_queue_is_empty() -> None:
    # congestion-burst3: the overrun marks the socket congested; the DESTROY of flow 3,
    # deleted after a read made room, never arrives; flow 4's, deleted once the queue was
    # read empty, does.
    (path,) = [p for p in shipped() if p.name == "congestion-burst3.json"]
    data = json.loads(path.read_text(encoding="utf-8"))
    read = [e["flow"] for e in data["events"] if e["kind"] == "recv"]
    assert read == [0, 1, 4]
    assert validate_recording(path).outcome == EXPLAINED


def test_a_run_with_more_flows_and_listeners_over_time_than_at_once_is_explained() -> None:
    # events-sysctl: seven listeners and fourteen flows, one listener and two flows in use at
    # a time; id-reuse: one tuple allocated 21 times. Model names are given back once nothing
    # refers to them.
    by_name = {p.name: p for p in shipped()}
    for name, listeners, allocations in (
        ("events-sysctl.json", 7, 14),
        ("id-reuse-rounds20.json", 1, 21),
    ):
        data = json.loads(by_name[name].read_text(encoding="utf-8"))
        assert len(data["listeners"]) == listeners
        assert sum(e["kind"] == "flow" for e in data["events"]) == allocations
        assert validate_recording(by_name[name]).outcome == EXPLAINED


def test_no_destroy_of_the_namespace_arrives_after_its_exit(tmp_path: Path) -> None:
    # netns-exit-flows3: the listener in another namespace read the one DESTROY queued before
    # the exit and nothing after it. Had a held DESTROY come after the exit, the 6.x model
    # (env_netns_exit: the event callback goes first) would not explain it.
    name = "netns-exit-flows3.json"
    assert validate_recording(next(p for p in shipped() if p.name == name)).outcome == EXPLAINED
    tampered = _edited(tmp_path, name, "destroy-after-exit")
    result = validate_recording(tampered)
    assert result.outcome == NOT_EXPLAINED and "read destroy of flow" in result.detail
    # Without the exit the same late DESTROY is a redelivery the model explains.
    data = json.loads(tampered.read_text(encoding="utf-8"))
    data["events"] = [e for e in data["events"] if e["kind"] != "netns_exit"]
    tampered.write_text(json.dumps(data), encoding="utf-8")
    assert validate_recording(tampered).outcome == EXPLAINED
