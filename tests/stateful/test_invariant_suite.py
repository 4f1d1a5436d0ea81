"""The pytest invariant suite: Hypothesis state machines over the registry, one per variant,
failing as soon as a property expected to hold (or to have no witness) shows a finding.

Each rule is a registry action named after its kernel function, so a failure prints as a
kernel call log. The budget is the active Hypothesis profile (`ci` by default).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from hypothesis import Phase, settings

from nfct_spec.engines.hypothesis_engine import Collection, machine_class
from nfct_spec.engines.sampling import quiet_slice
from nfct_spec.models import lists, registry
from nfct_spec.models.config import Config
from nfct_spec.models.presets import preset
from nfct_spec.models.registry import Action, ArgValue
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


Mutant = Callable[[Config, State, State | None, dict[str, ArgValue]], State | None]
"""A change to an action's result: (config, state before, original result, arguments)."""


def _mutate(monkeypatch: pytest.MonkeyPatch, mutant: Mutant, only: str | None = None) -> None:
    """Register every action (or the one named `only`) with its result changed by `mutant`.

    The mutation goes through the registry, not the model's modules: compiled (mypyc) modules
    call each other directly, so patching one of their functions would change nothing."""

    def mutated(action: Action) -> Action:
        def fn(config: Config, state: State, **kwargs: ArgValue) -> State | None:
            return mutant(config, state, action.fn(config, state, **kwargs), kwargs)

        return replace(action, fn=fn)

    actions = tuple(mutated(a) if only is None or a.name == only else a for a in registry.ACTIONS)
    monkeypatch.setattr(registry, "ACTIONS", actions)
    monkeypatch.setattr(registry, "BY_NAME", {a.name: a for a in actions})
    registry.actions_for.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_registry() -> Iterator[None]:
    """actions_for() caches per variant: clear it after a test that mutated the registry."""
    yield
    registry.actions_for.cache_clear()


def _freed(pre: State, post: State) -> list[int]:
    return [slot for slot, ct in enumerate(pre.kernel.cts) if ct and post.ct(slot) is None]


def test_the_suite_fails_on_a_model_that_forgets_to_decrement_the_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def leaky_free(config: Config, pre: State, post: State | None, args: object) -> State | None:
        if post is None or not _freed(pre, post):
            return post
        count = post.kernel.ct_count + len(_freed(pre, post))
        return evolve(post, kernel=evolve(post.kernel, ct_count=count))

    _mutate(monkeypatch, leaky_free)
    with pytest.raises(AssertionError, match="count-exact"):
        _suite("2.6.30", shrink=False)("runTest").runTest()


def test_the_suite_fails_when_2_6_31_loses_a_destroy(monkeypatch: pytest.MonkeyPatch) -> None:
    """death_by_timeout() frees the conntrack without sending its DESTROY."""

    def forgetful(
        config: Config, pre: State, post: State | None, args: dict[str, ArgValue]
    ) -> State | None:
        slot = args["slot"]
        if post is None or not isinstance(slot, int):
            return post
        return lists.nf_conntrack_free(lists.note_death(pre, slot), slot)

    _mutate(monkeypatch, forgetful, only="death_by_timeout")
    with pytest.raises(AssertionError, match="destroy-"):
        _suite("2.6.31", quiet=True, shrink=False)("runTest").runTest()


def test_the_suite_fails_on_a_model_that_never_gives_a_freed_slot_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def hoarding_free(config: Config, pre: State, post: State | None, args: object) -> State | None:
        if post is None:
            return post
        kernel = post.kernel
        for slot in _freed(pre, post):
            kernel = with_ct(kernel, slot, pre.ct(slot))
        return evolve(post, kernel=kernel)

    _mutate(monkeypatch, hoarding_free)
    # The slot stays allocated with no list holding it (count-exact, one-place), and once
    # traffic stops it is never freed (expiry-eventually): whichever the search reports.
    with pytest.raises(AssertionError, match=r"count-exact|one-place|expiry-eventually"):
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
