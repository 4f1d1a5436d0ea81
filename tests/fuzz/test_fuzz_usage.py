"""Bad input to `nfct-spec fuzz` is a one-line error with exit code 2, before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from nfct_spec.cli import main


@pytest.mark.parametrize(
    "extra",
    [
        ("--workers", "0"),
        ("--hours", "0"),
        ("--steps", "0"),
        ("--redis", "http://localhost:6379"),
        ("--database", "db", "--redis", "redis://localhost"),
        ("--property", "no-such-property"),
    ],
)
def test_bad_arguments_exit_with_code_two(
    extra: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["fuzz", "--out", str(tmp_path / "out"), *extra])
    assert code == 2
    assert "error" in capsys.readouterr().err
