"""Liveness of `destroy-eventually` and `expiry-eventually` on the explicit state graph:
broken obligations and fair lassos.

The two entries share their obligations (a conntrack freed without its DESTROY) and differ in
which conntracks a lasso keeps (`spec.fairness.HELD`): `destroy-eventually` a dying one,
`expiry-eventually` any allocated one (a conntrack whose timeout never ends it once traffic
stops is a lasso of its own). What follows says "dying" for the first; read "allocated" for
the second.

The graph here is built without symmetry reduction, from the initial state by breadth-first
search: the search of granularity smp and the oracle that the symmetry-reduced search of
`nfct_spec.engines.lasso_sym` (what `nfct-spec explore` runs at granularity atomic) is tested
against. Its states keep the OBLIGATIONS observers only (what the obligations read; no kernel
step reads any observer, so dropping the others merges states with the same futures), and the
records freed by a step are dropped once the step's obligation was checked: the graph is
finite. Traces replay at that observer level.

A counterexample to "every dying conntrack is eventually freed with its DESTROY queued to every
reliable listener" takes one of two shapes:

1. **A broken obligation**: a reachable step that frees a conntrack that reported events while
   a reliable (BROADCAST_ERROR) DESTROY listener, open since before the conntrack's creation,
   neither holds nor received its DESTROY (`spec.fairness.obligation_broken`). Nothing can make
   up for it later (a freed conntrack sends nothing), whatever the fairness.
2. **A fair lasso**: a reachable cycle of actual transitions on which one conntrack stays on
   the dying list in every state, and which is fair with respect to the chosen fairness
   records (`nfct_spec.spec.fairness`). A behaviour may also stutter forever in a state where
   no fair step is enabled (then the cycle is that single state).

Fairness, read from the records' statements, applies to each action *per instance* (one
listener, one timer, one conntrack), and only a step that changes the state counts as taking
it. Weak fairness (`packets-complete`, and time advancing in `timers-fire`): an instance
enabled in every state of the cycle is taken on it. Strong fairness (`listeners-read` and the
timer handlers of `timers-fire`): an instance enabled in some state of the cycle is taken on it.
`traffic-stops`: no step of the cycle is a packet, a userspace request, a sysctl write or any
other environment input (`spec.fairness.TRAFFIC_ACTIONS`); it does not restrict the prefix.
`retry-timeout-positive`: every state of the lasso has a positive retry timeout and no crash
(`assumptions_hold`).

Fairness is checked on the actual cycle (`check_lasso`), not on a strongly connected component.
Components only guide the search, as for Streett automata: within the graph restricted to
states where the conntrack is dying, a component loses every state in which a strong instance
is enabled that no step inside the component takes, and what is left is split into components
again, until every component is closed under its strong instances. In such a component, if a
weak instance is enabled in every state and never taken, no cycle inside it is fair; otherwise
a closed walk is grown from its first state by detours that take a missing instance (a weak one
may instead be avoided by visiting a state where it is disabled) until the walk is fair. In the
ITF trace, `loop` is the index of the state where the cycle starts, and the last state equals
that state (the closing step is recorded, so the whole cycle replays).

**Untimed retries.** The graph of a config with its DESTROY retries untimed
(`Config.retry_untimed`: 2.6.31's dying-list retry timers and the countdown of 6.x's redelivery
worker forgotten) is searched with a weaker reading of the fairness records:

- a step of a retry handler (`death_by_event`, `ecache_work`) takes its own instance even when
  it changes nothing, and takes the tick's instance too (`takes`);
- the 6.x redelivery worker is under weak fairness, not strong (`strong_actions`).

With that reading every fair counterexample of the config as it is (C) has a fair counterpart
in the untimed config (A), so an entry A exhausts holds in C. Forgetting the timers maps each
run of C to a run of A (a tick that only counted a retry timer down becomes no step) and keeps
every held conntrack, every obligation, every traffic step and every assumption. Take a fair
cycle of C and its image:

- Instances other than the tick and the retry handlers are enabled, change the state and are
  taken alike in both: their guards and effects do not read the forgotten values.
- 2.6.31's `death_by_event` is enabled in both whenever the conntrack's retry timer is pending
  (the model lets a retry fire at any tick up to its bound). A retry that fails in C sets the
  timer back to its bound, which A's timer never left: in A it may change nothing, and the
  first rule counts it taken all the same. (A's timer holds the bound it was armed with; if the
  retry timeout was written since, A's first failed retry changes that bound where C's may
  not, and a counterpart that takes that step once in its prefix meets the same argument.)
- The 6.x worker runs in C only when its countdown is 0, in A whenever it is scheduled. If it
  is scheduled in every state of the image, the C cycle runs it: a tick counts it down and only
  a run sets it up again; without ticks its countdown keeps C's tick enabled, unless it is at 0
  somewhere (then strong fairness runs it) or every step is held back somewhere (an allocation
  waiting for early drop), where A does not enable the worker either. It may instead be
  scheduled only in some states, while C's tick is held back by such a wait and the worker
  never reaches 0: C is fair there, and A's worker is owed nothing only under weak fairness.
- The tick: if A's tick is enabled in every state of the image and the C cycle ticks, that
  tick counts down a timer A keeps, so the image ticks. If the C cycle never ticks, C's tick
  is disabled in one of its states where A's is enabled, which happens only when a retry is
  due there (a retry timer or the worker at 0); strong fairness runs it on the cycle, or its
  only step changes nothing and can be put on the cycle as a loop, and its image takes the tick
  by the first rule.

So what A does not find C does not have. What A finds is only a candidate (a retry may stand in
for time), and `nfct-spec explore --reduction untimed` then searches C for that entry.
`tests/explorer/test_untimed_lemmas.py` checks the facts about single states and steps this
starts from (the same steps up to the forgetting map, ticks and retries covered, a tick held
back only for a due retry, held conntracks, assumptions and obligations kept, A reading no
forgotten value) on every reachable state of those small configs.
`tests/explorer/test_lasso_untimed.py` compares both on small configs, every entry under every
fairness set (they agree), and shows that each rule is needed: without either, A misses a
lasso that C has.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import cache
from itertools import pairwise

import networkx as nx

from nfct_spec.engines.explorer import PROGRESS_EVERY, peak_rss_mib
from nfct_spec.models.canonical import Canonicaliser, unreduced
from nfct_spec.models.config import Config
from nfct_spec.models.observers import OBLIGATIONS
from nfct_spec.models.registry import BY_NAME, Args, Step, apply, enabled_steps, successors
from nfct_spec.models.state import State, initial_state
from nfct_spec.spec.fairness import (
    FAIRNESS,
    HELD,
    RETRY_POSITIVE,
    TRAFFIC_ACTIONS,
    TRAFFIC_STOPS,
    assumptions_hold,
    obligation_broken,
)
from nfct_spec.traces import Trace, make_trace

PROPERTY = "destroy-eventually"

REDUCTIONS = ("obligations only", "anonymous queues", "sk_drops slice")
"""The reductions the liveness graph uses (`same_state`): it keeps the OBLIGATIONS observers
and no other (no kernel step reads an observer), forgets what queued messages say (the kernel
only compares queue lengths, and the obligations record a queued DESTROY themselves) and sets
sk_drops to 0 (read by no step and no property). Each maps a state to one that has the same
steps and the same obligations, so the graph keeps every cycle and every broken obligation.

