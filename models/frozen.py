"""Copy-with-changes for the immutable record classes of the model state.

State records are NamedTuples: hashing and equality run in C over the whole nested state (the
explorer hashes every state it meets), and a new record is one `tuple.__new__`. `_replace()`
goes through a keyword dict and `_make()`; on the explorer's hot path that costs more than the
step itself. `register` compiles, once per class, a function with one keyword-only parameter
per field (so an unknown name is a TypeError, as with `_replace()`) that builds the new tuple
directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
_KEEP = object()
_EVOLVERS: dict[type, Callable[..., Any]] = {}


def register(cls: type[T]) -> type[T]:
    """Compile the evolver of a NamedTuple class (usable as a decorator)."""
    names: tuple[str, ...] = cls._fields  # type: ignore[attr-defined]
    params = ", ".join(f"{name}=_KEEP" for name in names)
    items = ", ".join(f"obj[{i}] if {name} is _KEEP else {name}" for i, name in enumerate(names))
    source = f"def evolve(obj, *, {params}):\n    return _new(cls, ({items},))\n"
    scope: dict[str, Any] = {"_KEEP": _KEEP, "_new": tuple.__new__, "cls": cls}
    exec(source, scope)
    _EVOLVERS[cls] = scope["evolve"]
    return cls


def evolve(obj: T, **changes: Any) -> T:
    """A copy of a registered state record with some fields changed (KeyError for a class
    that is not registered)."""
    result: T = _EVOLVERS[type(obj)](obj, **changes)
    return result
