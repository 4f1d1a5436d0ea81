"""The obligations entries judged on the liveness graph as it is built
(`nfct_spec.engines.quotient_safety`): the graph stores exactly the states of the obligations
search, and the entries get the verdicts and BFS-shortest finding depths of their own search,
with traces that replay; with the retries untimed, what the abstraction's graph finds is shown
again on the config as it is; a graph cut at its budget leaves what it did not decide."""

from __future__ import annotations

import pytest
from explorer_configs import small

from helpers import safety_groups, verdicts_and_depths
from nfct_spec.engines import lasso_sym
from nfct_spec.engines.explorer import (
    Exploration,
    explore,
    trace_of,
)
from nfct_spec.engines.folding import settle
from nfct_spec.engines.quotient_safety import SafetyJudge, judged_exploration
from nfct_spec.models.config import Config
from nfct_spec.models.observers import OBLIGATIONS
from nfct_spec.models.presets import suite
from nfct_spec.replay import replay
from nfct_spec.spec.catalogue import BY_ID, Property

MEMBERS = [c for v in ("2.6.30", "2.6.31", "6.x") for c in suite("ci", v)]


def _obligations(config: Config) -> list[Property]:
    return dict(safety_groups(config))[OBLIGATIONS]


def _judged(config: Config, max_states: int | None = None) -> tuple[Exploration, int]:
    group = _obligations(config)
    judge = SafetyJudge(config, group)
    graph = lasso_sym.build_quotient(config, max_states, judge=judge)
    exploration = judged_exploration(graph, judge, 0.0, config, max_states)
    return exploration, len(graph.states)


@pytest.mark.parametrize("config", MEMBERS, ids=lambda c: f"{c.variant}-{c.name}")
def test_the_graph_judges_what_the_obligations_search_judges(config: Config) -> None:
    group = _obligations(config)
    ids = {p.id for p in group}
    on_graph, nodes = _judged(config)
    searched_alone = explore(config, group, level=OBLIGATIONS)
    everything = explore(config, [], level=OBLIGATIONS)
    assert nodes == everything.stats.states
    assert verdicts_and_depths(on_graph, ids) == verdicts_and_depths(searched_alone, ids)
    for prop_id in on_graph.findings:
        report = replay(trace_of(on_graph, BY_ID[prop_id]))
        assert report.ok, (prop_id, report.message)


@pytest.mark.parametrize("variant", ("2.6.31", "6.x"))
def test_the_untimed_graph_shows_its_findings_on_the_config(variant: str) -> None:
    for config in suite("ci", variant):
        group = _obligations(config)
        ids = {p.id for p in group}
        abstract = config.with_(retry_untimed=True)
        judge = SafetyJudge(abstract, group)
        graph = lasso_sym.build_quotient(abstract, judge=judge)
        on_graph = judged_exploration(graph, judge, 0.0, config, None)
        assert on_graph.config == config and on_graph.stats.liveness_graph
        alone = explore(config, group, level=OBLIGATIONS, untimed=True)
        assert verdicts_and_depths(on_graph, ids) == verdicts_and_depths(alone, ids), config.name
        for prop_id in on_graph.findings:
            assert replay(trace_of(on_graph, BY_ID[prop_id])).ok, prop_id


def test_a_cut_graph_leaves_what_it_did_not_decide() -> None:
    config = small("2.6.31")
    group = _obligations(config)
    _, nodes = _judged(config)
    judge = SafetyJudge(config, group)
    graph = lasso_sym.build_quotient(config, nodes // 4, judge=judge)
    exploration = judged_exploration(graph, judge, 0.0, config, nodes // 4)
    assert not exploration.stats.complete
    settle(exploration, group)
    assert exploration.checked == set(exploration.findings) < {p.id for p in group}


def test_the_judge_refuses_entries_that_read_more_than_the_graph_keeps() -> None:
    with pytest.raises(ValueError, match="obligations observers only"):
        SafetyJudge(small("6.x"), [BY_ID["nothing-after-destroy"]])
