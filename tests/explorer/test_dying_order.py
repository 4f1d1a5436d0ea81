"""The 2.6.31 dying list as a set: its order is read by no step and no property there, so the
safety searches merge states that differ only in it (`canonical.dying_order_observable`).

The merge is exact when reordering the list is a bisimulation: every state and every
reordering of its dying list take the same steps to successors that agree up to the order,
and every entry judges them the same. That is checked here on every state with two or more
dying-list conntracks that seeded walks meet, then end to end against the search that keeps
the order: the same verdicts and shortest lengths, in fewer states."""

from __future__ import annotations

import random

import pytest
from explorer_configs import assert_same_findings, refilling, small, two_alive

from nfct_spec.checking import searched
from nfct_spec.engines import explorer, lasso_sym
from nfct_spec.engines.dying_order import (
    differences,
    liveness_differences,
    obligations_entries,
    reorderings,
)
from nfct_spec.engines.explorer import explore, search_groups
from nfct_spec.models.canonical import Canonicaliser, dying_order_observable
from nfct_spec.models.config import Config
from nfct_spec.models.observers import FULL, OBLIGATIONS
from nfct_spec.models.registry import successors
from nfct_spec.models.state import State, initial_state
from nfct_spec.spec.catalogue import CATALOGUE


def _crowded(variant: str = "2.6.31", **changes: object) -> Config:
    """Three conntracks at once, so that up to three wait on the dying list behind a
    one-message queue."""
    return small(variant, flows=3, slots=3, nf_conntrack_max=3, **changes)


def _kept_order(config: Config, level: int, **options: bool) -> Canonicaliser:
    return Canonicaliser(config, level, **{**options, "dying_order": True})


def _crowded_states(config: Config, walks: int = 200, length: int = 40) -> list[State]:
    """The distinct states with two or more dying-list conntracks met by seeded random walks
    that keep every observer."""
    found: dict[State, None] = {}
    for seed in range(walks):
        rnd = random.Random(seed)
        state = initial_state(config)
        for _ in range(length):
            options = list(successors(config, state))
            if not options:
                break
            state = rnd.choice(options)[1]
            if len(state.kernel.dying) > 1:
                found.setdefault(state)
    return list(found)


@pytest.mark.parametrize(
    ("changes", "walks", "least"),
    [({}, 200, 100), ({"netns_exit": True}, 200, 100), ({"granularity": "smp"}, 1000, 20)],
    ids=["plain", "netns-exit", "smp"],
)
def test_reordering_the_dying_list_changes_no_step_and_no_finding(
    changes: dict[str, object], walks: int, least: int
) -> None:
    """On every crowded state of the walks: the same steps, successors equal once their dying
    lists are sorted, and every state and step entry judged the same (the namespace exit of
    `Config.netns_exit` does not walk the list either, nor does a step of a CPU at granularity
    smp)."""
    config = _crowded(**changes)
    assert not dying_order_observable(config)
    crowded = _crowded_states(config, walks, length=80 if walks > 200 else 40)
    assert len(crowded) >= least, "the config puts several conntracks on the dying list"
    props = [p for p in CATALOGUE if p.kind != "liveness" and searched(p, config)]
    for state in crowded:
        assert differences(config, state, props, liveness=False) == []


def test_reordering_the_dying_list_on_every_state_of_a_search() -> None:
    """Not only the states walks meet: on every state of the exhausted obligations search of a
    three-slot config where two conntracks can wait on the dying list, every reordering takes
    the same steps to the same successors up to the order, and every entry the search judges,
    and every liveness judgement, is the same."""
    config = two_alive("2.6.31").with_(slots=3)
    search = explore(config, [], level=OBLIGATIONS)
    assert search.stats.complete
    props = obligations_entries(config)
    on_states = [p for p in props if not p.on_transitions]
    on_steps = [p for p in props if p.on_transitions]
    crowded = [state for state in search.states if len(state.kernel.dying) > 1]
    assert len(crowded) > 500 and len(on_states) > 10 and on_steps
    for state in crowded:
        assert differences(config, state, props) == []


