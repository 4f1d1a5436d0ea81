"""The explicit-state explorer: breadth-first search over every reachable state of a config.

The model is finite by construction (memory slots are reused, observers forget), so a search
that ends is exhaustive: every reachable state of the config, with no bound on how many
conntracks a run creates. A search keeps the ghost observers of the properties it checks, no
more (`observers_for`). Every state is reduced to its canonical representative
(`nfct_spec.models.canonical`) before it is looked up, so each class of equivalent states is
expanded once. Every invariant and state
witness is evaluated on every new state, every action property and step witness on every
transition, the same way as the other engines do (`nfct_spec.checking`). Because the search is
breadth-first, the first finding of each property is at the smallest possible depth: the trace
rebuilt from the parent pointers is a shortest counterexample or witness.

Storage is compact: states are kept once, as dictionary keys mapping to a dense index (plus a
list of references by index); the parent of each state is an integer array. A trace
is rebuilt by replaying real steps from the initial state and choosing, at each depth, the
successor whose canonical form is the next state on the path, so every trace replays through
the plain model even though the search worked on representatives.

With `por`, the search first runs with partial-order reduction (`nfct_spec.engines.por`),
which keeps verdicts but not BFS depths; every finding it shows is then shown again by the
unreduced search of the properties found (which stops once it has them all), so findings,
their depths and their traces are always BFS-shortest. A property that holds costs only the
reduced search.

Liveness (`destroy-eventually`, `expiry-eventually`) is not decided here: see
`nfct_spec.engines.lasso`, which works on the unreduced graph.
"""

from __future__ import annotations

import gc
import resource
import time
from array import array
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nfct_spec.checking import (
    SAFETY_KINDS,
    StateJudge,
    finding_on_step,
    finding_verdict,
    searched,
)
from nfct_spec.engines.por import Judge, PartialOrder, ReductionStats
from nfct_spec.models.canonical import Canonicaliser, unreduced
from nfct_spec.models.config import Config
from nfct_spec.models.intern import Interner
from nfct_spec.models.observers import (
    BITS,
    DUPS,
    FULL,
    IDS,
    KERNEL,
    NEWS,
    OBLIGATIONS,
    ORDER,
    RECEIPTS,
    level_name,
)
from nfct_spec.models.registry import Step, successors
from nfct_spec.models.state import State, initial_state
from nfct_spec.spec.catalogue import Property
from nfct_spec.traces import Trace, make_trace

if TYPE_CHECKING:
    from nfct_spec.engines.parallel import Pool

UNTIMED = "retries untimed"
"""The abstraction of `Config.retry_untimed`, as search scopes name it."""

ProgressFn = Callable[["Stats"], None]
SearchFn = Callable[
    [
        Config,
        Sequence[Property],
        "int | None",
        bool,
        "ProgressFn | None",
        int,
        bool,
        "frozenset[str] | None",
    ],
    "Exploration",
]
"""One breadth-first search (`_search`, or a pool's partitioned one); its last argument is the
goal (see `_search`)."""
PROGRESS_EVERY = 5000
NO_PARENT = -1
RECENT_POSTS = 100_000
"""How many successors the search remembers having canonicalised (see `_search`)."""


class RecentPosts:
    """The successors a search put in canonical form lately, at most `RECENT_POSTS` of them
    (the set is cleared when full, which bounds its memory): their representatives are
    stored or proposed since, so meeting one again needs no canonical form."""

    def __init__(self) -> None:
        self.posts: set[State] = set()

    def first_time(self, post: State) -> bool:
        """Whether `post` is not among them; it is from now on.

        One hash of `post`, not two: the set is asked to add it and its size says whether it
        was new (a state hashes its whole nested tuple, about 1.5 µs on the reference config,
        and this runs for most transitions)."""
        posts = self.posts
        size = len(posts)
        posts.add(post)
        if len(posts) == size:
            return False
        if size >= RECENT_POSTS:
            posts.clear()
            posts.add(post)
        return True


