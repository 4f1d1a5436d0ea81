"""The liveness search on the symmetry-reduced graph (`nfct_spec.engines.lasso_sym`) decides
what the unreduced search decides: the same broken obligations at the same BFS length, a fair
lasso under the same fairness sets, and its lassos replay and pass the unreduced lasso check."""

from __future__ import annotations

from functools import cache

import pytest
from explorer_configs import refilling, small, twin_listeners, two_alive, with_unreliable

from nfct_spec.engines import lasso, lasso_sym
from nfct_spec.engines.lasso import FULL_FAIRNESS, check_lasso, weaker_fairness_sets
from nfct_spec.models.canonical import Canonicaliser
from nfct_spec.models.config import Config
from nfct_spec.models.presets import suite
from nfct_spec.models.registry import ACTIONS, take
from nfct_spec.replay import replay
from nfct_spec.spec.fairness import LIVENESS

FAIRNESS_SETS = [FULL_FAIRNESS, *weaker_fairness_sets()]

CONFIGS = {
    "small 2.6.31 retry 0": small("2.6.31", flows=1, sysctl_writes=(("events_retry_timeout", 0),)),
    "small 2.6.30": small("2.6.30", flows=1),
    "small 6.x": small("6.x"),
    "twin listeners 2.6.31": twin_listeners("2.6.31"),
    "twin listeners 6.x": twin_listeners("6.x"),
    "unreliable 2.6.31": with_unreliable("2.6.31"),
    "two alive 6.x": two_alive("6.x"),
    "refilling 2.6.31": refilling("2.6.31"),
    "refilling 6.x": refilling("6.x"),
    "ci.allocations 2.6.31": next(c for c in suite("ci", "2.6.31") if c.name == "ci.allocations"),
}


@cache
def graphs(name: str) -> tuple[lasso.Graph, lasso_sym.Quotient]:
    config = CONFIGS[name]
    return lasso.build_graph(config), lasso_sym.build_quotient(config)


def _dropped(fairness: tuple[str, ...]) -> str:
    return ",".join(f for f in FULL_FAIRNESS if f not in fairness) or "full"


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_the_quotient_is_smaller_and_complete(name: str) -> None:
    graph, quotient = graphs(name)
    assert graph.complete and quotient.complete
    assert len(quotient.states) <= len(graph.states)


@pytest.mark.parametrize("fairness", FAIRNESS_SETS, ids=_dropped)
@pytest.mark.parametrize("prop_id", LIVENESS)
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_same_outcome_as_the_unreduced_search(
    name: str, prop_id: str, fairness: tuple[str, ...]
) -> None:
    config = CONFIGS[name]
    graph, quotient = graphs(name)
    plain = lasso.check_liveness(graph, fairness, prop_id)
    reduced = lasso_sym.check_liveness(quotient, fairness, prop_id)
    assert (reduced.broken is None) == (plain.broken is None)
    if plain.broken is not None and reduced.broken is not None:
        assert len(reduced.broken.steps) == len(plain.broken.steps)
        assert replay(reduced.broken).ok
    assert (reduced.lasso is None) == (plain.lasso is None)
    if reduced.lasso is not None:
        trace = reduced.lasso
        assert trace.loop is not None
        assert replay(trace).ok
        assert check_lasso(config, trace.states, trace.steps, trace.loop, fairness, prop_id) is None
    expected = "violated" if plain.broken or plain.lasso else "holds"
    assert (
        lasso.liveness_verdict(reduced, expected)[0] == lasso.liveness_verdict(plain, expected)[0]
    )


def test_the_reduction_matters_somewhere() -> None:
    """Not a vacuous comparison: on these configs the quotient is several times smaller."""
    graph, quotient = graphs("refilling 2.6.31")
    assert len(quotient.states) * 3 < len(graph.states)


