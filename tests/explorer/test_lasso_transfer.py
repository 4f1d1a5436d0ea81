"""Lassos shown without the config's own liveness graph (`nfct_spec.engines.lasso_transfer`):
the stutter search finds a lasso exactly where the graph's search finds one that stutters,
BFS-shortest; lassos of a config with fewer memory slots carry over to one with more; and a
lasso that does not carry over is refused with its reason."""

from __future__ import annotations

from functools import cache

import pytest
from explorer_configs import refilling, small, two_alive

from nfct_spec.engines import lasso, lasso_sym
from nfct_spec.engines.lasso import FULL_FAIRNESS, Lasso, check_lasso, weaker_fairness_sets
from nfct_spec.engines.lasso_transfer import embed, stuck_lasso
from nfct_spec.models.config import Config
from nfct_spec.models.registry import apply
from nfct_spec.models.state import initial_state
from nfct_spec.spec.fairness import LIVENESS, PACKETS_COMPLETE, TRAFFIC_STOPS

FAIRNESS_SETS = [FULL_FAIRNESS, *weaker_fairness_sets()]
CONFIGS: dict[str, Config] = {
    f"{make.__name__} {variant}, {slots} slots": make(variant).with_(slots=slots)
    for make, slots in ((small, 2), (two_alive, 3))
    for variant in ("2.6.31", "6.x")
}
CONFIGS["refilling 6.x, 3 slots"] = refilling("6.x").with_(slots=3)


@cache
def graph(name: str) -> lasso_sym.Quotient:
    return lasso_sym.build_quotient(CONFIGS[name])


def _dropped(fairness: tuple[str, ...]) -> str:
    return ",".join(f for f in FULL_FAIRNESS if f not in fairness) or "full"


def _replays(config: Config, found: Lasso, fairness: tuple[str, ...], prop_id: str) -> None:
    """The lasso's steps replay from the initial state and `check_lasso` finds it fair."""
    steps = [step for step, _ in found.prefix + found.cycle]
    states = [initial_state(config, lasso.LEVEL)]
    for step in steps:
        post = apply(config, states[-1], step)
        assert post is not None, step
        states.append(post)
    assert check_lasso(config, states, steps, len(found.prefix), fairness, prop_id) is None


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_stutter_search_finds_what_the_graph_finds(name: str) -> None:
    """For both entries under every fairness set: a stuttering lasso exists where the graph's
    search (which returns one that stutters whenever there is one) finds one, none where it
    does not (the search exhausted), and it is no longer than the graph's."""
    config, checked = CONFIGS[name], 0
    for fairness in FAIRNESS_SETS:
        for prop_id in LIVENESS:
            case = f"{prop_id} without {_dropped(fairness)}"
            theirs = lasso_sym.find_lasso(graph(name), fairness, prop_id)
            ours, states, exhausted = stuck_lasso(config, fairness, prop_id)
            if theirs is None or theirs.cycle:
                assert ours is None, case
                assert exhausted, case
                # Both merge the 2.6.31 dying-list orders (and keep them where they are read).
                assert states == len(graph(name).states), case
                continue
            assert ours is not None, case
            assert not ours.cycle
            assert len(ours.prefix) <= len(theirs.prefix), case
            _replays(config, ours, fairness, prop_id)
            checked += 1
    assert checked >= 4, "the configs stutter under two fairness sets, for both entries"


@pytest.mark.parametrize("variant", ["2.6.31", "6.x"])
@pytest.mark.parametrize("make", [two_alive, refilling])
def test_lassos_carry_over_to_more_slots(make: object, variant: str) -> None:
    """Every lasso of the two-slot config (both entries, every weaker fairness set) is a fair
    lasso of the same config with three slots, whose own graph has one there too."""
    assert callable(make)
    fewer, more = make(variant), make(variant).with_(slots=3)
    assert fewer.slots == 2
    small_graph, large_graph = lasso_sym.build_quotient(fewer), lasso_sym.build_quotient(more)
    carried = 0
    for fairness in weaker_fairness_sets():
        for prop_id in LIVENESS:
            found = lasso_sym.find_lasso(small_graph, fairness, prop_id)
            if found is None:
                continue
            moved = embed(more, found, fairness, prop_id)
            assert isinstance(moved, Lasso), moved
            assert len(moved.prefix) == len(found.prefix)
            assert len(moved.cycle) == len(found.cycle)
            _replays(more, moved, fairness, prop_id)
            assert lasso_sym.find_lasso(large_graph, fairness, prop_id) is not None
            carried += 1
    assert carried >= 6


def test_a_lasso_that_does_not_carry_over_says_why() -> None:
    """A lasso with a traffic step on its cycle is refused under `traffic-stops`; one whose
    steps name a slot the config does not have cannot be written there; one that needs two
    conntracks at once is not enabled under limit 1."""
    config = two_alive("2.6.31")
    without_traffic_stops = tuple(f for f in FULL_FAIRNESS if f != TRAFFIC_STOPS.id)
    found = lasso_sym.find_lasso(lasso_sym.build_quotient(config), without_traffic_stops)
    assert found is not None
    assert isinstance(embed(config, found, without_traffic_stops), Lasso)
    assert embed(config, found, FULL_FAIRNESS) == "the cycle has a traffic step (traffic-stops)"
    limit_one = embed(config.with_(nf_conntrack_max=1), found, without_traffic_stops)
    assert isinstance(limit_one, str)
    assert "is not enabled here" in limit_one
    three = config.with_(slots=3)
    without_packets = tuple(f for f in FULL_FAIRNESS if f != PACKETS_COMPLETE.id)
    stutters = lasso_sym.find_lasso(lasso_sym.build_quotient(three), without_packets)
    assert stutters is not None
    assert any(("slot", 2) in step.args for step, _ in stutters.prefix)
    two_slots = embed(config, stutters, without_packets)
    assert isinstance(two_slots, str)
    assert "cannot be written here" in two_slots


def test_stutter_search_is_atomic_only() -> None:
    with pytest.raises(ValueError, match="granularity atomic"):
        stuck_lasso(small("2.6.31").with_(granularity="smp"), FULL_FAIRNESS)