What it does not use, and why:

- *Symmetry* (slots, flows, listeners), here: a lasso must close on the same state, and
  fairness is judged per instance (one listener, one timer, one conntrack). In a quotient graph
  a cycle may close on a renamed copy of its first state, where the conntrack that stays dying
  and the instances owed a step have other names. `nfct_spec.engines.lasso_sym` keeps the
  renaming on every edge and lifts each component through the group of renamings that map it
  onto itself; this graph is that search's oracle (and the search at granularity smp, whose
  steps name calls by a position the renaming changes).
- *The 2.6.31 dying list as a set*, here: the unreduced graph keeps the order, as the oracle
  must. `nfct_spec.engines.lasso_sym` does sort it where nothing reads it
  (`canonical.dying_order_observable`): reordering the list is a bisimulation that keeps step
  labels, so fairness instances, assumptions and obligations are the same in every order, and
  a cycle of classes repeated from a real state closes a real cycle.
- *Partial-order reduction* (`nfct_spec.engines.por`): it keeps whether a finding is reachable,
  not cycles. On a cycle of a reduced graph a deferred step may be taken later or never, so a
  fair lasso of the full graph may have no fair counterpart, and an unfair one may look fair.
  The conditions that keep liveness (a fully expanded state on every cycle, a property and
  fairness sets blind to the deferred steps) are not built.
