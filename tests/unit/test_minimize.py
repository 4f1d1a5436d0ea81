"""Minimisation by replay: junk steps go, uids are renumbered, the finding stays."""

from __future__ import annotations

import pytest

from helpers import step
from nfct_spec.minimize import first_finding, minimize
from nfct_spec.models.presets import preset
from nfct_spec.spec.catalogue import BY_ID

TABLE_BOUND = [
    step("nf_conntrack_in", flow=0, packet="new"),
    step("nf_conntrack_in", flow=2, packet="new"),
    step("__nf_conntrack_confirm", uid=1),
    step("nf_conntrack_in", flow=1, packet="new"),
    step("early_drop", victim=1),
]


def test_an_unrelated_allocation_is_dropped_and_later_uids_renumbered() -> None:
    config = preset("ci", "2.6.31")
    junk = [step("nf_conntrack_in", flow=1, packet="new"), step("destroy_conntrack", uid=0)]
    shifted = [
        step("nf_conntrack_in", flow=0, packet="new"),
        step("nf_conntrack_in", flow=2, packet="new"),
        step("__nf_conntrack_confirm", uid=2),
        step("env_recv", listener="logger"),
        step("nf_conntrack_in", flow=1, packet="new"),
        step("early_drop", victim=2),
    ]
    path = minimize(config, BY_ID["table-bound"], junk + shifted)
    assert [s for s, _ in path] == TABLE_BOUND
    assert first_finding(config, BY_ID["table-bound"], path) == len(path)


def test_a_run_without_the_finding_is_refused() -> None:
    config = preset("ci", "2.6.30")
    with pytest.raises(ValueError, match="table-bound"):
        minimize(config, BY_ID["table-bound"], TABLE_BOUND)
