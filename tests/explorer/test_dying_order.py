"""The 2.6.31 dying list as a set: its order is read by no step and no property there, so the
safety searches merge states that differ only in it (`canonical.dying_order_observable`).

The merge is exact when reordering the list is a bisimulation: every state and every
reordering of its dying list take the same steps to successors that agree up to the order,
and every entry judges them the same. That is checked here on every state with two or more
dying-list conntracks that seeded walks meet, then end to end against the search that keeps
the order: the same verdicts and shortest lengths, in fewer states."""

from __future__ import annotations

import itertools
import random

import pytest
from explorer_configs import assert_same_findings, refilling, small, two_alive

from nfct_spec.checking import finding_in_state, finding_on_step, searched
from nfct_spec.engines import explorer, lasso_sym
from nfct_spec.engines.explorer import explore, search_groups
from nfct_spec.engines.lasso import FULL_FAIRNESS, assumed, fair_units, weaker_fairness_sets
from nfct_spec.models.canonical import Canonicaliser, dying_order_observable
from nfct_spec.models.config import Config
from nfct_spec.models.observers import FULL, OBLIGATIONS
from nfct_spec.models.registry import Step, successors
from nfct_spec.models.state import State, evolve, initial_state
from nfct_spec.spec.catalogue import CATALOGUE, Property
from nfct_spec.spec.fairness import HELD, LIVENESS, obligation_broken


def _crowded(variant: str = "2.6.31", **changes: object) -> Config:
    """Three conntracks at once, so that up to three wait on the dying list behind a
    one-message queue."""
    return small(variant, flows=3, slots=3, nf_conntrack_max=3, **changes)


def _sorted_dying(state: State) -> State:
    kernel = state.kernel
    return evolve(state, kernel=evolve(kernel, dying=tuple(sorted(kernel.dying))))


def _reorderings(state: State) -> list[State]:
    dying = state.kernel.dying
    return [
        evolve(state, kernel=evolve(state.kernel, dying=order))
        for order in itertools.permutations(dying)
        if order != dying
    ]


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


Successors = list[tuple[Step, State]]


def _alike_to_the_safety_searches(
    config: Config,
    state: State,
    other: State,
    mine: Successors,
    theirs: Successors,
    props: list[Property],
) -> None:
    """`state` and its reordering `other` (with their successors) take the same steps to
    successors equal once their dying lists are sorted, and every entry of `props` judges
    them, and each step, the same."""
    assert [step for step, _ in mine] == [step for step, _ in theirs]
    for (step, post), (_, moved) in zip(mine, theirs, strict=True):
        assert _sorted_dying(post) == _sorted_dying(moved), step
        for prop in props:
            if prop.on_transitions:
                assert finding_on_step(prop, config, state, step, post) == finding_on_step(
                    prop, config, other, step, moved
                ), prop.id
    for prop in props:
        if not prop.on_transitions:
            assert finding_in_state(prop, config, state) == finding_in_state(prop, config, other), (
                prop.id
            )


def _alike_to_the_liveness_search(
    config: Config, state: State, other: State, mine: Successors, theirs: Successors
) -> None:
    """What the liveness search on the symmetry-reduced graph reads is the same for `state` and
    its reordering `other`: the conntracks each liveness entry follows (as a set:
    `destroy-eventually` lists them in dying-list order), whether each fairness set's
    assumptions hold, the fairness instances enabled with a step that changes the state, and
    which steps break an obligation."""
    for prop_id in LIVENESS:
        assert set(HELD[prop_id](state)) == set(HELD[prop_id](other)), prop_id
    for fairness in [FULL_FAIRNESS, *weaker_fairness_sets()]:
        assert assumed(config, state, fairness) == assumed(config, other, fairness)
        assert fair_units(config, state, fairness) == fair_units(config, other, fairness)
    for (step, post), (_, moved) in zip(mine, theirs, strict=True):
        assert obligation_broken(config, state, step, post) == obligation_broken(
            config, other, step, moved
        ), step


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
        mine = list(successors(config, state))
        for other in _reorderings(state):
            theirs = list(successors(config, other))
            _alike_to_the_safety_searches(config, state, other, mine, theirs, props)


def test_reordering_the_dying_list_on_every_state_of_a_search() -> None:
    """Not only the states walks meet: on every state of the exhausted obligations search of a
    three-slot config where two conntracks can wait on the dying list, every reordering takes
    the same steps to the same successors up to the order, and every entry the search judges,
    and every liveness judgement, is the same."""
    config = two_alive("2.6.31").with_(slots=3)
    search = explore(config, [], level=OBLIGATIONS)
    assert search.stats.complete
    props = [p for p in CATALOGUE if p.kind != "liveness" and searched(p, config)]
    props = [p for p in props if not p.observes & ~OBLIGATIONS]
    on_states = [p for p in props if not p.on_transitions]
    on_steps = [p for p in props if p.on_transitions]
    crowded = [state for state in search.states if len(state.kernel.dying) > 1]
    assert len(crowded) > 500 and len(on_states) > 10 and on_steps
    for state in crowded:
        mine = list(successors(config, state))
        for other in _reorderings(state):
            theirs = list(successors(config, other))
            _alike_to_the_safety_searches(config, state, other, mine, theirs, props)
            _alike_to_the_liveness_search(config, state, other, mine, theirs)


@pytest.mark.parametrize("changes", [{}, {"netns_exit": True}], ids=["plain", "netns-exit"])
def test_reordering_the_dying_list_changes_no_liveness_judgement(
    changes: dict[str, object],
) -> None:
    """What the liveness search on the symmetry-reduced graph reads
    (`_alike_to_the_liveness_search`), on every crowded state of the walks (granularity atomic,
    the only one it handles), is the same for every reordering of the dying list (`lasso_sym`
    merges these states)."""
    config = _crowded(**changes)
    crowded = _crowded_states(config)
    assert len(crowded) >= 100, "the config puts several conntracks on the dying list"
    for state in crowded:
        mine = list(successors(config, state))
        for other in _reorderings(state):
            theirs = list(successors(config, other))
            _alike_to_the_liveness_search(config, state, other, mine, theirs)


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
        for other in _reorderings(state):
            assert canonical(other) == canonical(state)
    mainline = _crowded("6.x")
    assert dying_order_observable(mainline)
    assert dying_order_observable(_crowded(other_netns_exit=True))
    assert dying_order_observable(_crowded("2.6.30"))
    canonical = Canonicaliser(mainline, level)
    assert any(
        canonical(other) != canonical(state)
        for state in _crowded_states(mainline)
        for other in _reorderings(state)
    )


@pytest.mark.parametrize(
    "config", [_crowded(other_netns_exit=True), _crowded("6.x")], ids=["netns-walk", "6.x"]
)
def test_the_step_check_tells_apart_an_order_that_is_read(config: Config) -> None:
    """The check of the first test is not blind: where a step walks the list in order, some
    reordering of some crowded state takes another step or reaches another successor."""
    assert dying_order_observable(config)
    differs = 0
    for state in _crowded_states(config):
        mine = list(successors(config, state))
        for other in _reorderings(state):
            theirs = list(successors(config, other))
            differs += [step for step, _ in mine] != [step for step, _ in theirs] or any(
                _sorted_dying(post) != _sorted_dying(moved)
                for (_, post), (_, moved) in zip(mine, theirs, strict=False)
            )
    assert differs
