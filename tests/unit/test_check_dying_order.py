"""`scripts/check_dying_order.py`: it checks every crowded state of an exhausted search, says
so in its row, fails on a difference and refuses a variant whose order is read."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import check_dying_order

from nfct_spec.engines import dying_order

FIGURES = Path(__file__).resolve().parents[2] / "docs" / "figures.json"


def _run(monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    monkeypatch.setattr(sys, "argv", ["check_dying_order.py", *argv])
    return check_dying_order.main()


def _judge_by_the_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every entry's judgement of a state read the head of its dying list."""
    original = dying_order.finding_in_state

    def reads_the_order(prop: object, config: object, state: object) -> object:
        head = state.kernel.dying[:1]  # type: ignore[attr-defined]
        return (original(prop, config, state), head)  # type: ignore[arg-type]

    monkeypatch.setattr(dying_order, "finding_in_state", reads_the_order)


def test_every_crowded_state_of_the_two_slot_search_is_checked_and_recorded(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = tmp_path / "figures.json"
    shutil.copy(FIGURES, record)
    assert _run(monkeypatch, "--slots", "2", "--untimed", "--record", str(record)) == 0
    out = capsys.readouterr().out
    assert "5,766 states (exhausted), 1,950 with two or more dying conntracks" in out
    assert ": 0 differences" in out
    rows = json.loads(record.read_text())["measured"]["rows"]
    row = next(r for r in rows if r["what"] == check_dying_order.WHAT)
    assert row["command"] == "python scripts/check_dying_order.py --slots 2 --untimed"
    assert row["figure"].startswith("2.6.31, 2 slots, retries untimed: 5,766 states")


def test_a_difference_fails_the_check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not a check that cannot fail: an entry that reads the order makes it exit 1 and name
    the order that shows it."""
    _judge_by_the_order(monkeypatch)
    assert _run(monkeypatch, "--slots", "2", "--untimed", "--budget", "3000") == 1
    out = capsys.readouterr().out
    assert "dying list (" in out and "judges the state differently" in out


def test_a_variant_that_reads_the_order_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SystemExit) as exc:
        _run(monkeypatch, "--variant", "6.x", "--slots", "2")
    assert exc.value.code == 2


def test_workers_share_the_states_and_find_what_one_finds(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--workers 2` checks the same crowded states and orders as one process, and a
    difference in either worker's share still fails the check."""
    assert _run(monkeypatch, "--slots", "2", "--untimed", "--workers", "2") == 0
    out = capsys.readouterr().out
    assert "5,766 states (exhausted), 1,950 with two or more dying conntracks, 1,950 other" in out
    assert ": 0 differences" in out
    _judge_by_the_order(monkeypatch)
    assert _run(monkeypatch, "--slots", "2", "--untimed", "--workers", "2") == 1


def test_workers_must_be_positive(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SystemExit) as exc:
        _run(monkeypatch, "--slots", "2", "--workers", "0")
    assert exc.value.code == 2
