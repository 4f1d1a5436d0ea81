"""The command line: the main job end to end, and every kind of bad input.

`nfct-spec check` runs once per test session at its default budget (about two and a half
minutes); the other tests read what it wrote.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nfct_spec.cli import main
from nfct_spec.engines.premises import note_in
from nfct_spec.models.presets import preset, suite
from nfct_spec.spec.catalogue import CATALOGUE
from nfct_spec.spec.premises import EXEMPT, PREMISES, SHOWN_IN


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nfct_spec.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_exits_zero_with_every_verdict_as_expected(checked: tuple[int, Path]) -> None:
    code, out = checked
    results = json.loads((out / "results.json").read_text())["results"]
    unexpected = [r for r in results if not r["as_expected"]]
    assert code == 0 and not unexpected


def test_check_gives_a_result_for_every_applicable_property_and_variant(
    checked: tuple[int, Path],
) -> None:
    _, out = checked
    results = json.loads((out / "results.json").read_text())["results"]
    got = {(r["property"], r["variant"]) for r in results}
    for variant in ("2.6.30", "2.6.31"):
        config = preset("ci", variant)
        for prop in CATALOGUE:
            applicable = prop.expected_for(config) != "n/a"
            assert ((prop.id, variant) in got) == applicable, (prop.id, variant)


def test_check_exhausts_the_ci_suite_and_confirms_every_expected_verdict(
    checked: tuple[int, Path],
) -> None:
    _, out = checked
    results = json.loads((out / "results.json").read_text())["results"]
    explorer = [r for r in results if r["engine"] == "explorer"]
    for variant in ("2.6.30", "2.6.31"):
        rows = {r["property"]: r for r in explorer if r["variant"] == variant}
        applicable = {
            p.id for c in suite("ci", variant) for p in CATALOGUE if p.expected_for(c) != "n/a"
        }
        assert set(rows) == applicable, variant
        for prop_id, row in rows.items():
            assert row["status"] == "ok", (variant, prop_id, row["scope"])
            assert row["verdict"] in ("exhausted", "violated", "witnessed")
    assert {r["verdict"] for r in explorer if r["property"] == "destroy-eventually"} == {
        "violated",
        "exhausted",
    }


def test_every_exhausted_verdict_of_the_explorer_says_where_its_premise_is_reached(
    checked: tuple[int, Path],
) -> None:
    """Each entry with a premise that the explorer calls `exhausted` on the `ci` suite names
    the member and depth at which its premise was reached (the member `SHOWN_IN` names is
    searched first, and reaches it); an entry without one says nothing of a premise."""
    _, out = checked
    results = json.loads((out / "results.json").read_text())["results"]
    exhausted = [r for r in results if r["engine"] == "explorer" and r["verdict"] == "exhausted"]
    with_premise = [r for r in exhausted if (r["property"], r["variant"]) not in EXEMPT]
    judged = {r["property"] for r in with_premise if r["property"] in PREMISES}
    assert judged >= {"early-drop-spares-assured", "identity-unique", "nothing-after-destroy"}
    for r in exhausted:
        note = note_in(r["scope"])
        if r["property"] in PREMISES and (r["property"], r["variant"]) not in EXEMPT:
            shown = SHOWN_IN[r["property"]]
            assert note.startswith(f"premise reached in {shown} at depth "), r
        else:
            assert not note, r


def test_check_writes_a_trace_for_every_finding_and_each_replays(checked: tuple[int, Path]) -> None:
    _, out = checked
    results = json.loads((out / "results.json").read_text())["results"]
    findings = [r for r in results if r["verdict"] in ("violated", "witnessed")]
    assert {(r["property"], r["variant"]) for r in findings} >= {
        ("table-bound", "2.6.31"),
        ("no-crash", "2.6.31"),
        ("destroy-before-free", "2.6.30"),
    }
    for r in findings:
        assert main(["replay", str(out / r["trace"])]) == 0, r["trace"]


def test_a_tampered_trace_does_not_replay(checked: tuple[int, Path], tmp_path: Path) -> None:
    _, out = checked
    results = json.loads((out / "results.json").read_text())["results"]
    (row,) = [
        r
        for r in results
        if (r["property"], r["variant"], r["engine"]) == ("table-bound", "2.6.31", "hypothesis")
    ]
    doc = json.loads((out / row["trace"]).read_text())
    doc["states"][-1]["kernel"]["ct_count"] = 0
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    assert main(["replay", str(tmp_path / "bad.json")]) == 1


def test_actions_json_lists_the_registry() -> None:
    result = _cli("actions", "--json")
    names = [a["name"] for a in json.loads(result.stdout)]
    assert result.returncode == 0 and "death_by_event" in names and "env_tick" in names


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "--variant", "2.4"], "unknown variant"),
        (["check", "--property", "no-such-property"], "unknown property id"),
        (["check", "--profile", "huge"], "invalid choice"),
        (["replay", "/nonexistent/trace.json"], "no such file"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_gets_one_line_and_exit_code_2(args: list[str], message: str) -> None:
    result = _cli(*args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_malformed_config_is_rejected_naming_the_field(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({**preset("tiny").to_json(), "nf_conntrack_max": -3}))
    result = _cli("check", "--config", str(path), "--out", str(tmp_path / "o"))
    assert result.returncode == 2 and "'nf_conntrack_max'" in result.stderr
    assert not (tmp_path / "o").exists()


def test_a_malformed_trace_is_rejected_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text('{"#meta": {}, "vars": [], "states": []}')
    result = _cli("replay", str(path))
    assert result.returncode == 2 and "#meta.config" in result.stderr


def test_an_output_folder_that_is_a_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.write_text("mine")
    result = _cli("check", "--out", str(target), "--variant", "2.6.30")
    assert result.returncode == 2 and "not a folder" in result.stderr
    assert target.read_text() == "mine"


def test_a_foreign_folder_is_never_written_into(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    result = _cli("check", "--out", str(tmp_path), "--variant", "2.6.30")
    assert result.returncode == 2 and "not created by nfct-spec" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