@pytest.mark.parametrize("changes", [{}, {"netns_exit": True}], ids=["plain", "netns-exit"])
def test_reordering_the_dying_list_changes_no_liveness_judgement(
    changes: dict[str, object],
) -> None:
    """What the liveness search on the symmetry-reduced graph reads
    (`dying_order.liveness_differences`), on every crowded state of the walks (granularity atomic,
    the only one it handles), is the same for every reordering of the dying list (`lasso_sym`
    merges these states)."""
    config = _crowded(**changes)
    crowded = _crowded_states(config)
    assert len(crowded) >= 100, "the config puts several conntracks on the dying list"
    for state in crowded:
        mine = list(successors(config, state))
        for other in reorderings(state):
            theirs = list(successors(config, other))
            assert liveness_differences(config, state, other, mine, theirs) == []


def test_the_liveness_quotient_merges_orders_only_where_nothing_reads_them() -> None:
    """The symmetry-reduced liveness graph sorts the 2.6.31 dying list (fewer nodes than
    keeping its order; `test_lasso_sym` compares its verdicts and lengths with the unreduced
    graph) and keeps the order where a step reads it."""
    merged = lasso_sym.build_quotient(refilling("2.6.31"))
    kept = lasso_sym.build_quotient(refilling("2.6.31"), dying_order=True)
    assert not merged.ordered and kept.ordered
    assert merged.complete and kept.complete
    assert len(merged.states) < len(kept.states)
    other = refilling("2.6.31").with_(other_netns_exit=True)
    assert lasso_sym.build_quotient(other, 20_000).ordered
    assert lasso_sym.build_quotient(refilling("6.x"), 20_000).ordered


@pytest.mark.parametrize(
    "config",
    [
        two_alive("2.6.31"),
        small("2.6.31", nf_conntrack_max=2, slots=3, event_bits=("NEW", "DESTROY"), requesters=()),
    ],
    ids=["two-alive", "three-slots"],
)
def test_merging_dying_orders_changes_no_verdict_and_no_shortest_length(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every safety search group of the catalogue, with the dying list as a set against the
    same search keeping its order (a group of findings only stops at its last finding, the
    same way in both)."""
    props = [p for p in CATALOGUE if p.kind != "liveness" and p.expected_for(config) != "n/a"]
    fewer = 0
    for level, group in search_groups(props):
        merged = explore(config, group, level=level)
        with monkeypatch.context() as patch:
            patch.setattr(explorer, "Canonicaliser", _kept_order)
            kept = explore(config, group, level=level)
        assert merged.stats.complete == kept.stats.complete, level
        assert merged.stats.states <= kept.stats.states
        fewer += merged.stats.states < kept.stats.states
        assert_same_findings(group, merged, kept)
    assert fewer, "some search merges states"


@pytest.mark.parametrize("level", [OBLIGATIONS, FULL], ids=["obligations", "full"])
def test_the_canonical_form_forgets_the_order_only_where_nothing_reads_it(
    level: int,
) -> None:
    """2.6.31: every reordering of a crowded state's dying list has the state's representative.
    6.x walks its redelivery list from the head, and 2.6.31's nf_ct_release_dying_list()
    (another namespace exiting) kills in list order: there the order stays in the state."""
    config = _crowded()
    canonical = Canonicaliser(config, level)
    for state in _crowded_states(config):
        for other in reorderings(state):
            assert canonical(other) == canonical(state)
    mainline = _crowded("6.x")
    assert dying_order_observable(mainline)
    assert dying_order_observable(_crowded(other_netns_exit=True))
    assert dying_order_observable(_crowded("2.6.30"))
    canonical = Canonicaliser(mainline, level)
    assert any(
        canonical(other) != canonical(state)
        for state in _crowded_states(mainline)
        for other in reorderings(state)
    )


@pytest.mark.parametrize(
    "config", [_crowded(other_netns_exit=True), _crowded("6.x")], ids=["netns-walk", "6.x"]
)
def test_the_step_check_tells_apart_an_order_that_is_read(config: Config) -> None:
    """The check of the first test is not blind: where a step walks the list in order, some
    reordering of some crowded state takes another step or reaches another successor, and
    `differences` says which order shows it."""
    assert dying_order_observable(config)
    told = [found for state in _crowded_states(config) for found in differences(config, state, [])]
    assert told
    assert all(found.startswith("dying list (") for found in told)
    assert any("steps differ" in found or "successors differ" in found for found in told)
