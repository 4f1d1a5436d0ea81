"""Docstrings and field types read from the model's sources.

The docstrings of the actions and the state classes are the model's citations of the kernel;
`nfct-spec actions` and the specification document show them. Compiled modules (mypyc, see
setup.py) do not keep docstrings, so they are read from the `.py` file installed next to the
compiled module when the object has none. Compiled NamedTuple classes keep only the outer
class of each field's annotation (`tuple`, not `tuple[int, ...]`), and the trace codec needs the
whole type, so `field_types` reads those annotations from the source too.
"""

from __future__ import annotations

import ast
import sys
import typing
from functools import cache
from pathlib import Path

_MYPYC_FILLER = "mypyc filler docstring"
"""What a compiled class has as its docstring."""


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


@cache
def _module_annotations(source: Path) -> dict[str, dict[str, str]]:
    tree = ast.parse(source.read_text(encoding="utf-8"))
    found: dict[str, dict[str, str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            found[node.name] = {
                item.target.id: ast.unparse(item.annotation)
                for item in node.body
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
            }
    return found


def _source_path(module_name: str) -> Path | None:
    """The source file of a model module: found next to the package's `__init__.py`
    (interpreted, so its path is reliable: a compiled module's `__file__` depends on how it
    was found)."""
    package, _, name = module_name.rpartition(".")
    init = getattr(sys.modules.get(package), "__file__", None)
    if not name or init is None:
        return None
    source = Path(init).with_name(name + ".py")
    return source if source.is_file() else None


def _source_of(obj: object) -> Path | None:
    return _source_path(str(getattr(obj, "__module__", "")))


def field_types(cls: type) -> dict[str, typing.Any]:
    """The resolved field types of a state class, the same whether or not it is compiled."""
    hints = typing.get_type_hints(cls)
    if not getattr(cls, "__module__", "").startswith("nfct_spec.models") or all(
        typing.get_origin(h) is not None or h is not tuple for h in hints.values()
    ):
        return hints
    source = _source_of(cls)
    if source is None:
        raise TypeError(f"{cls.__qualname__}: the field types need the model's source files")
    module = sys.modules[cls.__module__]
    names = {**vars(typing), **vars(module)}
    written = _module_annotations(source)[cls.__name__]
    return {name: eval(written[name], names) for name in hints}


def module_docstring(name: str) -> str:
    """The docstring of a module of the model, from its source if compiled away."""
    module = sys.modules.get(name)
    doc = getattr(module, "__doc__", None)
    if doc:
        return str(doc)
    source = _source_path(name)
    if source is None:
        return ""
    return ast.get_docstring(ast.parse(source.read_text(encoding="utf-8"))) or ""


def docstring(obj: object) -> str:
    """The docstring of a function or class of the model, from its source if compiled away."""
    doc = getattr(obj, "__doc__", None)
    if doc and doc != _MYPYC_FILLER:
        return str(doc)
    source = _source_of(obj)
    if source is None:
        return ""
    return _module_docs(source).get(getattr(obj, "__name__", ""), "")
