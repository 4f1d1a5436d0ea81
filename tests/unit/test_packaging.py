"""Packaging: one version, the typing marker and the viewer's files shipped as package data,
and `python -m nfct_spec` with the exit-code table in its help."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata, resources

import nfct_spec


def test_the_installed_version_is_the_one_in_the_package() -> None:
    assert metadata.version("nfct-spec") == nfct_spec.__version__


def test_the_typing_marker_and_the_viewer_files_are_package_data() -> None:
    assert resources.files("nfct_spec").joinpath("py.typed").is_file()
    static = resources.files("nfct_spec.viewer").joinpath("static")
    assert static.joinpath("page.css").read_text().startswith("body{")
    assert "addEventListener" in static.joinpath("page.js").read_text()


def test_python_dash_m_prints_the_exit_code_table_in_its_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nfct_spec", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0
    for code in ("  0  every verdict", "  2  bad input", "  4  the live kernel is unavailable"):
        assert code in result.stdout