def test_group_operations() -> None:
    config = small("6.x", flows=3, slots=3)
    quotient = lasso_sym.build_quotient(config)
    a = ((1, 0, 2), (2, 0, 1), (0,))
    b = ((0, 2, 1), (0, 1, 2), (0,))
    unit = lasso_sym.identity(config)
    assert lasso_sym.compose(a, lasso_sym.inverse(a)) == unit
    assert lasso_sym.compose(lasso_sym.inverse(a), a) == unit
    assert lasso_sym.compose(a, b)[0] == (1, 2, 0)
    numbers = lasso_sym.Group(quotient)
    ia, ib = quotient.renaming_id(a), quotient.renaming_id(b)
    assert quotient.renamings[numbers.mul(ia, ib)] == lasso_sym.compose(a, b)
    assert numbers.mul(ia, numbers.inv(ia)) == numbers.unit
    group = numbers.closure([ia, ib])
    assert group[0] == numbers.unit
    assert len(group) == 6 * 3  # S3 on the slots, the 3-cycle on the flows
    assert all(numbers.mul(g, h) in group for g in group for h in group)


def _renaming_commutes(config: Config, limit: int) -> int:
    """For the first `limit` states of the quotient's own BFS: each real step of a state,
    renamed by the renaming that takes the state to its representative, is enabled in the
    representative and reaches the representative of the step's successor."""
    canonical = Canonicaliser(config, lasso.LEVEL, dying_order=True)
    namer = lasso_sym.Namer(config)
    graph = lasso.build_graph(config, limit)
    checked = 0
    for state in graph.states:
        rep, _, g = canonical.renaming(state)
        for step, post in lasso_sym.all_successors(config, state):
            renamed = take(config, rep, namer.step(step, g))
            assert renamed is not None, f"{namer.step(step, g)} not enabled in {rep}"
            assert canonical(renamed) == canonical(post)
            checked += 1
    return checked


@pytest.mark.parametrize("name", ["twin listeners 6.x", "refilling 2.6.31"])
def test_steps_commute_with_the_renaming(name: str) -> None:
    assert _renaming_commutes(CONFIGS[name], 3000) > 1000


def _explicit_lift(
    search: lasso_sym.SymLiveness, m: lasso_sym.Marked, comp: set[int], root: int
) -> tuple[set[tuple[int, int]], set[lasso.Unit]]:
    """The lifted component of (root, identity) built pair by pair, and the fairness
    instances its state-changing steps take, in real names."""
    graph, group = search.graph, search.group
    start = (root, group.unit)
    seen = {start}
    work = [start]
    taken: set[lasso.Unit] = set()
    while work:
        u, k = work.pop()
        for v, e in m.succ(u):
            if v not in comp:
                continue
            step, _, gid, changes = graph.edge(e)
            if changes and step.action in search.names:
                taken.add(search.rename((step.action, step.args), k))
            pair = (v, group.mul(k, group.inv(gid)))
            if pair not in seen:
                seen.add(pair)
                work.append(pair)
    return seen, taken


@pytest.mark.parametrize("prop_id", LIVENESS)
@pytest.mark.parametrize(
    "config",
    [twin_listeners("2.6.31"), twin_listeners("6.x"), two_alive("2.6.31").with_(slots=3)],
    ids=["twin 2.6.31", "twin 6.x", "two alive 2.6.31, 3 slots"],
)
def test_the_group_of_a_component_is_its_explicit_lift(config: Config, prop_id: str) -> None:
    """For every component of the marked graph, under every fairness set: the renamings that
    the pair-by-pair lift reaches the root with are the group `lifts` computes, each node is
    reached with exactly the group times its tree renaming, and the instances taken inside are
    those `taken` computes. Some components must have a group larger than the identity, or the
    comparison would not test the lift."""
    quotient = lasso_sym.build_quotient(config)
    larger = 0
    for fairness in FAIRNESS_SETS:
        search = lasso_sym.SymLiveness(quotient, fairness, prop_id)
        m = search.marked()
        for comp in lasso_sym.sccs(m, range(len(m))):
            root, h, group = search.lifts(m, comp)
            seen, taken = _explicit_lift(search, m, comp, root)
            for u in comp:
                reached = {k for v, k in seen if v == u}
                assert reached == {search.group.mul(g, h[u]) for g in group}
            assert taken == search.taken(m, comp, h, group)
            larger += len(group) > 1
    assert larger > 0


