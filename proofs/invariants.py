"""The invariants of the proofs: `nfct_spec.spec.invariants`, re-exported for importers of the
proofs package (the module lives in the spec layer, where every engine evaluates it)."""

from __future__ import annotations

from nfct_spec.spec.invariants import BY_ID, INVARIANTS, Invariant, Pred

__all__ = ["BY_ID", "INVARIANTS", "Invariant", "Pred"]