@dataclass
class Stats:
    """What a search covered: distinct states, transitions, BFS depth, time and memory."""

    states: int = 0
    transitions: int = 0
    depth: int = 0
    seconds: float = 0.0
    peak_rss_mib: float = 0.0
    complete: bool = False
    cpu_seconds: float = 0.0
    """Processor time the search took, in every process that worked on it."""
    reduction: ReductionStats | None = None
    """With partial-order reduction: what it did (the other figures are the reduced search's)."""
    shown: Stats | None = None
    """With partial-order reduction or the untimed abstraction, and findings: the search
    without it that showed them."""
    abstraction: str | None = None
    """The abstraction the search worked on (`UNTIMED`), None for the config as it is."""
    liveness_graph: bool = False
    """Whether the entries were judged on the liveness graph as it was built
    (`nfct_spec.engines.quotient_safety`): the figures are the graph's."""

    @property
    def states_per_second(self) -> float:
        """Distinct states found per second of search."""
        return self.states / self.seconds if self.seconds > 0 else 0.0

    @property
    def scope(self) -> str:
        """The scope line of an `exhausted` verdict."""
        line = f"{self.states} states, {self.transitions} transitions, depth {self.depth}"
        if self.liveness_graph:
            line = f"{line} of the liveness graph"
        if self.abstraction is not None:
            line = f"{line}, {self.abstraction}"
        return line if self.reduction is None else f"{line}, partial-order reduced"

    @property
    def searched_as(self) -> str:
        """What the search that found a property worked on, for verdicts that name it."""
        if self.abstraction is not None:
            return f"the search with {self.abstraction}"
        return "the partial-order reduced search"


@dataclass(frozen=True)
class Finding:
    """The first (shallowest) finding of one property: the canonical state it was found from
    (for a step finding) or in (for a state finding), and the step when it is a step finding."""

    target: int
    step: Step | None
    post: State | None


@dataclass
class Exploration:
    """The outcome of one search: statistics, first findings and the reachable set."""

    config: Config
    stats: Stats
    findings: dict[str, Finding] = field(default_factory=dict)
    index: dict[State, int] = field(default_factory=dict)
    states: list[State] = field(default_factory=list)
    parents: array[int] = field(default_factory=lambda: array("q"))
    canonical: Callable[[State], State] = lambda s: s
    level: int = FULL
    checked: frozenset[str] = frozenset()
    """The ids of the properties the search checked."""
    goal: frozenset[str] = frozenset()
    """The ids of the properties whose findings, all shown, end the search early (the checked
    ones but for `explore`'s riders)."""
    unshown: frozenset[str] = frozenset()
    """Properties the reduced or abstract search found that the search of the config as it is
    did not show within the budget (their verdict is `unknown`: no BFS-shortest trace)."""
    spurious: frozenset[str] = frozenset()
    """Properties the abstract search found that the search of the config as it is, exhausted,
    did not find: the abstract finding needs a run the config does not have."""
    folded: frozenset[str] = frozenset()
    """Entries of coarser groups this search decided as riders (`nfct_spec.engines.folding`):
    their own searches were left out."""
    reachable: bool = True
    """Whether `index` holds every state the search reached. A search with partial-order
    reduction keeps only the unreduced search that showed its findings."""

    def contains(self, state: State) -> bool:
        """Whether `state` (any member of its symmetry class) was reached."""
        if not self.reachable:
            raise ValueError("this exploration does not keep the states it reached")
        return self.canonical(state) in self.index

    def path_to(self, target: int) -> list[int]:
        """The canonical state ids from the initial state to `target`."""
        ids = [target]
        while self.parents[ids[-1]] != NO_PARENT:
            ids.append(self.parents[ids[-1]])
        return ids[::-1]


