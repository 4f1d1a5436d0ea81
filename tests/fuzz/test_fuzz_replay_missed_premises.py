"""`nfct-spec fuzz --replay` gives a premise none of its runs reached `check`'s second chance:
a replay of an empty database runs nothing, so every premise is missed, and each is sampled
from the explorer's shortest run into it, one line of progress each; what those runs find is
saved as a trace and merged into results.json like a finding of the database."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fuzzing import results
from nfct_spec.cli import main
from nfct_spec.engines.premises import note_in
from nfct_spec.replay import replay
from nfct_spec.traces import load_trace

SHORTEST = re.compile(
    r"premise reached in 0 of 0 runs; (\d+) runs sampled from the shortest run into it "
    r"\(6 steps, found by the explorer in [\d,]+ states\), the premise reached in (\d+) of them"
)
"""The note of a premise the replay missed: the `ci` preset's 6.x meets an early drop of an
ASSURED conntrack six steps in, and every run sampled from there begins in the premise."""


def test_a_replay_that_missed_a_premise_samples_runs_into_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(
        [
            "fuzz",
            "--replay",
            *("--preset", "ci", "--variant", "6.x"),
            *("--property", "early-drop-spares-assured", "--property", "may-drop-when-full"),
            *("--database", str(tmp_path / "db"), "--out", str(out)),
        ]
    )
    printed = capsys.readouterr().out
    data = results(out)
    rows = {r["property"]: r for r in data["results"] if r["engine"] == "hypofuzz"}
    held, witness = rows["early-drop-spares-assured"], rows["may-drop-when-full"]
    assert code == 0
    assert data["runs"]["fuzz"]["examples"] == 0
    assert data["runs"]["fuzz"]["premise_runs"] == 1
    assert held["verdict"] == "sampled"
    shown = SHORTEST.fullmatch(note_in(held["scope"]))
    assert shown is not None, held["scope"]
    assert int(shown[1]) > 0 and shown[2] == shown[1]
    assert "premise runs: 6.x early-drop-spares-assured: " in printed
    assert witness["verdict"] == "witnessed"
    trace = load_trace(out / witness["trace"])
    assert trace.meta["premise_runs"] == "early-drop-spares-assured"
    assert replay(trace).ok
