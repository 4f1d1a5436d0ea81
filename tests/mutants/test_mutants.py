"""Each mutant of the model is caught by `nfct-spec check`: run on the mutant, check gives
exit 1 with the mutant's catching property not as expected (or a shipped live-kernel recording
not explained by the 6.x model); run once on the model as written, the same command for every
mutant's variant and property gives exit 0 with every recording explained (so each catch is
the mutant's doing)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.mutants.mutants import MUTANTS, RECORDINGS, Mutant

DRIVER = Path(__file__).with_name("driver.py")


CHEAP = "may-drop-when-full"
"""The property a check for a mutant caught by the recordings runs (the recordings are
validated whatever the properties): a 6.x witness that Hypothesis shows within a few runs, so
its search stops there (an entry that holds, such as `table-bound`, costs the whole budget:
3 s against 14 s on the pure-Python model)."""


def _check(
    out: Path, mutant: str, variants: set[str], props: set[str]
) -> tuple[int, list[dict[str, str]], list[dict[str, str]]]:
    """Run check (`--no-prove`: the Z3 workers are spawned and would load the unmutated model);
    the exit code, the result rows and the recordings' outcomes."""
    args = [arg for v in sorted(variants) for arg in ("--variant", v)]
    args += [arg for p in sorted(props) for arg in ("--property", p)]
    command = [sys.executable, str(DRIVER), mutant, *args, "--no-prove", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1200, check=False)
    assert "Traceback" not in done.stderr, done.stderr
    data = json.loads((out / "results.json").read_text())
    return done.returncode, data["results"], data["run"].get("recordings", [])


MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_each_edit_of_the_mutant_applies_to_the_model_as_written(mutant: Mutant) -> None:
    for module, old, _ in mutant.edits:
        source = (MODELS / f"{module}.py").read_text(encoding="utf-8")
        assert source.count(old) == 1, f"{old!r} does not occur exactly once in {module}.py"


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_check_catches_the_mutant(tmp_path: Path, mutant: Mutant) -> None:
    if mutant.caught_by == RECORDINGS:
        code, _, recordings = _check(tmp_path, mutant.name, {mutant.variant}, {CHEAP})
        outcomes = {r["recording"]: r["outcome"] for r in recordings}
        assert code == 1, outcomes
        assert "not explained" in outcomes.values(), outcomes
        return
    code, rows, _ = _check(tmp_path, mutant.name, {mutant.variant}, {mutant.caught_by})
    statuses = {r["engine"]: r["status"] for r in rows if r["property"] == mutant.caught_by}
    assert code == 1, statuses
    assert any(status not in ("ok", "unknown") for status in statuses.values()), statuses
    if mutant.explorer_catches:
        assert statuses["explorer"] not in ("ok", "unknown"), statuses


def test_check_passes_the_model_as_written_on_every_mutants_property(tmp_path: Path) -> None:
    variants = {m.variant for m in MUTANTS}
    props = {m.caught_by for m in MUTANTS if m.caught_by != RECORDINGS} | {CHEAP}
    code, rows, recordings = _check(tmp_path, "-", variants, props)
    assert code == 0, [r for r in rows if r["status"] != "ok"]
    assert {(m.caught_by, m.variant) for m in MUTANTS if m.caught_by != RECORDINGS} <= {
        (r["property"], r["variant"]) for r in rows
    }
    assert recordings and {r["outcome"] for r in recordings} == {"explained"}
