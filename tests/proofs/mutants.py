"""Seeded mutants of the Z3 encoding shared by the proof and agreement tests."""

from __future__ import annotations

import pytest

from nfct_spec.proofs import actions as z3_actions
from nfct_spec.proofs import kernel_z3
from nfct_spec.proofs.params import Flags, Params
from nfct_spec.spec.terms import Term


def install_admit_anyway(monkeypatch: pytest.MonkeyPatch) -> None:
    """6.x early_drop admitting the new conntrack although its victim's DESTROY failed (the
    2.6.31 rule, which 6.x replaced)."""

    def admit_anyway(
        s: kernel_z3.Sym, p: Params, f: Flags, victim: Term, flow: Term, slot: Term
    ) -> None:
        kernel_z3.nf_ct_delete(s, p, f, victim, 0, False)
        kernel_z3.allocate(s, p, f, slot, flow)

    monkeypatch.setattr(z3_actions, "_admit_if_freed", admit_anyway)
