"""Z3 variables for the abstract state of `nfct_spec.spec.vocab` (re-exported here).

The vocabulary itself, and the projection of model states onto it, live in the spec layer so
that the invariants read them without z3; this module makes the fields symbolic.
"""

from __future__ import annotations

from typing import Any

import z3

from nfct_spec.spec.terms import BITS_WIDTH
from nfct_spec.spec.vocab import (
    BY_FIELD,
    FIELDS,
    OBSERVER_FIELDS,
    TRANSIENT_FIELDS,
    AState,
    Field,
    Shape,
    equal_fields,
    leaves,
    project,
    shape_for,
)

__all__ = [
    "BY_FIELD",
    "FIELDS",
    "OBSERVER_FIELDS",
    "TRANSIENT_FIELDS",
    "AState",
    "Field",
    "Shape",
    "equal_fields",
    "fresh_state",
    "leaves",
    "lift",
    "project",
    "shape_for",
]


def _var(sort: str, name: str) -> z3.ExprRef:
    if sort == "bool":
        return z3.Bool(name)
    if sort == "bits":
        return z3.BitVec(name, BITS_WIDTH)
    return z3.Int(name)


def fresh_state(shape: Shape, tag: str) -> AState:
    """A state of fresh Z3 variables named `<field>_<tag>[...]`."""
    state: AState = {}
    for f in FIELDS:
        base = f"{f.name}_{tag}"
        if f.shape == "scalar":
            state[f.name] = _var(f.sort, base)
        elif f.shape == "slot":
            state[f.name] = [_var(f.sort, f"{base}[{u}]") for u in range(shape.n)]
        elif f.shape == "listener":
            state[f.name] = [_var(f.sort, f"{base}[{i}]") for i in range(shape.listeners)]
        elif f.shape == "cpu":
            state[f.name] = [_var(f.sort, f"{base}[{c}]") for c in range(shape.cpus)]
        else:
            state[f.name] = [
                [_var(f.sort, f"{base}[{i}][{u}]") for u in range(shape.n)]
                for i in range(shape.listeners)
            ]
    return state


def lift(state: AState) -> AState:
    """A concrete abstract state as Z3 values of each field's sort (for mixing with variables)."""

    def one(sort: str, value: Any) -> z3.ExprRef:
        if sort == "bool":
            return z3.BoolVal(bool(value))
        if sort == "bits":
            return z3.BitVecVal(int(value), BITS_WIDTH)
        return z3.IntVal(int(value))

    def walk(sort: str, value: Any) -> Any:
        if isinstance(value, list):
            return [walk(sort, v) for v in value]
        return one(sort, value)

    return {name: walk(BY_FIELD[name].sort, value) for name, value in state.items()}
