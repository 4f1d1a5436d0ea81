"""The pytest invariant suite: Hypothesis state machines over the registry, one per variant,
failing as soon as a property expected to hold (or to have no witness) shows a finding.

Each rule is a registry action named after its kernel function, so a failure prints as a
kernel call log. The budget is the active Hypothesis profile (`ci` by default).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import Phase, settings

from nfct_spec.engines.hypothesis_engine import Collection, machine_class
from nfct_spec.engines.sampling import quiet_slice
from nfct_spec.models import core, lists
from nfct_spec.models.config import Config
from nfct_spec.models.presets import preset
from nfct_spec.models.state import State, evolve, with_ct
from nfct_spec.spec.catalogue import CATALOGUE


def _suite(variant: str, quiet: bool = False, shrink: bool = True) -> type:
    """The suite's test case for one variant; `shrink=False` reports the first failing run
    as found (the mutation tests only need to see the suite fail)."""
    config = preset("ci", variant)
    config = quiet_slice(config) if quiet else config
    props = [p for p in CATALOGUE if p.expected_for(config) in ("holds", "no-witness")]
    cls = machine_class(config, props, Collection(), frozenset(p.id for p in props))
    case = cls.TestCase
    case.settings = settings(case.settings, report_multiple_bugs=False)
    if not shrink:
        case.settings = settings(
            case.settings, phases=[p for p in case.settings.phases if p != Phase.shrink]
        )
    return case


TestHoldsOn2630 = _suite("2.6.30")
TestHoldsOn2631 = _suite("2.6.31")
TestHoldsOn2631WithQuietEnvironment = _suite("2.6.31", quiet=True)
TestHoldsOn6x = _suite("6.x")
TestHoldsOn6xWithQuietEnvironment = _suite("6.x", quiet=True)


def test_the_suite_fails_on_a_model_that_forgets_to_decrement_the_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def leaky_free(state: State, slot: int) -> State:
        freed = lists.nf_conntrack_free(state, slot)
        return evolve(freed, kernel=evolve(freed.kernel, ct_count=freed.kernel.ct_count + 1))

    monkeypatch.setattr(core, "nf_conntrack_free", leaky_free)
    with pytest.raises(AssertionError, match="count-exact"):
        _suite("2.6.30", shrink=False)("runTest").runTest()


def test_the_suite_fails_when_2_6_31_loses_a_destroy(monkeypatch: pytest.MonkeyPatch) -> None:
    def forgetful(config: Config, state: State, slot: int) -> State:
        state = lists.note_death(state, slot)
        return lists.nf_conntrack_free(state, slot)

    monkeypatch.setattr(core, "death_by_timeout_now", forgetful)
    with pytest.raises(AssertionError, match="destroy-"):
        _suite("2.6.31", quiet=True, shrink=False)("runTest").runTest()


def test_the_suite_fails_on_a_model_that_never_gives_a_freed_slot_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def hoarding_free(state: State, slot: int) -> State:
        ct = state.ct(slot)
        freed = lists.nf_conntrack_free(state, slot)
        return evolve(freed, kernel=with_ct(freed.kernel, slot, ct))

    monkeypatch.setattr(core, "nf_conntrack_free", hoarding_free)
    with pytest.raises(AssertionError, match=r"count-exact|one-place"):
        _suite("2.6.31", quiet=True, shrink=False)("runTest").runTest()


@pytest.mark.skipif(
    os.environ.get("HYPOTHESIS_PROFILE", "ci") != "ci", reason="only the ci profile is derandomized"
)
def test_the_suite_is_derandomized_under_the_ci_profile() -> None:
    case = _suite("2.6.31")("runTest")
    assert case.settings.derandomize and case.settings.database is None


def test_the_suite_checks_every_property_expected_to_hold() -> None:
    for variant in ("2.6.30", "2.6.31", "6.x"):
        config = preset("ci", variant)
        expected = {p.id for p in CATALOGUE if p.expected_for(config) in ("holds", "no-witness")}
        assert expected, "a variant without any property expected to hold"
        assert {"count-exact", "one-place"} <= expected
