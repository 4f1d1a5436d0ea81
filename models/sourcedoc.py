"""Docstrings read from the model's sources.

The docstrings of the actions and the state classes are the model's citations of the kernel;
`nfct-spec actions` and the specification document show them. Compiled modules (mypyc, see
setup.py) do not keep docstrings, so they are read from the `.py` file installed next to the
compiled module when the object has none.
"""

from __future__ import annotations

import ast
import sys
from functools import cache
from pathlib import Path


@cache
def _module_docs(source: Path) -> dict[str, str]:
    tree = ast.parse(source.read_text(encoding="utf-8"))
    docs: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            doc = ast.get_docstring(node)
            if doc is not None:
                docs.setdefault(node.name, doc)
    return docs


def docstring(obj: object) -> str:
    """The docstring of a function or class of the model, from its source if compiled away."""
    doc = getattr(obj, "__doc__", None)
    if doc:
        return str(doc)
    module = sys.modules.get(getattr(obj, "__module__", ""))
    path = getattr(module, "__file__", None)
    if path is None:
        return ""
    source = Path(path).with_name(Path(path).name.split(".")[0] + ".py")
    if not source.is_file():
        return ""
    return _module_docs(source).get(getattr(obj, "__name__", ""), "")
