"""Terms that are either concrete Python values or Z3 expressions, with one set of operators.

The invariants of `nfct_spec.spec.invariants` and every Z3 builder in
`nfct_spec.proofs.actions` are written once against these helpers. This module never imports
z3 itself: a term is symbolic only once the proofs built it from Z3 variables, so the concrete
reading (what every engine evaluates on model states) works where z3 is not installed. Given Z3
variables it produces the transition formula; given the plain values of a projected model
state it computes the successor directly, which is how the agreement tests run thousands of
cases per action without a solver call each (a smaller sample is also checked through Z3 itself,
so the two readings of a builder are compared too).

Python's `==`, `<`, `+`, `&`, `|` already work on both kinds of value; `and`, `or`, `not` and
`if` do not, hence `If`, `And`, `Or`, `Not` here. Event bits are 5-bit vectors in Z3 and
non-negative ints below 32 in Python (`BITS_MASK`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

BITS_WIDTH = 5
BITS_MASK = (1 << BITS_WIDTH) - 1

Term = Any
"""A bool, an int, or a z3.ExprRef."""


def _z3() -> ModuleType | None:
    """The z3 module if something loaded it: a term can only be symbolic once the proofs
    made it so, and the concrete readings (the engines' checks) never need z3."""
    return sys.modules.get("z3")


def symbolic(*terms: Term) -> bool:
    """True if any of the terms is a Z3 expression."""
    z3 = _z3()
    return z3 is not None and any(isinstance(t, z3.ExprRef) for t in terms)


def _symbolic_module() -> ModuleType:
    z3 = _z3()
    if z3 is None:
        raise TypeError("a symbolic term needs z3, and nothing has loaded it")
    return z3


def If(cond: Term, then: Term, other: Term) -> Term:
    """`then if cond else other`, as a Z3 If when the condition is symbolic."""
    if isinstance(cond, bool):
        return then if cond else other
    z3 = _z3()
    assert z3 is not None, f"not a concrete condition: {cond!r}"
    if isinstance(cond, z3.BoolRef) and z3.is_true(cond):
        return then
    if isinstance(cond, z3.BoolRef) and z3.is_false(cond):
        return other
    return z3.If(cond, then, other)


def And(*terms: Term) -> Term:
    """Conjunction; short-circuits on concrete False. (Concrete truth values are the `True`
    and `False` singletons, so identity tests suffice: the engines evaluate these on every
    state they visit.)"""
    rest = []
    for t in terms:
        if t is True:
            continue
        if t is False:
            return False
        rest.append(t)
    if not rest:
        return True
    return rest[0] if len(rest) == 1 else _symbolic_module().And(*rest)


def Or(*terms: Term) -> Term:
    """Disjunction; short-circuits on concrete True."""
    rest = []
    for t in terms:
        if t is False:
            continue
        if t is True:
            return True
        rest.append(t)
    if not rest:
        return False
    return rest[0] if len(rest) == 1 else _symbolic_module().Or(*rest)


def Not(term: Term) -> Term:
    """Negation."""
    if term is True:
        return False
    if term is False:
        return True
    return _symbolic_module().Not(term)


def Implies(a: Term, b: Term) -> Term:
    """Implication."""
    if a is False or b is True:
        return True
    if a is True:
        return b
    return Or(Not(a), b)


def clear(bits: Term, mask: Term) -> Term:
    """`bits & ~mask` for 5-bit event masks."""
    if symbolic(bits, mask):
        return bits & ~mask
    return int(bits) & ~int(mask) & BITS_MASK


def has(bits: Term, mask: int) -> Term:
    """`bits & mask != 0`."""
    return (bits & mask) != 0


def sel(values: Sequence[Term], index: Term) -> Term:
    """`values[index]` for a symbolic or concrete index (out of range gives the last)."""
    if not symbolic(index):
        return values[int(index)] if 0 <= int(index) < len(values) else values[-1]
    result = values[-1]
    for k in range(len(values) - 2, -1, -1):
        result = If(index == k, values[k], result)
    return result


def upd(values: Sequence[Term], index: Term, value: Term) -> list[Term]:
    """A copy of `values` with position `index` set to `value`."""
    if not symbolic(index):
        return [value if k == index else v for k, v in enumerate(values)]
    return [If(index == k, value, v) for k, v in enumerate(values)]


def count(flags: Sequence[Term]) -> Term:
    """The number of true flags."""
    if not symbolic(*flags):
        return sum(1 for f in flags if f)
    return _symbolic_module().Sum([If(f, 1, 0) for f in flags])


def truth(term: Term) -> bool:
    """A concrete term as a bool (simplifying a closed Z3 term); TypeError if it is open."""
    if isinstance(term, bool):
        return term
    z3 = _symbolic_module()
    simplified = z3.simplify(term)
    if z3.is_true(simplified):
        return True
    if z3.is_false(simplified):
        return False
    raise TypeError(f"not a closed boolean term: {term}")
