"""What each fuzzing worker process saw, written where the campaign can read it while it runs.

HypoFuzz runs the campaign's tests in worker processes of its own and reports runs and coverage
to the example database. What only the model knows is written here by each worker into the
campaign folder: its runs and steps, the digests of the distinct states it reached, the
steps of the first run that showed each finding, and per variant its runs and how many of
them reached each watched premise (`nfct_spec.engines.fuzz_machine`), which a `sampled`
verdict quotes. A finding is written at once (one line, then flushed), with the counters
and state digests so far, so that a campaign that ends on it (or is interrupted) keeps it and
counts the run that showed it; so is the first run to reach each premise, so that such a
campaign does not call the premise unreached. Otherwise counters and state digests are
written at most once a second.

State digests are `hash(state)`: the campaign starts its workers with a fixed PYTHONHASHSEED,
so equal states have equal digests in every worker and the union over workers counts distinct
states (two states colliding in 64 bits are counted once).
"""

from __future__ import annotations

import json
import os
import struct
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nfct_spec.models.registry import Step, step_from_json, step_to_json
from nfct_spec.models.state import State

FLUSH_SECONDS = 1.0
_DIGEST = struct.Struct("<Q")
_MASK = (1 << 64) - 1

Reached = dict[tuple[str, str], int]
"""Runs that reached a watched premise, per (variant, premise entry id)."""


