"""Verdicts and the results file (`results.json`: property x variant x engine -> verdict).

Engine verdicts: `proved`, `exhausted`, `sampled`, `violated`, `witnessed`, `unknown`, and
`error` when the engine cannot stand by what it found (the Z3 encoding disagrees with the
model: the reason names the action). Each is compared with the catalogue's expected verdict
(`holds`, `violated`, `witness`, `no-witness`); a budget that ran out before an expected
finding showed is `unknown`, never a pass, and `error` is never as expected.

An earlier results.json in the output folder is merged with, never dropped: one that cannot be
read or has the wrong shape is an error naming it (exit 2), found before any search starts
(`check_mergeable`), and the file is left as it is.
"""

from __future__ import annotations

import json
import platform
import re
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from nfct_spec import __version__
from nfct_spec.files import (
    ShapeError,
    expect_bool,
    expect_list,
    expect_object,
    expect_str,
    field,
    load_json,
    write_text,
)
from nfct_spec.models.config import ConfigError, config_from_json

WHAT = "results"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
"""Property ids, variants and engines: they become parts of file names."""

ERROR = "error"
"""The verdict of an engine whose own check failed (never as expected: exit 1)."""

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
        """`ok`, `unknown` (budget ran out before a finding), or `UNEXPECTED` (a verdict not as
        expected, `error` included)."""
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


def _name(value: object, where: str) -> str:
    text = expect_str(value, where)
    if not NAME.fullmatch(text) or ".." in text:
        raise ShapeError(f"{where}: {text!r} is not a plain name")
    return text


def _trace_path(value: object, where: str) -> str | None:
    """A trace path is relative to the results file and stays below its folder."""
    if value is None:
        return None
    text = expect_str(value, where)
    parts = Path(text).parts
    if not parts or Path(text).is_absolute() or ".." in parts:
        raise ShapeError(f"{where}: {text!r} is not a path inside the output folder")
    return text


def _row(data: object, where: str) -> dict[str, Any]:
    row = expect_object(data, where)
    for name in ("property", "variant", "engine"):
        _name(field(row, name, where), f"{where}.{name}")
    for name in ("verdict", "expected", "status"):
        expect_str(field(row, name, where), f"{where}.{name}")
    for name in ("scope", "reason", "config"):
        if name in row:
            expect_str(row[name], f"{where}.{name}")
    expect_bool(field(row, "as_expected", where), f"{where}.as_expected")
    _trace_path(row.get("trace"), f"{where}.trace")
    return row


def results_from_json(data: object) -> dict[str, Any]:
    """A results document, checked field by field (ShapeError names the field): what the
    document, the pages and the merge read from it."""
    doc = expect_object(data, "the top level")
    rows = expect_list(field(doc, "results", "the top level"), "results")
    for i, row in enumerate(rows):
        _row(row, f"results[{i}]")
    for name in ("tool", "run", "runs", "configs"):
        if name in doc:
            expect_object(doc[name], name)
    for key, run in doc.get("runs", {}).items():
        expect_object(run, f"runs.{key}")
    for key, config in doc.get("configs", {}).items():
        try:
            config_from_json(config)
        except ConfigError as exc:
            raise ShapeError(f"configs.{key}: {exc}") from None
    return doc


def load_results(path: Path) -> dict[str, Any]:
    """Read a results file; InputError (one line, naming the file and field) on any problem."""
    return load_json(path, WHAT, results_from_json)


def check_mergeable(path: Path) -> None:
    """Fail before any work is done when an earlier results file would have to be merged
    with and cannot be."""
    if path.exists() or path.is_symlink():
        load_results(path)


def write_results(
    path: Path, results: list[Result], run: dict[str, Any], configs: dict[str, Any]
) -> None:
    """Write results.json, merging with the verdicts of other engines already in it (an
    earlier file that cannot be read is an InputError, and stays as it was)."""
    kept: list[dict[str, Any]] = []
    runs: dict[str, Any] = {}
    old_configs: dict[str, Any] = {}
    engines = {r.engine for r in results}
    if path.exists() or path.is_symlink():
        old = load_results(path)
        kept = [r for r in old["results"] if r["engine"] not in engines]
        runs = dict(old.get("runs", {}))
        old_configs = dict(old.get("configs", {}))
    runs[str(run.get("command", "run"))] = run
    doc = {
        "tool": tool_versions(),
        "run": run,
        "runs": runs,
        "configs": {**old_configs, **configs},
        "results": kept + [r.to_json() for r in results],
    }
    # No signature check: the file is in an output folder nfct-spec made, and what it held
    # was read above (a file that cannot be read is an error, never replaced).
    write_text(path, json.dumps(doc, indent=1) + "\n", WHAT, None)
