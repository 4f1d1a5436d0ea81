"""The pytest invariant suite: Hypothesis state machines over the registry, one per variant,
failing as soon as a property expected to hold (or to have no witness) shows a finding.

Each rule is a registry action named after its kernel function, so a failure prints as a
kernel call log. The budget is the active Hypothesis profile (`ci` by default).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import settings

from nfct_spec.engines.hypothesis_engine import Collection, machine_class
from nfct_spec.engines.sampling import quiet_slice
from nfct_spec.models import core, lists
from nfct_spec.models.config import Config
from nfct_spec.models.presets import preset
from nfct_spec.models.state import State
from nfct_spec.spec.catalogue import CATALOGUE


def _suite(variant: str, quiet: bool = False) -> type:
    config = preset("ci", variant)
    config = quiet_slice(config) if quiet else config
    props = [p for p in CATALOGUE if p.expected_for(config) in ("holds", "no-witness")]
    cls = machine_class(config, props, Collection(), frozenset(p.id for p in props))
    case = cls.TestCase
    case.settings = settings(case.settings, report_multiple_bugs=False)
    return case


TestHoldsOn2630 = _suite("2.6.30")
TestHoldsOn2631 = _suite("2.6.31")
TestHoldsOn2631WithQuietEnvironment = _suite("2.6.31", quiet=True)
TestHoldsOn6x = _suite("6.x")
TestHoldsOn6xWithQuietEnvironment = _suite("6.x", quiet=True)


def test_the_suite_fails_on_a_model_that_forgets_to_decrement_the_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def leaky_free(state: State, uid: int) -> State:
        freed = lists.nf_conntrack_free(state, uid)
        return replace(freed, kernel=replace(freed.kernel, count=freed.kernel.count + 1))

    monkeypatch.setattr(core, "nf_conntrack_free", leaky_free)
    with pytest.raises(AssertionError, match="count-exact"):
        _suite("2.6.30")("runTest").runTest()


def test_the_suite_fails_when_2_6_31_loses_a_destroy(monkeypatch: pytest.MonkeyPatch) -> None:
    def forgetful(config: Config, state: State, uid: int) -> State:
        state = lists.note_death(state, uid)
        return lists.nf_conntrack_free(state, uid)

    monkeypatch.setattr(core, "death_by_timeout_now", forgetful)
    with pytest.raises(AssertionError, match="destroy-"):
        _suite("2.6.31", quiet=True)("runTest").runTest()


def test_the_suite_checks_every_property_expected_to_hold() -> None:
    for variant in ("2.6.30", "2.6.31"):
        config = preset("ci", variant)
        expected = {p.id for p in CATALOGUE if p.expected_for(config) in ("holds", "no-witness")}
        assert expected, "a variant without any property expected to hold"
        assert {"count-exact", "one-place"} <= expected
