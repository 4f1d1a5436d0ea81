"""Hash-consing of stored states: equal parts of different states are kept once.

A search stores every state it reaches, and most of a state repeats in many others: the same
conntrack record, the same socket, the same observer record, the same list of slots. Stored as
built, each state owns a copy of each part (about 1.2 KiB per state of the reference config
with receipts); sharing equal parts brings it to about a third, which is what lets a search of
tens of millions of states fit in memory. Sharing changes no value: a state and its shared form
are equal, hash alike and are of the same classes.
"""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


class Interner:
    """Returns, for each state, an equal state whose parts are shared with those of the states
    already returned. One table per class, so that a record and an equal plain tuple
    (NamedTuples compare as tuples) are never taken for each other.

    The state itself and its two halves (kernel and ghost) are rebuilt, not looked up: they
    differ from state to state (the search's own index already keeps each state once), and a
    table entry for each would cost more than it saves.
    """

    def __init__(self) -> None:
        self.tables: dict[type, dict[Any, Any]] = {}

    def __call__(self, state: T) -> T:
        halves = [self._rebuilt(half) for half in state]  # type: ignore[attr-defined]
        shared: T = tuple.__new__(type(state), halves)  # type: ignore[type-var]
        return shared

    def _rebuilt(self, obj: Any) -> Any:
        """`obj` rebuilt from its shared parts, itself kept out of the tables."""
        return tuple.__new__(type(obj), self._parts(obj))

    def _parts(self, obj: Any) -> list[Any]:
        """The items of `obj`, each tuple among them shared."""
        return [self.share(item) if isinstance(item, tuple) else item for item in obj]

    def share(self, obj: Any) -> Any:
        """`obj` with every tuple in it (itself included) replaced by the first equal one seen."""
        cls = type(obj)
        table = self.tables.get(cls)
        if table is None:
            table = self.tables[cls] = {}
        found = table.get(obj)
        if found is not None:
            return found
        new = tuple.__new__(cls, self._parts(obj))
        table[new] = new
        return new

    def __len__(self) -> int:
        """How many distinct parts are kept."""
        return sum(len(table) for table in self.tables.values())
