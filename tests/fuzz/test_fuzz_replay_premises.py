"""`nfct-spec fuzz --replay` judges a `sampled` verdict by its premise as a campaign does: it
says in how many of the replayed examples the premise was reached."""

from __future__ import annotations

import re
from pathlib import Path

from fuzzing import TWO_TESTS, results
from nfct_spec.cli import main
from nfct_spec.engines.premises import note_in


def test_a_replay_says_in_how_many_of_its_runs_the_premise_was_reached(
    first_campaign: tuple[int, Path], tmp_path: Path
) -> None:
    """`one-place` holds on 2.6.31; its premise, a conntrack moving between lists, is reached
    by every run that confirms one, as the run showing the campaign's `table-bound` does."""
    _, first = first_campaign
    out = tmp_path / "replayed"
    replay = ["fuzz", "--replay", *TWO_TESTS, "--property", "one-place"]
    code = main([*replay, "--database", str(first / "fuzz" / "db"), "--out", str(out)])
    data = results(out)
    (row,) = [r for r in data["results"] if r["engine"] == "hypofuzz"]
    shown = re.fullmatch(r"premise reached in (\d+) of (\d+) runs", note_in(str(row["scope"])))
    assert code == 0 and row["verdict"] == "sampled"
    assert shown is not None, row["scope"]
    reached, runs = int(shown[1]), int(shown[2])
    assert runs == data["runs"]["fuzz"]["examples"]
    assert 0 < reached <= runs
