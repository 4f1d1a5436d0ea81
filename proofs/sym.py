"""Symbolic execution of one action: a state being rewritten under a path condition.

A builder reads fields with `at`/`get` and writes them with `put`; inside `with s.when(c):`
every write is guarded by `c`, which is how the kernel's branches become If-terms in Z3 mode
(and ordinary branches in concrete mode). Writes are recorded per field so that the frame of
an action can be checked against its registry declaration.

A free (nf_conntrack_free()) takes the instance's observers out of the abstract view: the slot's
observer fields are cleared with it. What the action properties need to know about how the
instance ended (had it reported, which listeners had its DESTROY) is noted first in the slot's
transient fields (`freed`, `freed_rep`, `freed_hasD`: the model's `Ghost.freed`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from nfct_spec.proofs.vocab import BY_FIELD, AState
from nfct_spec.spec.terms import And, If, Term, sel, symbolic


class Sym:
    """A mutable abstract state plus the path condition of the code being executed."""

    def __init__(self, state: AState) -> None:
        self.v: AState = {
            k: ([list(r) for r in v] if v and isinstance(v[0], list) else list(v))
            if isinstance(v, list)
            else v
            for k, v in state.items()
        }
        self._pc: list[Term] = []
        self.written: set[str] = set()
        self._memo: dict[tuple[int, ...], tuple[Any, Term]] = {}

    @property
    def pc(self) -> Term:
        """The current path condition (memoized: many writes share it)."""
        key = tuple(id(c) for c in self._pc)
        hit = self._memo.get(key)
        if hit is None:
            hit = (list(self._pc), And(*self._pc))
            self._memo[key] = hit
        return hit[1]

    def _slot_conds(self, index: Term, n: int) -> list[Term]:
        key = (-1, n, id(index), *(id(c) for c in self._pc))
        hit = self._memo.get(key)
        if hit is None:
            pc = self.pc
            hit = ((index, list(self._pc)), [And(pc, _is(index, k)) for k in range(n)])
            self._memo[key] = hit
        conds: list[Term] = hit[1]
        return conds

    @contextmanager
    def when(self, cond: Term) -> Iterator[None]:
        """Guard the writes of the block by `cond`."""
        self._pc.append(cond)
        try:
            yield
        finally:
            self._pc.pop()

    def get(self, name: str) -> Any:
        """A scalar field, or the list of a per-slot field."""
        return self.v[name]

    def at(self, name: str, index: Term, slot: Term = None) -> Term:
        """A per-slot field at `index` (for `hasD` and `owed`: listener `index`, conntrack
        `slot`)."""
        values = self.v[name]
        if slot is None:
            return sel(values, index)
        return sel([sel(row, slot) for row in values], index)

    def note_free(self, slot: Term) -> None:
        """Note the free of the instance in `slot` in the slot's transient fields, before its
        observers are cleared (`observers.freed` puts the complete record in `Ghost.freed`)."""
        self.put("freed", True, slot)
        self.put("freed_rep", self.at("rep", slot), slot)
        for i in range(len(self.v["hasD"])):
            self.put("freed_hasD", self.at("hasD", i, slot), i, slot)

    def put(self, name: str, value: Term, index: Term = None, slot: Term = None) -> None:
        """Write a field (at a slot; for `hasD` and `owed` at listener `index` and conntrack
        `slot`, every slot when `slot` is None), guarded by the path condition (nothing to do
        when the condition is concretely false, as on the branches a concrete step does not
        take)."""
        self.written.add(name)
        pc = self.pc
        if pc is False:
            return
        shape = BY_FIELD[name].shape
        if shape == "scalar":
            self.v[name] = If(pc, value, self.v[name])
            return
        if shape == "listener_slot":
            rows = self.v[name]
            self.v[name] = [
                [
                    _guarded(And(pc, _is(index, i), _is(slot, u)), value, old)
                    for u, old in enumerate(row)
                ]
                for i, row in enumerate(rows)
            ]
            return
        conds = self._slot_conds(index, len(self.v[name]))
        self.v[name] = [_guarded(c, value, old) for c, old in zip(conds, self.v[name], strict=True)]


def _is(index: Term, k: int) -> Term:
    if index is None:
        return True
    if symbolic(index):
        return index == k
    return bool(index == k)


def _guarded(cond: Term, value: Term, old: Term) -> Term:
    return If(cond, value, old)
