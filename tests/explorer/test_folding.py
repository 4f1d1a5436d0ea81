"""Folded searches (`nfct_spec.engines.folding`): a coarser group judged on a finer search
gets the verdict and the BFS-shortest finding depth its own search gives, on every member of
every variant's `ci` suite, with untimed retries, and under a budget that cuts the finer
search; the traces of what a finer search found for a coarser group replay; and folding
leaves searches out (otherwise it would only cost the riders' judging)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from explorer_configs import small

from helpers import safety_groups, verdicts_and_depths
from nfct_spec.engines.explorer import (
    Exploration,
    explore,
    search_groups,
    trace_of,
)
from nfct_spec.engines.folding import (
    GroupSearch,
    fold_order,
    folded_searches,
    riders_for,
    separate_searches,
)
from nfct_spec.engines.parallel import Pool
from nfct_spec.models.config import Config
from nfct_spec.models.observers import OBLIGATIONS, RECEIPTS
from nfct_spec.models.presets import suite
from nfct_spec.replay import replay
from nfct_spec.spec.catalogue import BY_ID, Property

VARIANTS = ("2.6.30", "2.6.31", "6.x")

Outcome = dict[str, tuple[str, int | None]]
"""Per entry: its verdict and, when found, its finding's depth."""


def _searcher(config: Config, **options: object) -> GroupSearch:
    def search(level: int, group: list[Property], riders: list[Property]) -> Exploration:
        return explore(config, group, level=level, riders=riders, **options)  # type: ignore[arg-type]

    return search


def _outcome(runs: list[Exploration]) -> Outcome:
    """Every entry's verdict and finding depth, each from the one search whose `checked` set
    holds it (an entry decided twice, or by no search, fails here)."""
    found: Outcome = {}
    for exploration in runs:
        assert not found.keys() & exploration.checked, "an entry decided by two searches"
        found.update(verdicts_and_depths(exploration, exploration.checked))
    return found


def _compare(config: Config, **options: object) -> tuple[list[Exploration], list[Exploration]]:
    groups = safety_groups(config)
    folded = folded_searches(groups, _searcher(config, **options))
    separate = separate_searches(groups, _searcher(config, **options))
    mine, theirs = _outcome(folded), _outcome(separate)
    assert mine == theirs, config.name
    assert set(mine) == {p.id for _, group in groups for p in group}
    return folded, separate


def _rider_traces_replay(runs: list[Exploration]) -> int:
    replayed = 0
    for exploration in runs:
        for prop_id in exploration.folded & exploration.findings.keys():
            report = replay(trace_of(exploration, BY_ID[prop_id]))
            assert report.ok, (prop_id, report.message)
            replayed += 1
    return replayed


@pytest.mark.parametrize("variant", VARIANTS)
def test_folded_searches_give_every_verdict_and_depth_of_separate_ones(variant: str) -> None:
    searches = [0, 0]
    replayed = 0
    for config in suite("ci", variant):
        folded, separate = _compare(config)
        searches[0] += len(folded)
        searches[1] += len(separate)
        replayed += _rider_traces_replay(folded)
    assert searches[0] < searches[1], searches
    assert replayed > 0


@pytest.mark.parametrize("variant", ("2.6.31", "6.x"))
def test_folding_keeps_verdicts_with_untimed_retries(variant: str) -> None:
    for config in suite("ci", variant):
        folded, _ = _compare(config, untimed=True)
        _rider_traces_replay(folded)


def test_a_budget_sends_undecided_riders_to_their_own_search() -> None:
    config = small("2.6.31")
    groups = safety_groups(config)
    finest, _ = fold_order(groups)[0]
    cut = explore(config, dict(groups)[finest], level=finest).stats.states // 3
    folded, _ = _compare(config, max_states=cut)
    first = folded[0]
    assert first.level == finest and not first.stats.complete
    assert len(folded) > 1, "the coarser groups were searched again on their own"


def test_riders_are_the_undecided_entries_of_coarser_groups() -> None:
    props = [BY_ID["count-exact"], BY_ID["nothing-after-destroy"], BY_ID["may-duplicate"]]
    groups = search_groups(props)
    top, _ = fold_order(groups)[0]
    assert [p.id for p in riders_for(top, groups, set())] == [
        "count-exact",
        "nothing-after-destroy",
    ]
    assert [p.id for p in riders_for(top, groups, {"count-exact"})] == ["nothing-after-destroy"]
    assert [p.id for p in riders_for(OBLIGATIONS | RECEIPTS, groups, set())] == ["count-exact"]
    assert riders_for(OBLIGATIONS, groups, set()) == []


@pytest.fixture(scope="module")
def pool() -> Iterator[Pool]:
    with Pool(2) as workers:
        yield workers


def test_a_pool_stops_a_folded_search_where_one_process_does(pool: Pool) -> None:
    config = small("6.x")
    groups = safety_groups(config)
    alone = folded_searches(groups, _searcher(config))
    shared = folded_searches(groups, _searcher(config, pool=pool))
    assert _outcome(shared) == _outcome(alone)

    def figures(runs: list[Exploration]) -> list[tuple[int, int, frozenset[str]]]:
        return [(e.level, e.stats.states, e.folded) for e in runs]

    assert figures(shared) == figures(alone)


def _explore_cli(out: Path, variant: str, *extra: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "nfct_spec.cli", "explore", "--variant", variant]
    done = subprocess.run(
        [*command, "--out", str(out), *extra],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    record: dict[str, Any] = json.loads((out / "results.json").read_text())
    return record


@pytest.mark.parametrize(
    ("variant", "reduction"),
    [("2.6.30", "symmetry"), ("2.6.31", "symmetry"), ("2.6.31", "untimed"), ("6.x", "untimed")],
)
def test_explore_folds_by_default_and_separates_on_request(
    tmp_path: Path, variant: str, reduction: str
) -> None:
    """`nfct-spec explore` judges the obligations entries on the liveness graph and folds the
    coarser groups by default; `--separate-searches` searches each group on its own; the
    verdicts and the depths of the findings are the same."""
    extra = ("--reduction", reduction)
    folded = _explore_cli(tmp_path / "folded", variant, *extra)
    separate = _explore_cli(tmp_path / "separate", variant, *extra, "--separate-searches")

    def verdicts(record: dict[str, Any]) -> dict[str, tuple[str, str]]:
        return {
            r["property"]: (r["verdict"], r["scope"].split(";")[0].split(": ")[-1])
            for r in record["results"]
        }

    mine, theirs = verdicts(folded), verdicts(separate)
    assert {k: v[0] for k, v in mine.items()} == {k: v[0] for k, v in theirs.items()}
    found = {k: v[1] for k, v in mine.items() if v[1].startswith("BFS-shortest")}
    assert found and found == {k: v[1] for k, v in theirs.items() if k in found}
    run, alone = folded["run"], separate["run"]
    assert run["folded"] is True and alone["folded"] is False
    safety = [line for line in run["searches"] if "liveness" not in line["observers"]]
    apart = [line for line in alone["searches"] if "liveness" not in line["observers"]]
    assert len(safety) < len(apart)
    assert any(line["folded"] for line in safety)
    assert any(line["on_liveness_graph"] for line in safety)
    assert not any(line["folded"] or line["on_liveness_graph"] for line in apart)
