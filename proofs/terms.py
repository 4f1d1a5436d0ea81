"""The term language of the proofs: `nfct_spec.spec.terms`, re-exported for importers of the
proofs package (the module lives in the spec layer so that the invariants need no z3)."""

from __future__ import annotations

from nfct_spec.spec.terms import (
    BITS_MASK,
    BITS_WIDTH,
    And,
    If,
    Implies,
    Not,
    Or,
    Term,
    clear,
    count,
    has,
    sel,
    symbolic,
    truth,
    upd,
)

__all__ = [
    "BITS_MASK",
    "BITS_WIDTH",
    "And",
    "If",
    "Implies",
    "Not",
    "Or",
    "Term",
    "clear",
    "count",
    "has",
    "sel",
    "symbolic",
    "truth",
    "upd",
]
