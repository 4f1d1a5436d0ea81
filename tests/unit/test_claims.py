"""The claims table covers the whole seed, and each status agrees with the catalogue."""

from __future__ import annotations

import pytest

from nfct_spec.models.presets import preset
from nfct_spec.spec.catalogue import BY_ID
from nfct_spec.spec.claims import CLAIMS, STATUSES, Claim, seed_text


def test_the_claims_are_every_sentence_of_the_seed_in_order() -> None:
    assert " ".join(c.sentence for c in CLAIMS) == " ".join(seed_text().split())


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.sentence[:40])
def test_each_claim_status_agrees_with_the_expected_verdicts_on_2_6_31(claim: Claim) -> None:
    assert claim.status in STATUSES
    config = preset("ci", "2.6.31")
    verdicts = {BY_ID[p].expected_for(config) for p in claim.properties}
    if claim.status == "not-formalised":
        return
    assert claim.properties, "a behavioural claim needs a property"
    if claim.status == "fails":
        assert verdicts & {"violated", "witness"}, "a failing claim needs a finding"
        assert claim.note
    if claim.status == "holds":
        assert "violated" not in verdicts


def test_the_listed_properties_exist() -> None:
    for claim in CLAIMS:
        for prop in claim.properties:
            assert prop in BY_ID