class WorkerLog:
    """The log of one worker process (files named after its pid)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.pid = os.getpid()
        directory.mkdir(parents=True, exist_ok=True)
        self.runs = 0
        self.steps = 0
        self.findings = 0
        self.premises: Reached = {}
        self.variant_runs: dict[str, int] = {}
        self._seen: set[int] = set()
        self._pending: list[int] = []
        self._flushed = 0.0
        self._stats = directory / f"{self.pid}.json"
        self._states = directory / f"{self.pid}.states"
        self._found = directory / f"{self.pid}.findings.jsonl"

    def run_started(self, variant: str) -> None:
        """Count a run of `variant`'s config; write the counters if the last write is a
        second old."""
        self.runs += 1
        self.variant_runs[variant] = self.variant_runs.get(variant, 0) + 1
        now = time.monotonic()
        if now - self._flushed >= FLUSH_SECONDS:
            self.flush()
            self._flushed = now

    def reached(self, state: State) -> None:
        """Count a step into `state`."""
        self.steps += 1
        digest = hash(state) & _MASK
        if digest not in self._seen:
            self._seen.add(digest)
            self._pending.append(digest)

    def premise_reached(self, variant: str, entry_id: str) -> None:
        """Count a run that reached a watched premise (the first such run at once, later ones
        with the counters)."""
        key = (variant, entry_id)
        first = key not in self.premises
        self.premises[key] = self.premises.get(key, 0) + 1
        if first:
            self.flush()

    def finding(
        self, test: str, variant: str, prop_id: str, steps: Sequence[Step], test_run: int
    ) -> None:
        """Write the steps of a run that shows a finding of `prop_id`, at once (`test_run`:
        the number of this run among the test's runs in this process)."""
        self.findings += 1
        record = {
            "test": test,
            "variant": variant,
            "property": prop_id,
            "time": time.time(),
            "run": test_run,
            "steps": [step_to_json(step) for step in steps],
        }
        with self._found.open("a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")
            out.flush()
        self.flush()

    def flush(self) -> None:
        """Write the counters (replacing the last ones) and the new state digests."""
        if self._pending:
            with self._states.open("ab") as out:
                out.write(b"".join(_DIGEST.pack(d) for d in self._pending))
            self._pending.clear()
        stats = {
            "runs": self.runs,
            "steps": self.steps,
            "time": time.time(),
            "premises": _premises_to_json(self.premises),
            "variant_runs": dict(sorted(self.variant_runs.items())),
        }
        tmp = self._stats.with_suffix(".tmp")
        tmp.write_text(json.dumps(stats), encoding="utf-8")
        tmp.replace(self._stats)


def _premises_to_json(premises: Reached) -> dict[str, dict[str, int]]:
    """The stats file's form of the premise counts: runs per premise entry id per variant."""
    out: dict[str, dict[str, int]] = {}
    for (variant, entry_id), runs in sorted(premises.items()):
        out.setdefault(variant, {})[entry_id] = runs
    return out


def _premises_from_json(stats: Mapping[str, Any]) -> Reached:
    """The premise counts of a stats file; none in one written before they were counted."""
    data = stats.get("premises", {})
    return {
        (str(variant), str(entry_id)): int(runs)
        for variant, entries in data.items()
        for entry_id, runs in entries.items()
    }


_LOGS: dict[tuple[int, str], WorkerLog] = {}


def worker_log(directory: Path) -> WorkerLog:
    """The log of this process in `directory` (one per process: HypoFuzz forks its workers
    from the process that collected the tests, so the pid is checked on every call)."""
    key = (os.getpid(), str(directory))
    log = _LOGS.get(key)
    if log is None:
        log = _LOGS[key] = WorkerLog(directory)
    return log


@dataclass(frozen=True)
class Finding:
    """A logged run that shows a finding."""

    test: str
    variant: str
    property_id: str
    time: float
    run: int
    """Which run of its test in its worker showed the finding (1: the first)."""
    steps: tuple[Step, ...]


@dataclass
class Progress:
    """The campaign's totals over its workers, so far."""

    runs: int = 0
    steps: int = 0
    states: int = 0
    workers: int = 0
    findings: dict[tuple[str, str], Finding] = field(default_factory=dict)
    """The first logged finding per (variant, property)."""
    premises: Reached = field(default_factory=dict)
    """Runs that reached each watched premise, over the workers."""
    variant_runs: dict[str, int] = field(default_factory=dict)
    """Runs per variant, over the workers (what a premise count is out of)."""


class LogReader:
    """Reads the workers' logs incrementally (each file from where the last read stopped)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._offsets: dict[Path, int] = {}
        self._states: set[int] = set()
        self._stats: dict[Path, dict[str, Any]] = {}
        self.progress = Progress()

    def _new_bytes(self, path: Path, whole: int = 1) -> bytes:
        """What was appended to `path` since the last read, in whole units of `whole` bytes
        (a line for text: the caller splits off an unfinished last line)."""
        start = self._offsets.get(path, 0)
        try:
            with path.open("rb") as src:
                src.seek(start)
                data = src.read()
        except FileNotFoundError:
            return b""
        usable = len(data) - len(data) % whole
        self._offsets[path] = start + usable
        return data[:usable]

    def read(self) -> Progress:
        """Fold in everything written since the last call."""
        if not self.directory.is_dir():
            return self.progress
        for path in sorted(self.directory.glob("*.json")):
            try:
                self._stats[path] = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
        for path in sorted(self.directory.glob("*.states")):
            data = self._new_bytes(path, _DIGEST.size)
            self._states.update(d for (d,) in _DIGEST.iter_unpack(data))
        for path in sorted(self.directory.glob("*.findings.jsonl")):
            self._read_findings(path)
        progress = self.progress
        progress.runs = sum(int(s.get("runs", 0)) for s in self._stats.values())
        progress.steps = sum(int(s.get("steps", 0)) for s in self._stats.values())
        progress.workers = len(self._stats)
        progress.premises = {}
        progress.variant_runs = {}
        for stats in self._stats.values():
            for key, runs in _premises_from_json(stats).items():
                progress.premises[key] = progress.premises.get(key, 0) + runs
            for variant, runs in stats.get("variant_runs", {}).items():
                progress.variant_runs[variant] = progress.variant_runs.get(variant, 0) + int(runs)
        progress.states = len(self._states)
        return progress

    def _read_findings(self, path: Path) -> None:
        start = self._offsets.get(path, 0)
        try:
            with path.open("rb") as src:
                src.seek(start)
                data = src.read()
        except FileNotFoundError:
            return
        complete = data[: data.rfind(b"\n") + 1]
        self._offsets[path] = start + len(complete)
        for line in complete.splitlines():
            try:
                record = json.loads(line)
                finding = Finding(
                    test=str(record["test"]),
                    variant=str(record["variant"]),
                    property_id=str(record["property"]),
                    time=float(record["time"]),
                    run=int(record["run"]),
                    steps=tuple(step_from_json(s) for s in record["steps"]),
                )
            except (ValueError, KeyError, TypeError):
                continue
            key = (finding.variant, finding.property_id)
            known = self.progress.findings.get(key)
            if known is None or finding.time < known.time:
                self.progress.findings[key] = finding
