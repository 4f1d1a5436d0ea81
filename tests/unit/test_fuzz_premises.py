"""A fuzzing campaign watches its runs for the premises of the entries it samples, as
`nfct-spec check`'s Hypothesis searches do: each run that reaches a premise is counted once,
watching changes no run, the workers' logs carry the counts to the campaign, and a `sampled`
verdict says in how many runs its premise was reached, or is `unknown` when none did."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import Verbosity, settings

from helpers import suite_member
from nfct_spec.checking import finding_on_step
from nfct_spec.engines import fuzz_machine
from nfct_spec.engines.fuzz_harvest import verdicts
from nfct_spec.engines.fuzz_log import LogReader, WorkerLog, worker_log
from nfct_spec.engines.fuzz_machine import RUN_HEALTH_CHECKS, FuzzRun, FuzzTarget, Memo, given_test
from nfct_spec.models.config import Config
from nfct_spec.models.registry import Step, apply
from nfct_spec.models.state import initial_state
from nfct_spec.spec.catalogue import BY_ID
from nfct_spec.spec.premises import premise_entry

ENTRIES = ("early-drop-spares-assured", "table-bound", "one-place")
"""Entries expected to hold on 6.x, each with a premise: the early drop meeting an ASSURED
conntrack comes up in a few runs of `ci.allocations`, the other two in most."""
RUNS = settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=RUN_HEALTH_CHECKS,
    verbosity=Verbosity.quiet,
)
"""Small and derandomized: the same runs every time."""
NODEID = "test_nfct_campaign.py::test_premises"


def _config() -> Config:
    return suite_member("6.x", "ci.allocations")


def _target(config: Config, log_dir: Path | None = None) -> FuzzTarget:
    return FuzzTarget(Memo(config, [BY_ID[p] for p in ENTRIES]), "premises", 20, log_dir=log_dir)


def _fuzz(target: FuzzTarget, monkeypatch: pytest.MonkeyPatch) -> list[tuple[Step, ...]]:
    """Run the target's Hypothesis test; the steps of each run, in order (a run Hypothesis
    cuts short, when its choices run out, included)."""
    runs: list[FuzzRun] = []
    start = FuzzRun.__init__

    def recorded(run: FuzzRun, target: FuzzTarget) -> None:
        runs.append(run)
        start(run, target)

    with monkeypatch.context() as patch:
        patch.setattr(FuzzRun, "__init__", recorded)
        given_test(target, NODEID, RUNS)()
    return [tuple(run.path) for run in runs]


def _runs_reaching(config: Config, prop_id: str, paths: Sequence[tuple[Step, ...]]) -> int:
    """How many of the runs take a step into the entry's premise, replayed step by step."""
    entry = premise_entry(prop_id)
    reaching = 0
    for path in paths:
        state = initial_state(config)
        for step in path:
            post = apply(config, state, step)
            assert post is not None
            if finding_on_step(entry, config, state, step, post):
                reaching += 1
                break
            state = post
    return reaching


def test_a_fuzz_target_counts_each_run_that_reaches_a_premise_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = _config()
    target = _target(config)
    paths = _fuzz(target, monkeypatch)
    expected = {
        premise_entry(p).id: runs for p in ENTRIES if (runs := _runs_reaching(config, p, paths))
    }
    assert len(paths) == target.collection.examples
    assert target.collection.reached == expected
    assert set(expected) == {premise_entry(p).id for p in ENTRIES}
    assert expected["premise:early-drop-spares-assured"] < len(paths)