@contextmanager
def cycles_paused() -> Iterator[None]:
    """Python's cycle collector paused for the length of a search.

    A search keeps millions of states, tuples of ints, strings and tuples that form no cycles,
    and every few thousand new containers the collector walks the ones it tracks (about a
    twentieth of a large search's time). Reference counting still frees the states a search
    drops as soon as it drops them; only garbage in cycles waits until the collector resumes.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def peak_rss_mib() -> float:
    """The peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def search_groups(props: Sequence[Property]) -> list[tuple[int, list[Property]]]:
    """The searches that check `props`, each with the observers it keeps.

    Observers multiply states: a search that keeps receipts has several times the states of
    one that keeps only obligations (which has about as many as the kernel alone), and one that
    also keeps id-reuse memory many times more again. So properties are checked by the
    smallest search that keeps what they read: obligations (every kernel-only property too),
    obligations with receipts (of each message and of what a listener read only the DESTROY
    bit, and not the order of deaths), receipts with every event bit (`may-coalesce`), receipts
    with the order of deaths (`may-reorder`), receipts with id-reuse memory, receipts with the
    NEW bit while a NEW can still be read again (`may-duplicate`), and receipts with every NEW
    read (`new-before-destroy`). A search for findings only (every property it checks expected
    to be violated or witnessed) stops at its last finding.
    """
    ladder = (
        OBLIGATIONS,
        OBLIGATIONS | RECEIPTS,
        OBLIGATIONS | RECEIPTS | DUPS,
        OBLIGATIONS | RECEIPTS | NEWS,
        OBLIGATIONS | RECEIPTS | BITS,
        OBLIGATIONS | RECEIPTS | ORDER,
        OBLIGATIONS | RECEIPTS | IDS,
    )
    groups: dict[int, list[Property]] = {}
    for prop in props:
        level = next(rung for rung in ladder if prop.observes & ~rung == 0)
        groups.setdefault(level, []).append(prop)
    return sorted(groups.items())


def observers_for(props: Sequence[Property]) -> int:
    """The ghost level a search of `props` keeps: the union of what their checks read."""
    level = KERNEL
    for prop in props:
        level |= prop.observes
    return level


def explore(
    config: Config,
    props: Sequence[Property],
    max_states: int | None = None,
    symmetry: bool = True,
    progress: ProgressFn | None = None,
    level: int | None = None,
    por: bool = False,
    pool: Pool | None = None,
    untimed: bool = False,
    riders: Sequence[Property] = (),
) -> Exploration:
    """Breadth-first search of every reachable canonical state, checking `props`.

    Liveness properties and properties that are `n/a` for the config are skipped. The search
    keeps the observers `level` (by default those the checked properties read). It stops
    early, incomplete, once `max_states` distinct states are stored; and, complete for its
    purpose, once every checked property has its finding (nothing is left to decide).

    `riders` are checked too, on every state and step, but do not keep the search going: it
    stops once each of `props` has its finding, whether the riders have theirs or not
    (`nfct_spec.engines.folding` judges coarser groups on a finer search this way).

    With `por`, the search is partial-order reduced (`nfct_spec.engines.por`); the properties
    it finds are then searched again without it, and their findings, depths and traces are
    those of that unreduced search (BFS-shortest). The statistics are the reduced search's.

    With a `pool` of worker processes, the searches are partitioned among them
    (`nfct_spec.engines.parallel`): the same verdicts, state counts, depths and finding depths,
    but the exploration keeps only the states on the paths of its findings.

    With `untimed`, a config the abstraction applies to (`untimed_applies`) is searched with
    its DESTROY retries untimed (`Config.retry_untimed`, an over-approximation): a property it
    does not find has no finding in the config either. The properties it finds are searched
    again on the config as it is, which shows their BFS-shortest findings; one that this
    search exhausts without finding is `spurious` (no finding), one it does not reach within
    the budget `unshown` (unknown). The statistics are the abstract search's. Other configs
    are searched as they are.
    """
    checked = [p for p in props if p.kind != "liveness" and searched(p, config)]
    goal = frozenset(p.id for p in checked)
    checked += [p for p in riders if p.kind != "liveness" and searched(p, config)]
    if level is None:
        level = observers_for(checked)
    blind = [p for p in checked if p.observes & ~level]
    if blind:
        names = ", ".join(p.id for p in blind)
        raise ValueError(
            f"a search that keeps the observers {level_name(level)} cannot check {names} "
            f"(it reads {level_name(observers_for(blind))})"
        )
    search = _search if pool is None else pool.search
    if untimed and untimed_applies(config):
        if por:
            raise ValueError("a search is either partial-order reduced or untimed, not both")
        abstract = config.with_(retry_untimed=True)
        first = search(abstract, checked, max_states, symmetry, progress, level, False, goal)
        first.stats.abstraction = UNTIMED
        result = shown_again(search, first, config, checked, max_states, symmetry, level)
    elif not por:
        result = search(config, checked, max_states, symmetry, progress, level, False, goal)
    else:
        reduced = search(config, checked, max_states, symmetry, progress, level, True, goal)
        result = shown_again(search, reduced, config, checked, max_states, symmetry, level)
    result.goal = goal
    return result


