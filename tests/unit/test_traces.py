"""Trace files: exact round trips and one-line errors naming the field and step."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from helpers import new_confirmed, step
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


def _trace() -> Trace:
    config = preset("ci", "2.6.31")
    steps = (*new_confirmed(0, 0), step("ctnetlink_del_conntrack", flow=0, requester="conntrack"))
    path = replay_steps(config, steps)
    assert path is not None
    return make_trace(config, path, initial_state(config), {"engine": "test"})


def _doc() -> dict[str, Any]:
    return json.loads(json.dumps(trace_to_json(_trace())))


def test_a_trace_round_trips_exactly_through_its_file(tmp_path: Path) -> None:
    trace = _trace()
    save_trace(trace, tmp_path / "t.json")
    again = load_trace(tmp_path / "t.json")
    assert (again.config, again.states, again.steps) == (trace.config, trace.states, trace.steps)


def test_the_file_is_itf_with_action_and_arguments_per_state() -> None:
    doc = _doc()
    assert doc["#meta"]["format"] == "ITF" and doc["vars"] == ["kernel", "ghost"]
    assert doc["states"][0]["#meta"]["action"] == "init"
    assert doc["states"][3]["#meta"] == {
        "index": 3,
        "action": "ctnetlink_del_conntrack",
        "args": {"flow": 0, "requester": "conntrack"},
    }
    assert "#set" in doc["states"][3]["ghost"]["got"][0]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("states"), "states: missing"),
        (lambda d: d["states"][2]["kernel"].pop("count"), "states[2].kernel"),
        (lambda d: d["states"][2]["kernel"].__setitem__("count", "x"), "states[2].kernel.count"),
        (lambda d: d["states"][1]["#meta"].pop("action"), "states[1].#meta.action"),
        (lambda d: d["states"][1]["ghost"].__setitem__("got", [[]]), "states[1].ghost.got[0]"),
        (lambda d: d["#meta"]["config"].__setitem__("flows", 0), "#meta.config: field 'flows'"),
        (lambda d: d.__setitem__("loop", 99), "loop"),
    ],
)
def test_a_malformed_trace_is_rejected_naming_the_field(mutate: Any, message: str) -> None:
    doc = _doc()
    mutate(doc)
    with pytest.raises(TraceError) as info:
        trace_from_json(doc)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_replay_names_the_first_step_that_does_not_match() -> None:
    doc = _doc()
    doc["states"][2]["kernel"]["count"] = 7
    report = replay(trace_from_json(doc))
    assert not report.ok and report.step == 2 and "kernel.count" in report.message


def test_replay_names_the_first_step_that_is_not_enabled() -> None:
    doc = _doc()
    doc["states"][2]["#meta"]["args"] = {"uid": 5}
    report = replay(trace_from_json(doc))
    assert not report.ok and report.step == 2 and "not enabled" in report.message


def test_a_trace_that_replays_is_reported_ok() -> None:
    assert replay(_trace()).ok
