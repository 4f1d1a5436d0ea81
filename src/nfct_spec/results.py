"""Verdicts and the results file (`results.json`: property x variant x engine -> verdict).

Engine verdicts: `proved`, `exhausted`, `sampled`, `violated`, `witnessed`, `unknown`. Each
is compared with the catalogue's expected verdict (`holds`, `violated`, `witness`,
`no-witness`); a budget that ran out before an expected finding showed is `unknown`, never a
pass.
"""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from nfct_spec import __version__

PASSING = {
    "holds": ("proved", "exhausted", "sampled"),
    "no-witness": ("proved", "exhausted", "sampled"),
    "violated": ("violated",),
    "witness": ("witnessed",),
}


@dataclass(frozen=True)
class Result:
    """One verdict of one engine for one property on one variant's config."""

    property_id: str
    variant: str
    engine: str
    verdict: str
    expected: str
    scope: str
    reason: str
    trace: str | None = None
    config: str = ""

    @property
    def as_expected(self) -> bool:
        """The verdict agrees with the catalogue's expectation."""
        return self.verdict in PASSING.get(self.expected, ())

    @property
    def status(self) -> str:
        """`ok`, `unknown` (budget ran out before a finding), or `UNEXPECTED`."""
        if self.as_expected:
            return "ok"
        return "unknown" if self.verdict == "unknown" else "UNEXPECTED"

    def to_json(self) -> dict[str, Any]:
        """The results-file form."""
        data = asdict(self)
        data["property"] = data.pop("property_id")
        return {
            "property": data.pop("property"),
            **data,
            "as_expected": self.as_expected,
            "status": self.status,
        }


def exit_code(results: list[Result]) -> int:
    """0 when every verdict is as expected, 1 if some is not, else 3 if some is unknown."""
    statuses = {r.status for r in results}
    if "UNEXPECTED" in statuses:
        return 1
    if "unknown" in statuses:
        return 3
    return 0


def tool_versions() -> dict[str, str]:
    """Versions of everything that can change a verdict."""
    versions = {"nfct-spec": __version__, "python": platform.python_version()}
    for dist in ("hypothesis", "z3-solver", "networkx"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    return versions


def write_results(
    path: Path, results: list[Result], run: dict[str, Any], configs: dict[str, Any]
) -> None:
    """Write results.json, merging with the verdicts of other engines already in it."""
    kept: list[dict[str, Any]] = []
    runs: dict[str, Any] = {}
    old_configs: dict[str, Any] = {}
    engines = {r.engine for r in results}
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
            kept = [r for r in old.get("results", []) if r.get("engine") not in engines]
            runs = dict(old.get("runs", {}))
            old_configs = dict(old.get("configs", {}))
        except (OSError, ValueError, AttributeError):
            kept, runs, old_configs = [], {}, {}
    runs[str(run.get("command", "run"))] = run
    doc = {
        "tool": tool_versions(),
        "run": run,
        "runs": runs,
        "configs": {**old_configs, **configs},
        "results": kept + [r.to_json() for r in results],
    }
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