def untimed_applies(config: Config) -> bool:
    """Whether `explore(.., untimed=True)` abstracts this config's DESTROY retries: 2.6.31 (a
    retry timer per dying conntrack) and 6.x (the delayed ecache worker) at atomic
    granularity; 2.6.30 retries nothing."""
    return config.variant != "2.6.30" and config.granularity == "atomic"


def shown_again(
    search: SearchFn | None,
    first: Exploration,
    config: Config,
    checked: list[Property],
    max_states: int | None,
    symmetry: bool,
    level: int,
) -> Exploration:
    """`first`, a partial-order reduced or abstract search, with the findings of the
    properties it found shown again by the plain search of `config` (which stops once it
    has them all): its findings, paths and canonical forms replace those of `first`, whose
    statistics stay. A property the plain search does not show is `unshown`, or `spurious`
    when `first` was abstract and the plain search exhausted the config. `search` shows them
    (by default the sequential search in this process)."""
    if search is None:
        search = _search
    first.config, first.reachable = config, False
    found = [p for p in checked if p.id in first.findings]
    if not found:
        first.findings.clear()
        first.index, first.states, first.parents = {}, [], array("q")
        return first
    shown = search(config, found, max_states, symmetry, None, level, False, None)
    first.stats.shown = shown.stats
    first.findings, first.canonical = shown.findings, shown.canonical
    first.index, first.states, first.parents = shown.index, shown.states, shown.parents
    missing = frozenset(p.id for p in found if p.id not in shown.findings)
    if first.stats.abstraction is not None and shown.stats.complete:
        first.spurious = missing
    else:
        first.unshown = missing
    return first


def canonicaliser(config: Config, level: int, symmetry: bool) -> Canonicaliser:
    """The canonical form of a safety search: with `symmetry` every reduction (the symmetries
    and the 2.6.31 dying list as a set), without it none of them (the states of the search
    are then the model's own, observers projected)."""
    return Canonicaliser(config, level) if symmetry else unreduced(config, level)


