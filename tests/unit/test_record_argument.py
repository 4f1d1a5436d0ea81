"""`--record` of the measuring scripts: a figures record that does not read is a one-line
usage error (exit 2) before anything is measured, and nothing is written to it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nfct_spec.docs.figures import RECORD, record_argument

ROOT = Path(__file__).resolve().parents[2]


def test_the_repository_record_is_accepted() -> None:
    assert record_argument(str(ROOT / RECORD)) == ROOT / RECORD


@pytest.mark.parametrize(
    ("content", "problem"),
    [(None, "no such file"), ("{", "JSON"), ('{"x": {"rows": []}}', "command")],
)
def test_a_record_that_does_not_read_is_refused(
    tmp_path: Path, content: str | None, problem: str
) -> None:
    path = tmp_path / "figures.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(Exception, match=problem) as caught:
        record_argument(str(path))
    assert type(caught.value).__name__ == "ArgumentTypeError"
    assert content is None or path.read_text() == content


def test_a_script_stops_at_once_with_a_usage_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_explorer.py"), "--record", str(missing)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert f"argument --record: figures record {missing}: no such file" in run.stderr
    assert not missing.exists()
