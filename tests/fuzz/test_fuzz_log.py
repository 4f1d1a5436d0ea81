"""The workers' log: what a worker wrote is what the campaign reads, and a finding brings the
counters of the run that showed it along (a campaign that stops on the finding kills its workers
before their next periodic write)."""

from __future__ import annotations

from pathlib import Path

from nfct_spec.engines.fuzz_log import LogReader, WorkerLog
from nfct_spec.models.presets import preset
from nfct_spec.models.state import initial_state


def test_a_finding_writes_the_counters_of_the_run_that_showed_it(tmp_path: Path) -> None:
    log = WorkerLog(tmp_path)
    reader = LogReader(tmp_path)
    state = initial_state(preset("tiny"))
    log.run_started("6.x")  # the first run writes the counters at once
    log.run_started("6.x")  # the second, within the second: not written yet
    log.reached(state)
    log.reached(state)
    assert reader.read().steps == 0
    log.finding("test", "2.6.31", "table-bound", [], test_run=2)
    progress = reader.read()
    assert (progress.runs, progress.steps, progress.states) == (2, 2, 1)
    assert ("2.6.31", "table-bound") in progress.findings
