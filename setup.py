"""Build: the model (`models/`, installed as `nfct_spec.models`) compiled with mypyc.

The explorer spends its time in the model's actions and canonical forms; compiled, they run
about twice as fast (README, "The explorer's figures"). The sources stay the reference: the
package falls back to them when `NFCT_SPEC_PURE=1` is set, or when a compiled module is older
than its source (see `models/__init__.py`). `NFCT_SPEC_PURE=1` at install time skips the
compilation altogether.

mypyc names modules after their path, and `models/` is mapped into the `nfct_spec` namespace
by `package-dir`, so the sources are compiled from a staged copy with the installed layout.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).parent
STAGE = Path("build") / "mypyc-stage"
COMPILED = "nfct_spec.models.compiled"


INTERPRETED = ("__init__.py", "config.py", "_fingerprint.py")
"""Modules that stay interpreted: the package's `__init__` (it chooses between compiled and
source modules), and `config.py`, whose dataclasses build configs from user input: compiled,
their constructors would check and convert field types before `validate()` can name the field
that is wrong."""


def _sources() -> list[Path]:
    return sorted(p for p in (HERE / "models").glob("*.py") if p.name != "_fingerprint.py")


def fingerprint(paths: list[Path]) -> str:
    """The hash of the sources a compiled build was made from."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _remove_old_builds() -> None:
    """Compiled modules of an earlier build would shadow the sources (and a module that is no
    longer compiled would stay compiled): remove them first."""
    for path in (HERE / "models").iterdir():
        if any(path.name.endswith(suffix) for suffix in EXTENSION_SUFFIXES):
            path.unlink()
    (HERE / "models" / "_fingerprint.py").unlink(missing_ok=True)


def _compiled_extensions() -> list[object]:
    _remove_old_builds()
    if os.environ.get("NFCT_SPEC_PURE") == "1":
        return []
    from mypyc.build import mypycify

    sources = _sources()
    (HERE / "models" / "_fingerprint.py").write_text(
        '"""Written by setup.py: the hash of the model sources the compiled modules were built '
        'from."""\n\n'
        f'SOURCES = "{fingerprint(sources)}"\n'
    )
    staged = STAGE / "nfct_spec" / "models"
    if STAGE.exists():
        shutil.rmtree(STAGE)
    staged.mkdir(parents=True)
    (STAGE / "nfct_spec" / "__init__.py").write_text("")
    for path in sources:
        shutil.copy(path, staged / path.name)
    paths = [str(staged / p.name) for p in sources if p.name not in INTERPRETED]
    return list(mypycify(paths, group_name=COMPILED, opt_level="3"))


setup(ext_modules=_compiled_extensions())
