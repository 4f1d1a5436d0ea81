"""`scripts/bench_liveness.py --kept-order`: the comparison with the graph that keeps the 2.6.31
dying list's order runs both searches and can tell them apart."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from bench_explorer import reference
from bench_liveness import _agreement, measure

from nfct_spec.engines import lasso_sym
from nfct_spec.engines.lasso import Lasso, LivenessOutcome


def test_the_kept_order_column_compares_two_graphs() -> None:
    row = measure(
        "2.6.31", 2, 100_000, unreduced=False, untimed=True, weaker=False, kept_order=True
    )
    assert row["kept"] == "yes (12 of 12), 7,566 states"
    assert row["states"] == 5_766


def test_a_disagreement_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not a comparison that cannot fail: when one graph's search finds a lasso where the
    other's finds none, the column names the case."""
    config = reference(2, "2.6.31").with_(retry_untimed=True)
    merged = lasso_sym.build_quotient(config)
    kept = lasso_sym.build_quotient(config, dying_order=True)
    original = lasso_sym.check_liveness

    def lying(graph: lasso_sym.Quotient, fairness: tuple[str, ...], prop_id: str) -> object:
        outcome: LivenessOutcome = original(graph, fairness, prop_id)
        if graph is merged and outcome.lasso is None:
            return dataclasses.replace(outcome, lasso=Lasso(0, [], []))
        return outcome

    monkeypatch.setattr(lasso_sym, "check_liveness", lying)
    assert _agreement(merged, kept).startswith("NO: destroy-eventually without none")