def test_every_step_argument_is_known_to_the_renaming() -> None:
    """A new action argument must be declared as naming a slot, flow or listener or as naming
    none; the renaming refuses any other (steps of granularity smp name calls by position)."""
    keys = {name for action in ACTIONS for name, _ in action.params}
    assert keys - lasso_sym.NAMING_ARGS - lasso_sym.PLAIN_ARGS == {"call"}
    namer = lasso_sym.Namer(small("6.x"))
    with pytest.raises(ValueError, match="'call'"):
        namer.args((("call", 0),), lasso_sym.identity(small("6.x")))


def test_lassos_through_merged_dying_orders_are_real() -> None:
    """The 2.6.31 quotient merges states whose dying lists differ only in order, so a pair of
    its lift is a class of real states and `real_cycle` builds the real component state by
    state. Every fair component with two conntracks on the dying list somewhere (three slots,
    limit 2), under every fairness set, is rebuilt into a lasso that replays and passes the
    unreduced lasso check; some of them run through a dying list that is not in the sorted
    order of the representatives (the rebuild meets the real orders, not only the merged one).
    The quotient that keeps the order has a fair component under exactly the same sets."""
    config = two_alive("2.6.31").with_(slots=3)
    merged = lasso_sym.build_quotient(config)
    kept = lasso_sym.build_quotient(config, dying_order=True)
    assert not merged.ordered and len(merged.states) < len(kept.states)
    rebuilt = unsorted = 0
    for fairness in FAIRNESS_SETS:
        for prop_id in LIVENESS:
            verdicts = []
            for graph in (merged, kept):
                search = lasso_sym.SymLiveness(graph, fairness, prop_id)
                m = search.marked()
                fair = [c for c in search.components(m) if search.fair_able(m, c)]
                verdicts.append(bool(fair))
                if graph is kept:
                    continue
                for comp, *_ in fair:
                    if all(len(graph.states[m.node[u]].kernel.dying) < 2 for u in comp):
                        continue
                    found = search.rebuild(m, comp, min(comp), stuck=False)
                    trace = lasso.lasso_trace(config, found, fairness, prop_id)
                    assert replay(trace).ok
                    assert trace.loop is not None
                    assert (
                        check_lasso(
                            config, trace.states, trace.steps, trace.loop, fairness, prop_id
                        )
                        is None
                    )
                    rebuilt += 1
                    unsorted += any(
                        list(state.kernel.dying) != sorted(state.kernel.dying)
                        for state in trace.states
                    )
            assert verdicts[0] == verdicts[1], (prop_id, fairness)
    assert rebuilt > 100
    assert unsorted > 0


def _flat(graph: lasso_sym.Quotient) -> tuple[object, ...]:
    return (
        graph.states,
        graph.first,
        graph.step_of,
        graph.dst_of,
        graph.renaming_of,
        graph.changes,
        graph.steps,
        graph.renamings,
        graph.broken,
        graph.cut,
        graph.complete,
        graph.transitions,
    )


@pytest.mark.parametrize(
    "config",
    [
        *(c for v in ("2.6.31", "6.x") for c in suite("ci", v)),
        CONFIGS["refilling 2.6.31"],
        two_alive("2.6.31").with_(slots=3),
        two_alive("6.x").with_(slots=3, retry_untimed=True),
    ],
    ids=lambda c: f"{c.variant}-{c.name}-{c.slots}",
)
def test_the_renaming_shortcut_builds_the_same_quotient(config: Config) -> None:
    """A successor that is a stored representative gets the identity renaming without
    computing it (`build_quotient`'s shortcut): the same states, edges, renamings, changes and
    broken steps as renaming every successor, also when the budget cuts the graph."""
    assert _flat(lasso_sym.build_quotient(config)) == _flat(
        lasso_sym.build_quotient(config, shortcut=False)
    )
    cut = len(lasso_sym.build_quotient(config).states) // 2
    assert _flat(lasso_sym.build_quotient(config, cut)) == _flat(
        lasso_sym.build_quotient(config, cut, shortcut=False)
    )
