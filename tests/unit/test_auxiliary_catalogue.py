"""The auxiliary invariants are catalogue entries: one per proof conjunct, expected to hold
wherever a proof uses them, provable through a plan, and broken by a replayable trace wherever
the catalogue expects them violated."""

from __future__ import annotations

import pytest

from nfct_spec.engines.explorer import explore, trace_of
from nfct_spec.models.presets import preset
from nfct_spec.models.variants import MODELLED
from nfct_spec.proofs.aux_plans import aux_plan, carriers
from nfct_spec.replay import replay
from nfct_spec.spec.auxiliary import AUXILIARY
from nfct_spec.spec.catalogue import BY_ID, CATALOGUE
from nfct_spec.spec.invariants import INVARIANTS

AUX_IDS = [inv.id for inv in INVARIANTS if not inv.catalogue]


def test_every_proof_conjunct_has_exactly_one_catalogue_entry() -> None:
    assert [p.id for p in AUXILIARY] == AUX_IDS
    ids = [p.id for p in CATALOGUE]
    assert len(ids) == len(set(ids))
    assert all(BY_ID[i].kind == "invariant" and BY_ID[i].check is not None for i in AUX_IDS)


@pytest.mark.parametrize("variant", sorted(MODELLED))
def test_a_proof_uses_only_conjuncts_the_catalogue_expects_to_hold(variant: str) -> None:
    for name, conjuncts, _assumed in carriers(variant):
        for conjunct in conjuncts:
            if conjunct.startswith("aux-"):
                assert BY_ID[conjunct].expected[variant] == "holds", (name, conjunct)


@pytest.mark.parametrize("variant", sorted(MODELLED))
def test_each_aux_plan_puts_its_conjunct_first_in_a_proof_of_the_variant(variant: str) -> None:
    used = {c for _name, conjuncts, _a in carriers(variant) for c in conjuncts}
    for aux in AUX_IDS:
        plan = aux_plan(aux, variant)
        if aux not in used:
            assert plan is None
            continue
        assert plan is not None and plan.conjuncts[0] == aux and plan.variants == (variant,)
        carrier = next(c for c in carriers(variant) if set(c[1]) == set(plan.conjuncts))
        assert carrier[2] == plan.assumptions


VIOLATED = [
    (p.id, variant)
    for p in AUXILIARY
    for variant in sorted(MODELLED)
    if p.expected_for(preset("ci", variant)) == "violated"
]


def test_the_expected_violations_are_the_ones_the_kernel_code_gives() -> None:
    assert VIOLATED == [
        ("aux-alloc-one-over", "2.6.31"),
        ("aux-silent-until-confirmed", "6.x"),
        ("aux-retry-positive", "2.6.31"),
        ("aux-worker-idle", "6.x"),
        ("aux-live-until-deleted", "2.6.31"),
    ]


@pytest.mark.parametrize(("prop_id", "variant"), VIOLATED)
def test_each_expected_violation_has_a_shortest_trace_that_replays(
    prop_id: str, variant: str
) -> None:
    config = preset("ci", variant)
    prop = BY_ID[prop_id]
    exploration = explore(config, [prop], max_states=40_000)
    assert prop_id in exploration.findings
    report = replay(trace_of(exploration, prop))
    assert report.ok, report.message


@pytest.mark.parametrize("variant", sorted(MODELLED))
def test_the_expected_to_hold_ones_hold_on_every_state_of_a_bounded_search(variant: str) -> None:
    config = preset("tiny", variant)
    holding = [p for p in AUXILIARY if p.expected_for(config) == "holds"]
    exploration = explore(config, holding, max_states=20_000)
    stats = exploration.stats
    assert stats.complete or stats.states == 20_000, "the search stopped short of its budget"
    assert stats.states > 100
    assert not exploration.findings