def _search(
    config: Config,
    checked: Sequence[Property],
    max_states: int | None,
    symmetry: bool,
    progress: ProgressFn | None,
    level: int,
    por: bool,
    goal: frozenset[str] | None,
) -> Exploration:
    """The breadth-first search itself, in this process (see `explore`); with `por`, reduced.
    It stops early once every property of `goal` (by default every checked one; `explore`'s
    riders are not in it) has its finding.

    Most successors were met before: on the two-slot 6.x reference config, of 76,450
    successors 21,560 are stored representatives already and the other 54,890 are 14,594
    distinct states. A canonical form costs about ten times a lookup, so a successor that is a
    stored representative (the index holds nothing else) or one of the last `RECENT_POSTS`
    successors canonicalised (`RecentPosts`) is skipped before its canonical form is computed.
    What it skips changes nothing the search stores, counts or finds (every transition is still
    judged), only how often the same form is computed.
    """
    canonical = canonicaliser(config, level, symmetry)
    order = PartialOrder(config, level) if por else None
    if goal is None:
        goal = frozenset(p.id for p in checked)
    stats = Stats()
    result = Exploration(
        config, stats, canonical=canonical, level=level, checked=frozenset(p.id for p in checked)
    )
    index, states, parents = result.index, result.states, result.parents
    findings = result.findings
    started, cpu = time.perf_counter(), time.process_time()
    judges = Judges(config, checked, findings)
    judge_state, judge_step = judges.state, judges.step

    def add(state: State, parent: int) -> State | None:
        """Store a new canonical state (its parts shared with those stored before); None once
        the budget is full."""
        if max_states is not None and len(index) >= max_states:
            return None
        sid = len(index)
        state = share(state)
        index[state] = sid
        states.append(state)
        parents.append(parent)
        judge_state(state, sid)
        return state

    share = Interner()
    root = add(canonical(initial_state(config, level)), NO_PARENT)
    assert root is not None
    frontier = [0]
    complete = True
    recent = RecentPosts()
    with cycles_paused():
        while frontier and complete and not (goal and goal <= findings.keys()):
            next_frontier: list[int] = []
            for pre_id in frontier:
                pre = states[pre_id]
                taken: Iterable[tuple[Step, State]] = successors(config, pre)
                if order is not None:
                    taken = order.reduce(pre, list(taken), _judge(judge_state, judge_step, pre_id))
                for step, post in taken:
                    stats.transitions += 1
                    judge_step(pre, step, post, pre_id)
                    if post in index or not recent.first_time(post):
                        continue
                    rep = canonical(post)
                    if rep in index:
                        continue
                    if add(rep, pre_id) is None:
                        complete = False
                        break
                    next_frontier.append(len(states) - 1)
                    if progress is not None and len(index) % PROGRESS_EVERY == 0:
                        stats.states, stats.seconds = len(index), time.perf_counter() - started
                        progress(stats)
                if not complete:
                    break
            if next_frontier:
                stats.depth += 1
            frontier = next_frontier
    stats.states = len(index)
    stats.seconds = time.perf_counter() - started
    stats.cpu_seconds = time.process_time() - cpu
    stats.peak_rss_mib = peak_rss_mib()
    stats.complete = complete and not frontier
    stats.reduction = None if order is None else order.stats
    if progress is not None:
        progress(stats)
    return result


class Judges:
    """The checks of a search's properties: each state property on every state it is shown,
    each step property on every step, until its first (shallowest) finding, written to
    `findings` (the search's own, or a dict of their own)."""

    def __init__(
        self, config: Config, props: Sequence[Property], findings: dict[str, Finding]
    ) -> None:
        self.config = config
        self.props = list(props)
        self.findings = findings
        self._states = StateJudge(config, [p for p in props if not p.on_transitions])
        self._on_steps = [p for p in props if p.on_transitions]
        self._steps = _checks(self._on_steps, findings)

    def state(self, state: State, sid: int) -> None:
        """Judge the stored state `sid`."""
        for prop in self._states(state):
            self.findings.setdefault(prop.id, Finding(sid, None, None))

    def step(self, pre: State, step: Step, post: State, pre_id: int) -> None:
        """Judge a step from the stored state `pre_id`."""
        for prop, check, safety in self._steps:
            if bool(check(self.config, pre, step, post)) is not safety:
                self.findings[prop.id] = Finding(pre_id, step, post)
                self._steps = _checks(self._on_steps, self.findings)


def _judge(
    judge_state: Callable[[State, int], None],
    judge_step: Callable[[State, Step, State, int], None],
    pre_id: int,
) -> Judge:
    """How the reduction reports what it judges in place: as findings of the state it is
    expanding (their traces come from the unreduced search)."""
    return Judge(
        lambda state: judge_state(state, pre_id),
        lambda pre, step, post: judge_step(pre, step, post, pre_id),
    )


