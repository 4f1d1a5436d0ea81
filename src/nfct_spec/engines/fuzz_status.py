"""HypoFuzz's own account of a campaign, read from the example database.

Every HypoFuzz worker saves reports of its progress on each test to the example database:
inputs run (by status), coverage (`behaviors`: branches plus target and event values seen),
the phase, and how long since coverage last grew. They are what HypoFuzz's dashboard plots;
the campaign reads the same reports, so with a shared database it sees the workers of every
machine, not only its own.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from hypothesis.database import ExampleDatabase


@dataclass(frozen=True)
class Coverage:
    """HypoFuzz's totals over the campaign's tests and every worker that reported."""

    runs: int
    behaviours: int
    workers: int
    failures: int
    since_new: float | None
    """Seconds since the behaviour count last grew (as this reader saw it)."""


class CoverageReader:
    """Reads HypoFuzz's reports for the given tests (name -> database key)."""

    def __init__(self, database: ExampleDatabase, keys: Mapping[str, bytes]) -> None:
        from hypofuzz.database import HypofuzzDatabase

        self._db = HypofuzzDatabase(database)
        self._keys = dict(keys)
        self._best = 0
        self._grew_at: float | None = None

    def read(self) -> Coverage:
        """The totals now."""
        from hypofuzz.database import FailureState

        runs = behaviours = failures = 0
        workers: set[str] = set()
        for key in self._keys.values():
            latest: dict[str, int] = {}
            best = 0
            for report in self._db.reports.fetch(key):
                count = sum(report.status_counts.values())
                latest[report.worker_uuid] = max(latest.get(report.worker_uuid, 0), count)
                best = max(best, report.behaviors)
            runs += sum(latest.values())
            behaviours += best
            workers.update(latest)
            failures += sum(1 for _ in self._db.failures(state=FailureState.SHRUNK).fetch(key))
        now = time.monotonic()
        if behaviours > self._best:
            self._best = behaviours
            self._grew_at = now
        since = None if self._grew_at is None else now - self._grew_at
        return Coverage(runs, behaviours, len(workers), failures, since)

    def kept(self) -> set[tuple[str, str]]:
        """The (test name, property id) pairs with a covering example in the database: a
        finding is saved there only after HypoFuzz re-ran its example to see that its
        coverage is stable, a moment after the run that showed it."""
        out: set[tuple[str, str]] = set()
        for name, key in self._keys.items():
            for choices in self._db.corpus.fetch(key, as_bytes=True):
                observation = self._db.corpus_observations.fetch(key, choices)
                if observation is None:
                    continue
                out.update(
                    (name, feature.removeprefix("finding:"))
                    for feature in observation.features
                    if feature.startswith("finding:")
                )
        return out
