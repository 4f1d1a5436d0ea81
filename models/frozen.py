"""Copy-with-changes for the immutable record classes of the model state.

State records are NamedTuples: hashing and equality run in C over the whole nested state (the
explorer hashes every state it meets), and a new record is one `tuple.__new__`. `_replace()`
goes through a keyword dict, `_make()` and a check of the leftover names; on the explorer's hot
path that costs more than the step itself. `register` notes, once per class, where each field
sits; `evolve` copies the record's values into a list, overwrites the changed ones by position
and builds the new tuple directly (an unknown name is a TypeError, as with `_replace()`).
Compiled with the rest of the model, this is a few C loops.
"""

from __future__ import annotations

from typing import Any, Final, TypeVar

T = TypeVar("T")
_INDEX: Final[dict[type, dict[str, int]]] = {}
TUPLE_NEW: Final = tuple.__new__
"""`tuple.__new__`, looked up once: compiled, `tuple.__new__(...)` in a function body is a
method lookup on each call."""


def register(cls: type[T]) -> type[T]:
    """Note the field positions of a NamedTuple class (usable as a decorator)."""
    names: tuple[str, ...] = cls._fields  # type: ignore[attr-defined]
    _INDEX[cls] = {name: i for i, name in enumerate(names)}
    return cls


def evolve(obj: T, **changes: Any) -> T:
    """A copy of a registered state record with some fields changed (KeyError for a class
    that is not registered, TypeError for a field it does not have)."""
    cls = type(obj)
    index = _INDEX[cls]
    values: list[Any] = list(obj)  # type: ignore[call-overload]
    for name, value in changes.items():
        at = index.get(name)
        if at is None:
            raise TypeError(f"{cls.__name__} has no field {name!r}")
        values[at] = value
    result: T = TUPLE_NEW(cls, values)  # type: ignore[type-var]
    return result


def position(cls: type, name: str) -> int:
    """Where field `name` sits in a registered record class (TypeError if it has none): the
    modules name the positions their hot paths write with `set_field` once, at import."""
    at = _INDEX[cls].get(name)
    if at is None:
        raise TypeError(f"{cls.__name__} has no field {name!r}")
    return at


def set_field(obj: T, at: int, value: Any) -> T:
    """`evolve` of one field given by its `position`: no keyword dict and no look-up by name
    (compiled, about two thirds of the cost of `evolve`; the model copies a record some sixty
    times per expanded state)."""
    values: list[Any] = list(obj)  # type: ignore[call-overload]
    values[at] = value
    result: T = TUPLE_NEW(type(obj), values)  # type: ignore[type-var]
    return result


def set_at(values: tuple[Any, ...], index: int, value: Any) -> tuple[Any, ...]:
    """A copy of a plain tuple with one position replaced (the lists of slots, sockets and
    observer records; `set_field` is its counterpart for records)."""
    return (*values[:index], value, *values[index + 1 :])


def set_fields(obj: T, at: int, value: Any, at2: int, value2: Any) -> T:
    """`set_field` of two fields at once."""
    values: list[Any] = list(obj)  # type: ignore[call-overload]
    values[at] = value
    values[at2] = value2
    result: T = TUPLE_NEW(type(obj), values)  # type: ignore[type-var]
    return result