- *The parallel search* (`nfct_spec.engines.parallel`): the lasso search needs the whole graph
  in one process; the graph is built there.
"""

FULL_FAIRNESS = tuple(f.id for f in FAIRNESS)
Unit = tuple[str, Args]
Edge = tuple[int, Step, int]


def weaker_fairness_sets() -> list[tuple[str, ...]]:
    """The full fairness set with one record dropped, for each record."""
    return [tuple(i for i in FULL_FAIRNESS if i != dropped) for dropped in FULL_FAIRNESS]


def strong_actions(config: Config, fairness: Sequence[str]) -> frozenset[str]:
    """The actions under strong fairness in a fairness set. With the DESTROY retries untimed
    (`Config.retry_untimed`) the 6.x redelivery worker is under weak fairness ("Untimed
    retries" above)."""
    strong = frozenset(a for f in FAIRNESS if f.id in fairness for a in f.strong)
    return strong - {"ecache_work"} if config.retry_untimed else strong


def missing_units(
    config: Config,
    enabled: Sequence[Iterable[Unit]],
    taken: AbstractSet[Unit],
    fairness: Sequence[str],
) -> list[Unit]:
    """The instances a cycle owes but does not take: weak ones enabled in every state of it,
    strong ones enabled in some state of it (`enabled` lists the instances per state)."""
    strong = strong_actions(config, fairness)
    sets = [set(units) for units in enabled]
    always = set.intersection(*sets) if sets else set()
    sometimes = set.union(*sets) if sets else set()
    owed = {u for u in always if u[0] not in strong} | {u for u in sometimes if u[0] in strong}
    return sorted(owed - taken, key=repr)


RETRY_HANDLERS = frozenset({"death_by_event", "ecache_work"})
"""The handlers that retry a failed DESTROY: 2.6.31's dying-list retry timer and 6.x's
redelivery worker."""
TICK: Unit = ("env_tick", ())


def takes(config: Config, step: Step, changed: bool) -> tuple[Unit, ...]:
    """The fairness instances a step takes on a cycle: its own, if it changes the state. With
    the DESTROY retries untimed (`Config.retry_untimed`, "Untimed retries" above) a step of a
    retry handler takes its own instance even when it changes nothing, and the tick's too."""
    unit = (step.action, step.args)
    if config.retry_untimed and step.action in RETRY_HANDLERS:
        return (unit, TICK)
    return (unit,) if changed else ()


@cache
def fair_actions(fairness: tuple[str, ...]) -> frozenset[str]:
    """The actions the fairness records of `fairness` speak of."""
    return frozenset(a for f in FAIRNESS if f.id in fairness for a in f.actions)


def fair_units(config: Config, state: State, fairness: Sequence[str]) -> set[Unit]:
    """The fairness instances enabled in `state` with a step that changes it."""
    names = fair_actions(tuple(fairness))
    same = same_state(config, state.ghost.level)
    before = same(state)
    units: set[Unit] = set()
    for name in sorted(names):
        action = BY_NAME[name]
        if not action.exists_in(config):
            continue
        for step, post in enabled_steps(config, state, action):
            if same(post) != before:
                units.add((step.action, step.args))
    return units


@dataclass
class Graph:
    """The unreduced reachable state graph (possibly cut at a budget)."""

    config: Config
    states: list[State] = field(default_factory=list)
    index: dict[State, int] = field(default_factory=dict)
    out: list[list[tuple[Step, int]]] = field(default_factory=list)
    complete: bool = True
    transitions: int = 0
    units_cache: dict[tuple[int, tuple[str, ...]], frozenset[Unit]] = field(default_factory=dict)
    broken: list[tuple[int, Step]] = field(default_factory=list)
    """Steps (from a node) that break an obligation of destroy-eventually, in BFS order."""

    def units(self, node: int, fairness: Sequence[str]) -> frozenset[Unit]:
        """The fairness instances enabled in a node (cached: the search asks repeatedly).

        In a complete graph they are read off the node's edges: an edge is an enabled step,
        and it changes the state iff it leads to another node (nodes are states as
        `same_state` compares them, which is what `fair_units` compares); a graph cut at its
        budget lacks the edges to states it did not store, so there they are computed."""
        key = (node, tuple(fairness))
        found = self.units_cache.get(key)
        if found is None:
            if self.complete:
                names = fair_actions(tuple(fairness))
                found = frozenset(
                    (step.action, step.args)
                    for step, dst in self.out[node]
                    if dst != node and step.action in names
                )
            else:
                found = frozenset(fair_units(self.config, self.states[node], fairness))
            self.units_cache[key] = found
        return found

    def shortest_path(
        self, goal: Callable[[int], bool], allowed: Callable[[int], bool]
    ) -> list[tuple[Step, State]] | None:
        """The BFS-shortest path from the initial state to a node satisfying `goal`, through
        `allowed` nodes only (None if there is none)."""
        if not allowed(0):
            return None
        prev: dict[int, tuple[int, Step]] = {}
        queue = deque([0])
        seen = {0}
        while queue:
            node = queue.popleft()
            if goal(node):
                path: list[tuple[Step, State]] = []
                while node:
                    back, step = prev[node]
                    path.append((step, self.states[node]))
                    node = back
                return path[::-1]
            for step, dst in self.out[node]:
                if dst not in seen and allowed(dst):
                    seen.add(dst)
                    prev[dst] = (node, step)
                    queue.append(dst)
        return None


LEVEL = OBLIGATIONS
"""The observers the liveness graph keeps."""


@cache
def same_state(config: Config, level: int) -> Canonicaliser:
    """What two states must share to count as the same state of a lasso: everything at the
    given observer level, except the previous step's freed records (no renaming)."""
    return unreduced(config, level)


def build_graph(
    config: Config, max_states: int | None = None, progress: Callable[[int], None] | None = None
) -> Graph:
    """Breadth-first construction of every reachable state and transition (observers of
    `LEVEL`, no symmetry reduction), noting the steps that break an obligation; `progress` is
    told the state count every `PROGRESS_EVERY` states."""
    graph = Graph(config)
    canonical = same_state(config, LEVEL)
    start = canonical(initial_state(config, LEVEL))
    graph.states.append(start)
    graph.index[start] = 0
    graph.out.append([])
    queue = deque([0])
    while queue:
        node = queue.popleft()
        pre = graph.states[node]
        for step, raw in successors(config, pre):
            graph.transitions += 1
            if obligation_broken(config, pre, step, raw):
                graph.broken.append((node, step))
            post = canonical(raw)
            dst = graph.index.get(post)
            if dst is None:
                if max_states is not None and len(graph.states) >= max_states:
                    graph.complete = False
                    continue
                dst = len(graph.states)
                graph.index[post] = dst
                graph.states.append(post)
                graph.out.append([])
                queue.append(dst)
                if progress is not None and len(graph.states) % PROGRESS_EVERY == 0:
                    progress(len(graph.states))
            graph.out[node].append((step, dst))
    return graph


@dataclass(frozen=True)
class Lasso:
    """A prefix to `cycle[0]`'s source and a closed walk of actual transitions."""

    slot: int
    prefix: list[tuple[Step, State]]
    cycle: list[tuple[Step, State]]


def assumed(config: Config, state: State, fairness: Sequence[str]) -> bool:
    """Whether a state may be on a lasso under `fairness`: its assumptions hold there (only
    `retry-timeout-positive` makes one)."""
    return RETRY_POSITIVE.id not in fairness or assumptions_hold(config, state)


def _allowed(graph: Graph, node: int, fairness: Sequence[str]) -> bool:
    return assumed(graph.config, graph.states[node], fairness)


def _restricted(graph: Graph, slot: int, fairness: Sequence[str], prop_id: str) -> nx.DiGraph:
    """States where `prop_id` follows the conntrack in `slot` (`HELD`: dying, or allocated)
    and the assumptions hold, and the allowed steps."""
    held = HELD[prop_id]
    quiet = TRAFFIC_STOPS.id in fairness
    h = nx.DiGraph()
    nodes = [
        n for n, s in enumerate(graph.states) if slot in held(s) and _allowed(graph, n, fairness)
    ]
    h.add_nodes_from(nodes)
    keep = set(nodes)
    for n in nodes:
        for step, dst in graph.out[n]:
            if dst in keep and not (quiet and step.action in TRAFFIC_ACTIONS):
                h.add_edge(n, dst)
    return h


def _bfs(h: nx.DiGraph, comp: set[int], src: int, target: int) -> list[int] | None:
    """Shortest node path of at least one step inside `comp` from `src` to `target` (a cycle
    when they are the same node)."""
    prev: dict[int, int] = {}
    queue = deque([src])
    seen = {src}
    while queue:
        node = queue.popleft()
        for nxt in sorted(h.successors(node)):
            if nxt not in comp:
                continue
            if nxt == target:
                path = [nxt, node]
                while path[-1] != src:
                    path.append(prev[path[-1]])
                return path[::-1]
            if nxt not in seen:
                seen.add(nxt)
                prev[nxt] = node
                queue.append(nxt)
    return None


def _edge(graph: Graph, src: int, dst: int, fairness: Sequence[str]) -> Step:
    quiet = TRAFFIC_STOPS.id in fairness
    for step, node in graph.out[src]:
        if node == dst and not (quiet and step.action in TRAFFIC_ACTIONS):
            return step
    raise AssertionError("edge not in graph")


def _walk(graph: Graph, nodes: list[int], fairness: Sequence[str]) -> list[Edge]:
    return [(a, _edge(graph, a, b, fairness), b) for a, b in pairwise(nodes)]


def _unfair_units(
    graph: Graph, walk: list[Edge], nodes: Iterable[int], fairness: Sequence[str]
) -> list[Unit]:
    taken = {u for a, s, b in walk for u in takes(graph.config, s, a != b)}
    return missing_units(graph.config, [graph.units(n, fairness) for n in nodes], taken, fairness)


def _taken_inside(graph: Graph, comp: set[int]) -> set[Unit]:
    """The instances some state-changing step inside the component takes."""
    config = graph.config
    return {
        unit
        for node in comp
        for step, dst in graph.out[node]
        if dst in comp
        for unit in takes(config, step, dst != node)
    }


def streett_components(
    graph: Graph, h: nx.DiGraph, nodes: set[int], fairness: Sequence[str]
) -> list[set[int]]:
    """The components of `h` on `nodes`, each pruned until every strong instance enabled in
    one of its states is taken by a step inside it (components of one state without a
    self-loop are dropped: no cycle stays in them)."""
    strong = strong_actions(graph.config, fairness)
    done: list[set[int]] = []
    whole = h if len(nodes) == h.number_of_nodes() else h.subgraph(nodes)
    work = [set(c) for c in nx.strongly_connected_components(whole)]
    while work:
        comp = work.pop()
        if len(comp) == 1 and not h.has_edge(next(iter(comp)), next(iter(comp))):
            continue
        inside = _taken_inside(graph, comp)
        bad = {
            n
            for n in comp
            if any(u[0] in strong and u not in inside for u in graph.units(n, fairness))
        }
        if not bad:
            done.append(comp)
            continue
        rest = comp - bad
        work.extend(set(c) for c in nx.strongly_connected_components(h.subgraph(rest)))
    return sorted(done, key=min)


def fair_cycle(
    graph: Graph, h: nx.DiGraph, comp: set[int], fairness: Sequence[str]
) -> list[Edge] | None:
    """A fair closed walk inside the component from its first state, or None if none exists.
    An empty walk stands for stuttering forever in that state (no fair step is enabled)."""
    root = min(comp)
    if not graph.units(root, fairness):
        return []
    if len(comp) == 1 and not h.has_edge(root, root):
        return None
    strong = strong_actions(graph.config, fairness)
    inside = _taken_inside(graph, comp)
    weak_always = set.intersection(*(set(graph.units(n, fairness)) for n in comp))
    if any(u[0] not in strong and u not in inside for u in weak_always):
        return None
    back = _bfs(h, comp, root, root)
    assert back is not None
    walk = _walk(graph, back, fairness)
    for _ in range(4 * len(comp) + 16):
        nodes = [a for a, _, _ in walk]
        missing = _unfair_units(graph, walk, nodes, fairness)
        if not missing:
            return walk
        unit = missing[0]
        detour = _detour(graph, h, comp, root, unit, fairness)
        if detour is None:
            return None
        walk += detour
    raise AssertionError("fair cycle construction did not converge")


def _detour(
    graph: Graph, h: nx.DiGraph, comp: set[int], root: int, unit: Unit, fairness: Sequence[str]
) -> list[Edge] | None:
    """A closed walk from `root` that takes `unit` or visits a state where it is disabled."""
    for node in sorted(comp):
        for step, dst in graph.out[node]:
            if dst in comp and unit in takes(graph.config, step, dst != node):
                to = [root] if node == root else _bfs(h, comp, root, node)
                home = [root] if dst == root else _bfs(h, comp, dst, root)
                if to is None or home is None:
                    continue
                return [
                    *_walk(graph, to, fairness),
                    (node, step, dst),
                    *_walk(graph, home, fairness),
                ]
    if unit[0] in strong_actions(graph.config, fairness):
        return None
    for node in sorted(comp):
        if unit not in graph.units(node, fairness):
            to = _bfs(h, comp, root, node)
            home = _bfs(h, comp, node, root)
            if to is not None and home is not None:
                return [*_walk(graph, to, fairness), *_walk(graph, home, fairness)]
    return None


def find_lasso(graph: Graph, fairness: Sequence[str], prop_id: str = PROPERTY) -> Lasso | None:
    """The first fair lasso on which some conntrack that `prop_id` follows stays (dying, or
    allocated) forever, or None."""
    config = graph.config
    for slot in range(config.slots):
        h = _restricted(graph, slot, fairness, prop_id)
        stuck = [{n} for n in sorted(h.nodes) if not graph.units(n, fairness)]
        comps = streett_components(graph, h, set(h.nodes), fairness)
        for comp in stuck[:1] + comps:
            walk = fair_cycle(graph, h, comp, fairness)
            if walk is None:
                continue
            root = min(comp)
            prefix = graph.shortest_path(
                {root}.__contains__, lambda n: _allowed(graph, n, fairness)
            )
            assert prefix is not None
            cycle = [(step, graph.states[dst]) for _, step, dst in walk]
            return Lasso(slot, prefix, cycle)
    return None


def check_lasso(
    config: Config,
    states: Sequence[State],
    steps: Sequence[Step],
    loop: int,
    fairness: Sequence[str],
    prop_id: str = PROPERTY,
) -> str | None:
    """Why a lasso is not a fair counterexample of `prop_id`, or None if it is one.

    Checks the cycle itself: it closes, some conntrack `prop_id` follows is held (dying, or
    allocated) in every state of it, no traffic
    step occurs on it under `traffic-stops`, the assumptions hold under
    `retry-timeout-positive`, and every fair instance enabled throughout it is taken.
    """
    same = same_state(config, states[0].ghost.level)
    cycle_states = list(states[loop:])
    if same(cycle_states[-1]) != same(states[loop]):
        return "the last state is not the loop state"
    if len(cycle_states) > 1:
        cycle_states = cycle_states[:-1]
    cycle_steps = list(steps[loop:])
    held = HELD[prop_id]
    if not set.intersection(*(set(held(s)) for s in cycle_states)):
        what = "dying" if prop_id == PROPERTY else "allocated"
        return f"no conntrack is {what} in every state of the cycle"
    if TRAFFIC_STOPS.id in fairness and any(s.action in TRAFFIC_ACTIONS for s in cycle_steps):
        return "the cycle has a traffic step (traffic-stops)"
    if RETRY_POSITIVE.id in fairness and not all(assumptions_hold(config, s) for s in states):
        return "a state breaks retry-timeout-positive"
    enabled = [fair_units(config, s, fairness) for s in cycle_states]
    changes = zip(states[loop:-1], steps[loop:], states[loop + 1 :], strict=True)
    taken = {u for pre, step, post in changes for u in takes(config, step, same(pre) != same(post))}
    unfair = missing_units(config, enabled, taken, fairness)
    if unfair:
        kind = "strong" if unfair[0][0] in strong_actions(config, fairness) else "weak"
        return f"{kind} fairness broken for {unfair[0][0]}{dict(unfair[0][1])}"
    return None


def lasso_trace(
    config: Config, lasso: Lasso, fairness: Sequence[str], prop_id: str = PROPERTY
) -> Trace:
    """The lasso as an ITF trace with `loop` set (the last state equals the loop state)."""
    steps = [step for step, _ in lasso.prefix + lasso.cycle]
    start = initial_state(config, LEVEL)
    path = replay_path(config, start, steps)
    loop = len(lasso.prefix)
    meta = {
        "lasso-of": prop_id,
        "finding": "fair lasso",
        "fairness": list(fairness),
        ("dying-forever" if prop_id == PROPERTY else "allocated-forever"): lasso.slot,
        "observers": LEVEL,
        "step": loop,
        "engine": "explorer",
        "variant": config.variant,
    }
    return make_trace(config, path, initial_state(config, LEVEL), meta, loop=loop)


@dataclass(frozen=True)
class LivenessOutcome:
    """What the liveness search found for one fairness set."""

    fairness: tuple[str, ...]
    complete: bool
    states: int
    transitions: int
    broken: Trace | None
    lasso: Trace | None
    peak_rss_mib: float
    symmetry: bool = False
    """Whether the graph was the symmetry-reduced one (`nfct_spec.engines.lasso_sym`)."""
    untimed: bool = False
    """Whether the graph was that of the config with its DESTROY retries untimed ("Untimed
    retries" above)."""


def broken_trace(config: Config, graph: Graph, prop_id: str = PROPERTY) -> Trace | None:
    """The BFS-shortest path to a step that breaks an obligation (through states that respect
    `retry-timeout-positive`), as a trace of `prop_id` (the liveness entries share their
    obligations: `spec.fairness.obligation_broken`)."""
    breaking = {node: step for node, step in reversed(graph.broken)}
    path = graph.shortest_path(breaking.__contains__, lambda n: _allowed(graph, n, FULL_FAIRNESS))
    if path is None:
        return None
    node = graph.index[path[-1][1]] if path else 0
    return broken_from_steps(config, [step for step, _ in path] + [breaking[node]], prop_id)


def broken_from_steps(config: Config, steps: Sequence[Step], prop_id: str) -> Trace:
    """The trace of a path whose last step breaks an obligation of `prop_id`, replayed from
    the initial state at the liveness graph's observer level."""
    meta = {
        "property": prop_id,
        "finding": "violated",
        "step": len(steps),
        "engine": "explorer",
        "variant": config.variant,
        "observers": LEVEL,
    }
    start = initial_state(config, LEVEL)
    return make_trace(config, replay_path(config, start, steps), start, meta)


def replay_path(config: Config, start: State, steps: Sequence[Step]) -> list[tuple[Step, State]]:
    """The model's own states along `steps` from `start` (the graph keeps settled ones)."""
    path: list[tuple[Step, State]] = []
    state = start
    for step in steps:
        post = apply(config, state, step)
        assert post is not None, f"{step} is not enabled on the graph's own path"
        path.append((step, post))
        state = post
    return path


def check_liveness(
    graph: Graph, fairness: Sequence[str], prop_id: str = PROPERTY
) -> LivenessOutcome:
    """Search the graph for a broken obligation and a fair lasso of `prop_id` under
    `fairness`."""
    return outcome_of(
        graph.config,
        fairness,
        prop_id,
        find_lasso(graph, fairness, prop_id),
        broken_trace(graph.config, graph, prop_id),
        (graph.complete, len(graph.states), graph.transitions),
    )


def outcome_of(
    config: Config,
    fairness: Sequence[str],
    prop_id: str,
    lasso: Lasso | None,
    broken: Trace | None,
    size: tuple[bool, int, int],
    symmetry: bool = False,
) -> LivenessOutcome:
    """The outcome of one search: its lasso as a trace, its broken obligation, and the graph's
    (complete, states, transitions)."""
    trace = lasso_trace(config, lasso, fairness, prop_id) if lasso is not None else None
    complete, states, transitions = size
    return LivenessOutcome(
        tuple(fairness),
        complete,
        states,
        transitions,
        broken,
        trace,
        peak_rss_mib(),
        symmetry=symmetry,
        untimed=config.retry_untimed,
    )


def liveness_verdict(outcome: LivenessOutcome, expected: str) -> tuple[str, str, Trace | None]:
    """The verdict on a liveness entry under the outcome's fairness, its scope and trace
    (an expected violation that an exhaustive search did not show is `unknown`: the config is
    too small for it)."""
    reduction = (
        "symmetry-reduced, renamings kept on the edges"
        if outcome.symmetry
        else "no symmetry reduction"
    )
    if outcome.untimed:
        reduction += ", DESTROY retries untimed"
    scope = (
        f"{outcome.states} states, {outcome.transitions} transitions, {reduction}; "
        f"fairness: {', '.join(outcome.fairness)}"
    )
    if outcome.broken is not None:
        return "violated", f"freed without its DESTROY; {scope}", outcome.broken
    if outcome.lasso is not None:
        return "violated", f"fair lasso; {scope}", outcome.lasso
    if not outcome.complete:
        return "unknown", f"budget hit: {scope}", None
    if expected == "violated":
        return "unknown", f"no counterexample, the config is too small for it; {scope}", None
    return "exhausted", f"no broken obligation and no fair lasso; {scope}", None
