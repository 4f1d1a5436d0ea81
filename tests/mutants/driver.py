"""Run `nfct-spec check` on a mutated model: `python driver.py MUTANT CHECK-ARGS...` (`-` for
the model as written).

The mutant's module is loaded from its source with the replacement applied (see `mutants.py`);
the exit code is check's.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mutants import BY_NAME, Mutant


class _Loader(importlib.abc.SourceLoader):
    def __init__(self, path: str, edits: list[tuple[str, str]]) -> None:
        self.path = path
        self.edits = edits

    def get_filename(self, fullname: str) -> str:
        return self.path

    def get_data(self, path: str) -> bytes:
        source = Path(path).read_text(encoding="utf-8")
        for old, new in self.edits:
            if source.count(old) != 1:
                raise SystemExit(f"mutant: {old!r} does not occur exactly once in {path}")
            source = source.replace(old, new)
        return source.encode()


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self, mutant: Mutant, models: Path) -> None:
        self.mutant = mutant
        self.models = models

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        module = name.removeprefix("nfct_spec.models.")
        edits = [(old, new) for where, old, new in self.mutant.edits if where == module]
        if not edits:
            return None
        source = str(self.models / f"{module}.py")
        return importlib.util.spec_from_loader(name, _Loader(source, edits), origin=source)


def main() -> int:
    """Install the mutant, then run check with the remaining arguments."""
    os.environ["NFCT_SPEC_PURE"] = "1"
    import nfct_spec.models as models

    assert models.__file__ is not None
    if sys.argv[1] != "-":
        sys.meta_path.insert(0, _Finder(BY_NAME[sys.argv[1]], Path(models.__file__).parent))
    from nfct_spec.cli import main as cli_main

    return cli_main(["check", *sys.argv[2:]])


if __name__ == "__main__":
    raise SystemExit(main())