Check = tuple[Property, Callable[..., bool], bool]


def _checks(props: Sequence[Property], findings: Container[str]) -> list[Check]:
    """The checks still to run: each property without a finding yet, its predicate, and the
    predicate's value that is fine (True for invariant and action properties, whose finding is
    a violation; False for witnesses). Every predicate returns a bool."""
    out = []
    for prop in props:
        if prop.id not in findings and prop.check is not None:
            out.append((prop, prop.check, prop.kind in SAFETY_KINDS))
    return out


def _follow(exploration: Exploration, ids: list[int]) -> list[tuple[Step, State]]:
    """Real steps from the initial state whose successors have the canonical forms `ids`.

    The steps are replayed with every observer (so that traces show them all); the search's
    own observers are a projection of those, which this checks on every step."""
    config, canonical = exploration.config, exploration.canonical
    state = initial_state(config)
    path: list[tuple[Step, State]] = []
    for sid in ids[1:]:
        want = exploration.states[sid]
        for step, post in successors(config, state):
            if canonical(post) == want:
                path.append((step, post))
                state = post
                break
        else:
            raise AssertionError(f"no step reaches canonical state {sid}")
    return path


def trace_of(exploration: Exploration, prop: Property) -> Trace:
    """The BFS-shortest trace of a property's finding, rebuilt from real steps."""
    finding = exploration.findings[prop.id]
    config = exploration.config
    path = _follow(exploration, exploration.path_to(finding.target))
    if finding.step is not None:
        assert finding.post is not None
        pre = path[-1][1] if path else initial_state(config)
        want = exploration.canonical(finding.post)
        for step, post in successors(config, pre):
            if exploration.canonical(post) == want and finding_on_step(
                prop, config, pre, step, post
            ):
                path.append((step, post))
                break
        else:
            raise AssertionError(f"{prop.id}: the finding does not carry over to the trace")
    meta = {
        "property": prop.id,
        "statement": prop.statement,
        "finding": finding_verdict(prop),
        "step": len(path),
        "engine": "explorer",
        "variant": config.variant,
    }
    return make_trace(config, path, initial_state(config), meta)


def verdict(prop: Property, exploration: Exploration) -> tuple[str, str]:
    """The explorer's verdict on a safety or witness property, with its scope line.

    An expected finding that an exhaustive search did not show is `unknown`, not a pass or a
    refutation: the config is too small to show it (the catalogue claims it for some config).
    A property the search did not check has no verdict here (ValueError): its observers may
    not have been kept, so "exhausted" would claim what was never judged.
    """
    if prop.id not in exploration.checked:
        raise ValueError(f"the search did not check {prop.id}: it has no verdict on it")
    stats = exploration.stats
    finding = exploration.findings.get(prop.id)
    if finding is not None:
        found = "witnessed" if finding_verdict(prop) == "witness" else "violated"
        depth = finding_depth(exploration, prop.id)
        return found, f"BFS-shortest finding at depth {depth}; {stats.scope}"
    if prop.id in exploration.unshown:
        return "unknown", (
            f"{stats.searched_as} found it ({stats.scope}), but the search without it did not "
            "reach its BFS-shortest trace within the budget"
        )
    if prop.id in exploration.spurious:
        assert stats.shown is not None
        stats = stats.shown
    if not stats.complete:
        return "unknown", f"budget hit: {stats.scope} searched, not exhausted"
    if prop.expected_for(exploration.config) in ("violated", "witness"):
        kind = finding_verdict(prop)
        return "unknown", f"no {kind} in any of the {stats.scope}: the config is too small for it"
    return "exhausted", stats.scope


def finding_depth(exploration: Exploration, prop_id: str) -> int:
    """The number of steps of the BFS-shortest finding of a property the search found."""
    finding = exploration.findings[prop_id]
    steps = len(exploration.path_to(finding.target)) - 1
    return steps + (1 if finding.step is not None else 0)
