"""The trace viewer on violations, witnesses, lassos, malformed files and a 500-step trace."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from helpers import one_message_queues, step
from nfct_spec.cli import main
from nfct_spec.minimize import liveness_tail, replay_steps
from nfct_spec.models.observers import KERNEL
from nfct_spec.models.presets import preset
from nfct_spec.models.registry import apply
from nfct_spec.models.state import initial_state
from nfct_spec.replay import replay
from nfct_spec.results import Result
from nfct_spec.traces import (
    Trace,
    TraceError,
    load_trace,
    make_trace,
    save_trace,
    trace_from_json,
    trace_to_json,
)
from nfct_spec.viewer.export_pytest import render_test
from nfct_spec.viewer.html import render_page, write_pages
from nfct_spec.viewer.itf import from_plain_itf, to_plain_itf
from nfct_spec.viewer.lanes import (
    ct_lanes,
    deliveries,
    diff,
    instance_keys,
    state_view,
    trace_views,
)
from nfct_spec.viewer.minimize import minimize_trace
from nfct_spec.viewer.show import show


def shown(trace: Trace, **options: object) -> str:
    console = Console(width=120, record=True, file=io.StringIO())
    show(trace, console, **options)  # type: ignore[arg-type]
    return console.export_text()


def test_diff_lists_only_changed_leaves_including_nested_ones() -> None:
    before = {"a": 1, "b": {"c": [1], "d": "x"}}
    after = {"a": 1, "b": {"c": [1, 2], "d": "x"}, "e": True}
    assert [(c.path, c.before, c.after) for c in diff(before, after)] == [
        ("b.c", [1], [1, 2]),
        ("e", None, True),
    ]


def test_view_shows_the_victim_moving_to_the_dying_list_with_headroom_negative(
    violation: Trace,
) -> None:
    view = state_view(violation.config, violation.states[5])
    assert view["conntracks"]["ct1"]["place"] == "dying"
    assert view["table"]["headroom"] == violation.config.nf_conntrack_max - 3


def test_show_prints_each_step_with_its_citation_and_the_finding_at_its_step(
    violation: Trace,
) -> None:
    text = shown(violation)
    assert "early_drop(victim=1)" in text
    assert "The table is full: evict a hashed" in text
    assert "table-bound: violated at step 5" in text
    assert "conntracks.ct1.place: hash -> dying" in text


def test_show_follows_one_flow_and_one_listener(violation: Trace) -> None:
    text = shown(violation, flow=2, listener="logger")
    assert "conntracks.ct1" in text
    assert "conntracks.ct0" not in text
    assert "listeners.conntrackd" not in text


def test_show_full_prints_every_state(witness: Trace) -> None:
    assert shown(witness, full=True).count("nf_conntrack_events:") == len(witness.states)


def test_show_marks_the_lasso_loop(lasso: Trace) -> None:
    text = shown(lasso)
    assert "step 4 [loop] nf_conntrack_in" in text
    assert "returns to state 3" in text


def test_deliveries_record_what_each_listener_received(witness: Trace) -> None:
    kinds = {(d.listener, d.kind, d.text) for d in deliveries(witness)}
    assert ("conntrackd", "received", "ct0 NEW") in kinds
    assert ("logger", "dropped", "ct0 DESTROY") in kinds


def test_each_conntrack_of_a_reused_slot_has_its_own_lane_labelled_with_flow_and_id(
    reuse: Trace,
) -> None:
    lanes = ct_lanes(trace_views(reuse))
    assert [lane.label for lane in lanes] == ["ct0 flow 1 id 2", "ct1 flow 1 id 2"]
    first, second = lanes
    assert (first.first, second.first) == (1, 6)
    places = [first.cell(i)["place"] if first.cell(i) else None for i in range(9)]
    assert places == [None, "unconfirmed", *["hash"] * 2, *["freed"] * 5]
    assert second.cell(5) is None and second.cell(6)["place"] == "unconfirmed"
    view = state_view(reuse.config, reuse.states[6])
    assert view["table"]["slots"] == ["-", "-", "ct1", "-"]
    assert view["conntracks"]["ct0"] == {"flow": 1, "slot": 2, "place": "freed"}
    assert view["listeners"]["logger"]["queue"] == ["ct0 NEW"]
    assert view["ghost"]["records"]["ct1"]["seen"]["conntrackd"] == "owed, reuse"
    assert view["ghost"]["records"]["ct0"]["seen"]["logger"] == "owed"
    received = [(d.step, d.text, d.ident) for d in deliveries(reuse) if d.kind == "received"]
    assert received == [
        (3, "ct0 NEW", "flow 1 id 2"),
        (5, "ct0 DESTROY", "flow 1 id 2"),
        (8, "ct1 NEW", "flow 1 id 2"),
    ]


def test_without_observers_instances_are_numbered_by_following_each_slot(reuse: Trace) -> None:
    config = reuse.config
    states = [initial_state(config, KERNEL)]
    for s in reuse.steps:
        successor = apply(config, states[-1], s)
        assert successor is not None
        states.append(successor)
    assert [keys.get(2) for keys in instance_keys(states)] == [
        keys.get(2) for keys in instance_keys(reuse.states)
    ]
    assert [keys.get(2) for keys in instance_keys(states)][3:7] == ["ct0", None, None, "ct1"]


def test_show_prints_a_lane_per_conntrack_and_the_slot_reused(reuse: Trace) -> None:
    text = shown(reuse)
    assert "table.slots: [-, -, -, -] -> [-, -, ct0, -]" in text
    assert "table.slots: [-, -, ct0, -] -> [-, -, -, -]" in text
    assert "table.slots: [-, -, -, -] -> [-, -, ct1, -]" in text.split("step 6 ", 1)[1]
    assert "conntracks.ct0.place: hash -> freed" in text
    assert "id-reuse: witness at step 8" in text
    rows = [line for line in text.splitlines() if line.startswith(("│ ct0 ", "│ ct1 "))]
    assert [row.split("│")[1:4] for row in rows] == [
        [" ct0 ", " 1    ", " 2         "],
        [" ct1 ", " 1    ", " 2         "],
    ]


@pytest.mark.parametrize("name", ["violation", "witness", "lasso", "reuse"])
def test_page_is_self_contained_and_marks_finding_and_loop(
    name: str, request: pytest.FixtureRequest
) -> None:
    trace: Trace = request.getfixturevalue(name)
    page = render_page(trace)
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page and "<link" not in page and " src=" not in page
    data = page.split('id="trace-data">', 1)[1].split("</script>", 1)[0]
    parsed = json.loads(data)
    assert parsed["finding_step"] == trace.meta["step"]
    assert parsed["loop"] == trace.loop
    assert len(parsed["views"]) == len(trace.states)
    assert [lane["label"] for lane in parsed["ct_lanes"]] == [
        lane.label for lane in ct_lanes(trace_views(trace))
    ]


def test_write_pages_renders_each_listed_trace_and_an_index(
    violation: Trace, tmp_path: Path
) -> None:
    save_trace(violation, tmp_path / "traces" / "2.6.31" / "table-bound.json")
    results = {
        "results": [
            Result(
                "table-bound",
                "2.6.31",
                engine,
                "violated",
                "violated",
                "",
                "",
                trace="traces/2.6.31/table-bound.json",
            ).to_json()
            for engine in ("hypothesis", "explorer")
        ]
    }
    (tmp_path / "results.json").write_text(json.dumps(results))
    index = write_pages(tmp_path, tmp_path / "results.json")
    assert 'href="2.6.31/table-bound.html"' in index.read_text()
    assert (index.parent / "2.6.31" / "table-bound.html").exists()


@pytest.mark.parametrize("name", ["violation", "witness", "lasso", "reuse"])
def test_plain_itf_round_trip_is_identical(name: str, request: pytest.FixtureRequest) -> None:
    trace = trace_from_json(trace_to_json(request.getfixturevalue(name)))
    plain = json.loads(json.dumps(to_plain_itf(trace)))
    assert plain["states"][0]["kernel"]["ct_count"] == {"#bigint": "0"}
    back = from_plain_itf(plain)
    assert back == trace
    assert trace_to_json(back) == trace_to_json(trace)


def test_plain_itf_is_read_by_the_itf_py_package(violation: Trace) -> None:
    itf_py = pytest.importorskip("itf_py")
    plain = json.loads(json.dumps(to_plain_itf(violation)))
    kernel = itf_py.value_from_json(plain["states"][5]["kernel"])
    assert kernel.ct_count == violation.states[5].kernel.ct_count
    allocated, free = kernel.cts[1], kernel.cts[3]
    assert type(allocated).__name__ == "Allocated" and allocated.flow == 2
    assert type(free).__name__ == "Free" and free.value == "U_OF_UNIT"


def test_minimize_drops_a_needless_step_and_still_replays(witness: Trace) -> None:
    small = minimize_trace(witness)
    assert len(small.steps) < len(witness.steps)
    assert replay(small).ok


def test_minimize_keeps_a_lasso_a_lasso(lasso: Trace) -> None:
    small = minimize_trace(lasso)
    assert small.loop is not None
    assert small.states[-1] == small.states[small.loop]


@pytest.mark.parametrize("drained", [False, True])
def test_minimize_keeps_the_shape_of_a_liveness_trace(drained: bool) -> None:
    """The explorer's broken obligation ends where it broke; Hypothesis adds the fair drain
    that shows the DESTROY never arrives. Minimising keeps whichever the trace has."""
    config = one_message_queues(preset("ci", "2.6.30"))
    steps = [
        step("env_listener_close", listener="logger"),
        step("env_listener_open", listener="logger"),
        step("nf_conntrack_in", flow=0, packet="new", slot=0),
        step("__nf_conntrack_confirm", slot=0),
        step("ctnetlink_del_conntrack", flow=0, requester="conntrack"),
    ]
    path = replay_steps(config, steps)
    assert path is not None
    tail = liveness_tail(config, path, "destroy-eventually")
    assert tail  # conntrackd still has the NEW to read, and no DESTROY will come
    meta = {"property": "destroy-eventually", "finding": "violated", "step": len(steps)}
    full = path + tail if drained else path
    trace = make_trace(config, full, initial_state(config), meta)
    small = minimize_trace(trace)
    assert replay(small).ok
    assert small.meta["step"] == 3 < len(steps)
    assert (len(small.steps) > 3) is drained
    assert len(small.steps) < len(trace.steps)


@pytest.mark.parametrize("name", ["violation", "witness", "lasso", "reuse"])
@pytest.mark.parametrize("fixed", [False, True])
def test_exported_pytest_passes_and_its_fixed_form_fails(
    name: str, fixed: bool, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    trace: Trace = request.getfixturevalue(name)
    test_file = tmp_path / f"test_{name}.py"
    test_file.write_text(render_test(trace, name, fixed=fixed))
    assert 'state = apply_ok(config, state, "nf_conntrack_in", flow=' in test_file.read_text()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert (done.returncode == 0) is not fixed, done.stdout[-2000:]


def test_cli_show_html_pytest_itf_and_minimize_work_on_a_trace_file(
    witness: Trace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "t.json"
    save_trace(witness, src)
    assert main(["trace", "show", str(src)]) == 0
    assert main(["trace", "html", str(src), "-o", str(tmp_path / "t.html")]) == 0
    assert main(["trace", "pytest", str(src), "-o", str(tmp_path / "test_t.py")]) == 0
    assert main(["trace", "itf-export", str(src), "-o", str(tmp_path / "p.itf.json")]) == 0
    assert (
        main(["trace", "itf-import", str(tmp_path / "p.itf.json"), "-o", str(tmp_path / "b.json")])
        == 0
    )
    assert load_trace(tmp_path / "b.json") == load_trace(src)
    assert main(["trace", "minimize", str(src)]) == 0
    assert "6 steps -> 4 steps" in capsys.readouterr().out
    assert main(["trace", "minimize", str(src)]) == 2
    assert "exists" in capsys.readouterr().err
    assert trace_to_json(load_trace(src)) == trace_to_json(witness)


def _corrupt(doc: dict[str, object], where: str) -> None:
    states = doc["states"]
    assert isinstance(states, list)
    if where == "action":
        states[2]["#meta"]["action"] = "no_such_function"
    elif where == "count":
        states[3]["kernel"]["ct_count"] = "many"
    elif where == "sockets":
        states[1]["kernel"]["sockets"] = []
    elif where == "args":
        states[3]["#meta"]["args"]["slot"] = 7
    elif where == "slots":
        states[4]["kernel"]["cts"] = states[4]["kernel"]["cts"][:2]
    elif where == "step":
        meta = doc["#meta"]
        assert isinstance(meta, dict)
        meta["step"] = 99


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("action", "states[2].#meta.action"),
        ("count", "states[3].kernel.ct_count"),
        ("sockets", "states[1].kernel.sockets"),
        ("args", "states[3].#meta.args: nf_conntrack_in: argument 'slot' must be between -1 and 3"),
        ("slots", "states[4].kernel.cts: expected 4 (one per memory slot)"),
        ("step", "#meta.step"),
    ],
)
def test_malformed_trace_gives_one_line_error_naming_field_and_step(
    where: str, message: str, witness: Trace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = trace_to_json(witness)
    _corrupt(doc, where)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    for command in ("show", "pytest"):
        assert main(["trace", command, str(bad)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err


def test_a_trace_of_an_older_version_is_refused_in_one_line_by_every_tool(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    older = Path(__file__).parents[1] / "unit" / "data" / "older-trace.json"
    for command in (["replay"], ["trace", "show"], ["trace", "minimize"], ["trace", "pytest"]):
        assert main([*command, str(older)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "written by an older nfct-spec" in err
    assert not (older.parent / "older-trace.min.json").exists()


def test_a_500_step_trace_renders_in_the_terminal_and_as_a_page(long_trace: Trace) -> None:
    assert "step 500 " in shown(long_trace)
    page = render_page(long_trace)
    assert (
        len(json.loads(page.split('id="trace-data">', 1)[1].split("</script>", 1)[0])["views"])
        == 501
    )


def test_trace_error_is_a_value_error() -> None:
    assert issubclass(TraceError, ValueError)
