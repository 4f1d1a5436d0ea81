"""Safety entries of the obligations group judged on the liveness graph as it is built.

The symmetry-reduced liveness graph (`nfct_spec.engines.lasso_sym.build_quotient`) and the
obligations safety search store the same states: both keep the OBLIGATIONS observers and
reduce by the same `Canonicaliser` (slot, flow and listener symmetry, the 2.6.31 dying list
as a set where nothing reads its order), both breadth-first. When the liveness entries are
checked, the graph is built anyway; judging the obligations entries on it as it grows saves
their search, or, with folded searches (`nfct_spec.engines.folding`), their judging on the
much larger finest search.

Each stored node is judged as the obligations search judges its new states, and each step
the graph takes as it judges its transitions. The graph takes more steps than that search:
it allocates into every free slot, not one per class of interchangeable ones
(`lasso_sym.all_successors`); each extra step is a renamed copy of one the search takes, to
a renamed copy of its successor, and every entry judges renamed copies alike (the symmetry
the search itself relies on). A node's parent is the node it was first reached from, in
breadth-first order, so a finding's path is BFS-shortest, and the trace is rebuilt by the
explorer's `trace_of` from real steps like every other.

An entry is decided here when its finding is shown or the graph is complete; otherwise
(the graph cut at its budget) it is searched as before. With the retries untimed the graph
is the abstraction's, and what it finds is shown again on the config as it is
(`explorer.shown_again`), as the untimed safety searches do.
"""

from __future__ import annotations

from collections.abc import Sequence

from nfct_spec.engines.explorer import (
    UNTIMED,
    Exploration,
    Judges,
    Stats,
    canonicaliser,
    peak_rss_mib,
    shown_again,
)
from nfct_spec.engines.lasso import LEVEL
from nfct_spec.engines.lasso_sym import Quotient
from nfct_spec.models.config import Config
from nfct_spec.spec.catalogue import Property


class SafetyJudge(Judges):
    """The judges of safety entries on the nodes and steps `build_quotient` shows them, with
    findings of their own; only entries that read no more than the graph's observers."""

    def __init__(self, config: Config, props: Sequence[Property]) -> None:
        if any(p.observes & ~LEVEL for p in props):
            raise ValueError("the liveness graph keeps the obligations observers only")
        super().__init__(config, props, {})


def _depth(graph: Quotient) -> int:
    """The BFS depth of the graph: that of its last node (nodes are stored level by level)."""
    depth, node = 0, len(graph.parents) - 1
    while node > 0:
        node = graph.parents[node]
        depth += 1
    return depth


def judged_exploration(
    graph: Quotient,
    judge: SafetyJudge,
    seconds: float,
    config: Config,
    max_states: int | None,
) -> Exploration:
    """The exploration of the entries `judge` judged while `graph` was built (in `seconds`).
    `config` is the config as it is: when the graph is that of its untimed abstraction, what
    the judge found is shown again on it."""
    stats = Stats(
        states=len(graph.states),
        transitions=graph.transitions,
        depth=_depth(graph),
        seconds=seconds,
        cpu_seconds=seconds,
        peak_rss_mib=peak_rss_mib(),
        complete=graph.complete,
        liveness_graph=True,
    )
    ids = frozenset(p.id for p in judge.props)
    exploration = Exploration(
        graph.config,
        stats,
        findings=dict(judge.findings),
        index=graph.index,
        states=graph.states,
        parents=graph.parents,
        canonical=canonicaliser(graph.config, LEVEL, True),
        level=LEVEL,
        checked=ids,
    )
    if graph.config.retry_untimed and not config.retry_untimed:
        stats.abstraction = UNTIMED
        exploration = shown_again(None, exploration, config, judge.props, max_states, True, LEVEL)
    exploration.goal = ids
    return exploration