def test_watching_the_premises_changes_no_run_of_a_fuzz_target(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    watched, plain = _target(_config()), _target(_config())
    plain.memo.watched = ()
    watched_paths = _fuzz(watched, monkeypatch)
    plain_paths = _fuzz(plain, monkeypatch)
    assert watched_paths == plain_paths
    assert (watched.collection.steps, watched.collection.found) == (
        plain.collection.steps,
        plain.collection.found,
    )
    assert watched.collection.reached and not plain.collection.reached


def test_a_run_that_fails_on_the_step_that_reaches_a_premise_is_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The premise of `table-bound` is also the entry whose finding fails the run (a finding
    of an entry expected to hold does, in a campaign): the run ends on that step, counted."""
    config = _config()
    entry = premise_entry("table-bound")
    paths = _fuzz(_target(config), monkeypatch)
    path = next(p for p in paths if _runs_reaching(config, "table-bound", [p]))
    monkeypatch.setattr(fuzz_machine, "event", lambda value: None)  # outside a Hypothesis test
    memo = Memo(config, [BY_ID["table-bound"], entry])
    target = FuzzTarget(memo, "fails", len(path), fail_on=frozenset({entry.id}))
    run = FuzzRun(target)
    with pytest.raises(AssertionError, match=entry.id):
        for step in path:
            run.advance(step)
    assert target.collection.reached == {entry.id: 1}


def test_the_worker_log_carries_the_counts_of_the_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = _config()
    target = _target(config, log_dir=tmp_path)
    _fuzz(target, monkeypatch)
    worker_log(tmp_path).flush()
    progress = LogReader(tmp_path).read()
    assert progress.premises == {
        (config.variant, entry_id): runs for entry_id, runs in target.collection.reached.items()
    }
    assert progress.runs == target.collection.examples
    assert progress.variant_runs == {config.variant: target.collection.examples}


WORKER = """
from pathlib import Path
from nfct_spec.engines.fuzz_log import WorkerLog
log = WorkerLog(Path({directory!r}))
for _ in range({runs}):
    log.run_started("6.x")
for variant, entry_id in {reached!r}:
    log.premise_reached(variant, entry_id)
log.flush()
"""
"""A worker process that counts runs and premise-reaching runs, then writes its counters."""


def _worker(directory: Path, runs: int, reached: list[tuple[str, str]]) -> None:
    script = textwrap.dedent(WORKER).format(directory=str(directory), runs=runs, reached=reached)
    subprocess.run([sys.executable, "-c", script], check=True)


def test_the_premise_counts_of_two_workers_are_summed(tmp_path: Path) -> None:
    tb, op = ("6.x", "premise:table-bound"), ("2.6.31", "premise:one-place")
    _worker(tmp_path, 5, [tb, tb, op])
    _worker(tmp_path, 4, [tb])
    progress = LogReader(tmp_path).read()
    assert (progress.workers, progress.runs, progress.variant_runs) == (2, 9, {"6.x": 9})
    assert progress.premises == {tb: 3, op: 1}


def test_a_stats_file_without_premise_counts_still_reads(tmp_path: Path) -> None:
    (tmp_path / "101.json").write_text(json.dumps({"runs": 7, "steps": 70, "time": 0.0}))
    _worker(tmp_path, 2, [("6.x", "premise:one-place")])
    progress = LogReader(tmp_path).read()
    assert (progress.workers, progress.runs, progress.steps) == (2, 9, 70)
    assert progress.variant_runs == {"6.x": 2}
    assert progress.premises == {("6.x", "premise:one-place"): 1}


def test_the_first_run_to_reach_a_premise_is_written_at_once(tmp_path: Path) -> None:
    """A campaign that stops within the second of it must not call the premise unreached;
    later runs wait for the next write of the counters, as runs do."""
    log, reader = WorkerLog(tmp_path), LogReader(tmp_path)
    key = ("6.x", "premise:one-place")
    log.run_started("6.x")  # the first run writes the counters at once
    log.run_started("6.x")  # the second, within the second: not written yet
    log.premise_reached(*key)
    assert (reader.read().runs, reader.read().premises) == (2, {key: 1})
    log.premise_reached(*key)
    assert reader.read().premises == {key: 1}


def test_a_campaign_verdict_says_in_how_many_runs_its_premise_was_reached_or_is_vacuous() -> None:
    """Counts are per variant, of that variant's runs: 2.6.31's runs reaching the premise of
    `one-place` say nothing of 6.x. `no-crash` has no premise, and an entry expected to show
    a finding none."""
    config = _config()
    props = [BY_ID[p] for p in (*ENTRIES, "no-crash", "may-duplicate")]
    reached = {(config.variant, "premise:table-bound"): 7, ("2.6.31", "premise:one-place"): 9}
    results = {
        c.result.property_id: c.result
        for c in verdicts(
            [config], props, {}, "a campaign", {}, reached, {config.variant: 40, "2.6.31": 90}, {}
        )
    }
    for prop_id in ("early-drop-spares-assured", "one-place"):
        assert (results[prop_id].verdict, results[prop_id].expected) == ("unknown", "holds")
    assert results["early-drop-spares-assured"].scope == (
        "no finding in a campaign; vacuous: no run reached the premise (early_drop() runs "
        "while an ASSURED conntrack is hashed (one it must not pick))"
    )
    assert (results["table-bound"].verdict, results["table-bound"].scope) == (
        "sampled",
        "no finding in a campaign; premise reached in 7 of 40 runs",
    )
    assert (results["no-crash"].verdict, results["no-crash"].scope) == (
        "sampled",
        "no finding in a campaign",
    )
    assert (results["may-duplicate"].verdict, results["may-duplicate"].scope) == (
        "unknown",
        "no finding in a campaign",
    )
