"""Trace files: exact round trips and one-line errors naming the field and step."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from helpers import REUSED_SLOT, step
from nfct_spec.files import InputError
from nfct_spec.minimize import replay_steps
from nfct_spec.models.presets import preset
from nfct_spec.models.state import initial_state
from nfct_spec.replay import replay
from nfct_spec.traces import (
    Trace,
    TraceError,
    load_trace,
    make_trace,
    save_trace,
    trace_from_json,
    trace_to_json,
)

OLDER = Path(__file__).parent / "data" / "older-trace.json"
"""The first states of a trace written before conntracks lived in memory slots."""


def _trace() -> Trace:
    config = preset("ci", "2.6.31")
    steps = (
        step("nf_conntrack_in", flow=0, packet="new", slot=0),
        step("__nf_conntrack_confirm", slot=0),
        step("ctnetlink_del_conntrack", flow=0, requester="conntrack"),
    )
    path = replay_steps(config, steps)
    assert path is not None
    return make_trace(config, path, initial_state(config), {"engine": "test"})


def _reuse_trace() -> Trace:
    """A slot freed and allocated again while the logger still holds a message of its first
    conntrack: freed observer records, `previous`, messages with observer uids."""
    config = preset("ci", "2.6.31")
    path = replay_steps(config, REUSED_SLOT)
    assert path is not None
    return make_trace(config, path, initial_state(config), {"engine": "test"})


def _doc() -> dict[str, Any]:
    return json.loads(json.dumps(trace_to_json(_trace())))


@pytest.mark.parametrize("build", [_trace, _reuse_trace])
def test_a_trace_round_trips_exactly_through_its_file(build: Any, tmp_path: Path) -> None:
    trace = build()
    save_trace(trace, tmp_path / "t.json")
    again = load_trace(tmp_path / "t.json")
    assert (again.config, again.states, again.steps) == (trace.config, trace.states, trace.steps)
    assert [type(s.kernel) for s in again.states] == [type(s.kernel) for s in trace.states]
    assert trace_to_json(again) == trace_to_json(trace)


def test_the_reuse_trace_has_what_the_round_trip_is_meant_to_cover() -> None:
    states = _reuse_trace().states
    assert any(not r.live for s in states for r in s.ghost.records)
    assert any(flow >= 0 for s in states for flow, _ in s.ghost.previous)
    assert any(m.uid >= 0 for s in states for sock in s.kernel.sockets for m in sock.queue)
    assert states[-1].ghost.next_uid == 2 and states[-1].kernel.cts[2] is not None


def test_the_file_is_itf_with_action_and_arguments_per_state() -> None:
    doc = _doc()
    assert doc["#meta"]["format"] == "ITF" and doc["vars"] == ["kernel", "ghost"]
    assert doc["states"][0]["#meta"]["action"] == "init"
    assert doc["states"][3]["#meta"] == {
        "index": 3,
        "action": "ctnetlink_del_conntrack",
        "args": {"flow": 0, "requester": "conntrack"},
    }
    cts = doc["states"][2]["kernel"]["cts"]
    assert cts[0]["tag"] == "Allocated" and cts[0]["value"]["flow"] == 0
    assert cts[1:] == [{"tag": "Free", "value": "U_OF_UNIT"}] * 3
    assert doc["states"][0]["ghost"]["previous"][0] == {"#tup": [-1, 0]}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("states"), "states: missing"),
        (lambda d: d["states"][2]["kernel"].pop("ct_count"), "states[2].kernel.ct_count: missing"),
        (
            lambda d: d["states"][2]["kernel"].__setitem__("ct_count", "x"),
            "states[2].kernel.ct_count",
        ),
        (lambda d: d["states"][1]["#meta"].pop("action"), "states[1].#meta.action"),
        (
            lambda d: d["states"][1]["ghost"].__setitem__("previous", [[]]),
            "states[1].ghost.previous[0]",
        ),
        (
            lambda d: d["states"][2]["kernel"]["cts"].__setitem__(1, None),
            "states[2].kernel.cts[1]: expected an ITF variant",
        ),
        (
            lambda d: d["states"][2]["kernel"]["cts"][0]["value"].__setitem__("timer", True),
            "states[2].kernel.cts[0].value.timer",
        ),
        (
            lambda d: d["states"][2]["ghost"]["records"][0]["seen"][1].pop("newer"),
            None,
        ),
        (
            lambda d: d["states"][2]["ghost"]["records"][0].__setitem__("color", 1),
            "states[2].ghost.records[0].color: unknown field",
        ),
        (lambda d: d["#meta"]["config"].__setitem__("flows", 0), "#meta.config: field 'flows'"),
        (lambda d: d.__setitem__("loop", 99), "loop"),
    ],
)
def test_a_malformed_trace_is_rejected_naming_the_field(mutate: Any, message: str | None) -> None:
    doc = _doc()
    mutate(doc)
    if message is None:  # a field with a default may be left out
        assert trace_from_json(doc).states == _trace().states
        return
    with pytest.raises(TraceError) as info:
        trace_from_json(doc)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_a_trace_of_an_older_version_is_refused_saying_so() -> None:
    doc = json.loads(OLDER.read_text())
    with pytest.raises(InputError) as info:
        load_trace(OLDER)
    assert ": #meta.config.max_conntracks: written by an older nfct-spec" in str(info.value)
    doc["#meta"]["config"].pop("max_conntracks")
    with pytest.raises(TraceError) as info:
        trace_from_json(doc)
    assert str(info.value).startswith("states[0].kernel.count: written by an older nfct-spec")
    assert "\n" not in str(info.value)


def test_replay_names_the_first_step_that_does_not_match() -> None:
    doc = _doc()
    doc["states"][2]["kernel"]["ct_count"] = 7
    report = replay(trace_from_json(doc))
    assert not report.ok and report.step == 2 and "kernel.ct_count" in report.message


def test_replay_names_the_first_field_that_differs_inside_a_slot() -> None:
    doc = _doc()
    doc["states"][2]["kernel"]["cts"][0]["value"]["timer"] = 5
    report = replay(trace_from_json(doc))
    assert not report.ok and report.step == 2
    assert "kernel.cts[0].timer (recorded 5, model gives 2)" in report.message


def test_replay_names_a_slot_recorded_free_that_the_model_allocates() -> None:
    doc = _doc()
    doc["states"][1]["kernel"]["cts"][0] = {"tag": "Free", "value": "U_OF_UNIT"}
    report = replay(trace_from_json(doc))
    assert not report.ok and report.step == 1
    assert "kernel.cts[0] (recorded None, model gives Conntrack(flow=0" in report.message


def test_replay_names_the_first_step_that_is_not_enabled() -> None:
    doc = _doc()
    doc["states"][2]["#meta"]["args"] = {"slot": 3}
    report = replay(trace_from_json(doc))
    assert not report.ok and report.step == 2 and "not enabled" in report.message


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"slot": 9}, "argument 'slot' must be between 0 and 3, got 9"),
        ({"uid": 0}, "unexpected argument 'uid'"),
        ({}, "missing argument 'slot'"),
    ],
)
def test_replay_names_an_argument_outside_the_actions_domain(
    args: dict[str, Any], message: str
) -> None:
    doc = _doc()
    doc["states"][2]["#meta"]["args"] = args
    report = replay(trace_from_json(doc))
    assert not report.ok and report.step == 2
    assert message in report.message and "__nf_conntrack_confirm" in report.message
    assert "\n" not in report.message


def test_a_trace_that_replays_is_reported_ok() -> None:
    assert replay(_trace()).ok
    assert replay(_reuse_trace()).ok
