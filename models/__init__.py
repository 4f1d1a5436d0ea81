"""Pure executable models of Linux conntrack event delivery.

Nothing here imports z3, hypothesis or networkx: the engines build on these modules, never the
other way round. Start with `registry` (every action) and `state` (what an action reads and
writes).

The installed package may carry these modules compiled with mypyc (see setup.py). The sources
stay the reference: with `NFCT_SPEC_PURE=1` in the environment, or when the sources changed
since the compiled modules were built (a stale build would run an older model), the modules are
loaded from their sources instead; `COMPILED` tells which is in use.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

_HERE = Path(__file__).parent


def _source_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted(_HERE.glob("*.py")):
        if path.name != "_fingerprint.py":
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _built_from() -> str | None:
    try:
        written = importlib.import_module(f"{__name__}._fingerprint")
    except ImportError:
        return None
    return str(written.SOURCES)


def _has_compiled() -> bool:
    return any(
        path.name.endswith(suffix)
        for path in _HERE.iterdir()
        for suffix in importlib.machinery.EXTENSION_SUFFIXES
    )


class _SourceFinder:
    """Loads `nfct_spec.models.*` from the .py files even where a compiled module exists."""

    @staticmethod
    def find_spec(
        name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        prefix = f"{__name__}."
        if not name.startswith(prefix):
            return None
        source = _HERE / (name[len(prefix) :] + ".py")
        if not source.is_file():
            return None
        return importlib.util.spec_from_file_location(name, source)


def _choose() -> bool:
    """Whether the compiled modules are used (installs the source finder otherwise)."""
    if not _has_compiled():
        return False
    if os.environ.get("NFCT_SPEC_PURE") == "1":
        sys.meta_path.insert(0, _SourceFinder())
        return False
    if _built_from() != _source_hash():
        sys.stderr.write(
            "nfct-spec: the compiled model is older than its sources; using the sources "
            "(reinstall to compile them again)\n"
        )
        sys.meta_path.insert(0, _SourceFinder())
        return False
    return True


COMPILED = _choose()
"""True when the model runs compiled (mypyc), False when it runs from its sources."""
