"""A Hypothesis search does not depend on which modules its process has imported
(`nfct_spec.engines.hypothesis_constants`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis.internal.conjecture import providers

from nfct_spec.engines import hypothesis_constants
from nfct_spec.engines.hypothesis_constants import (
    HypothesisIncompatible,
    module_independent_generation,
)

PROBE = """
import contextlib, sys
if sys.argv[2] != "-":
    sys.path.insert(0, sys.argv[2])
    import scratch_constants  # integer literals in the range of Hypothesis' feature-flag draw
from nfct_spec.engines import hypothesis_engine
from nfct_spec.models.presets import preset
from nfct_spec.spec.catalogue import BY_ID

if sys.argv[1] == "bare":  # the same search without the hook
    hypothesis_engine.module_independent_generation = contextlib.nullcontext
profile = hypothesis_engine.Profile("probe", 60, 20, True)
collection = hypothesis_engine.search(preset("ci", "2.6.31"), [BY_ID["table-bound"]], profile, 0)
print(collection.examples, collection.steps)
"""


def _runs(tmp_path: Path, how: str, scratch: bool) -> str:
    """Runs and steps of one derandomized search in a fresh interpreter, after importing a
    scratch module of integer literals or not."""
    folder = tmp_path / "scratch"
    folder.mkdir(exist_ok=True)
    (folder / "scratch_constants.py").write_text("A = 150\nB = 177\nC = 222\n")
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    done = subprocess.run(
        [sys.executable, str(probe), how, str(folder) if scratch else "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return done.stdout.strip()


def test_importing_a_module_changes_no_search(tmp_path: Path) -> None:
    """Without the empty pool, importing a module that holds 150, 177 and 222 changes the
    runs of the derandomized search (measured: 91 runs, 1,327 steps against 89 runs, 1,329
    steps); `search` gives the same runs either way. The first half shows the second can
    fail: it fails as soon as Hypothesis reads constants from the imported modules and the
    hook does not take effect."""
    bare = _runs(tmp_path, "bare", scratch=False)
    assert _runs(tmp_path, "bare", scratch=True) != bare
    assert _runs(tmp_path, "search", scratch=False) == _runs(tmp_path, "search", scratch=True)


def test_the_pool_is_restored_after_a_search() -> None:
    """The hook replaces Hypothesis' function only for the body, also when it raises."""
    original = providers._get_local_constants
    with pytest.raises(KeyError), module_independent_generation():
        assert providers._get_local_constants() is not original
        assert not providers._get_local_constants().integers
        raise KeyError("body failed")
    assert providers._get_local_constants is original


def test_a_release_without_the_hook_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Hypothesis release that moved the private function fails the search loudly."""
    monkeypatch.delattr(providers, "_get_local_constants")
    with pytest.raises(HypothesisIncompatible, match="_get_local_constants"):
        hypothesis_constants.require_local_constants_hook()
