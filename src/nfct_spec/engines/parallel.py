"""A parallel explorer: worker processes that own a hash partition of the canonical states.

The search is the explorer's breadth-first search (`nfct_spec.engines.explorer`), level by
level. Each worker stores the states of its partition (`owner`) and expands the frontier it
owns: it computes the successors, checks the transition properties, canonicalises each
successor and sends it, with its parent, to the successor's owner. Successors are batched: one
message per level from each worker to each other worker, deduplicated per destination first.
Each owner then drops what it has already stored and proposes the rest as the next level; the
coordinator (the calling process, idle meanwhile) grants each worker how many of them it may
store, so that a budget stops the search at exactly `max_states` states, as in the sequential
search. State properties are checked by the owner on each new state.

**Same answers as the sequential search.** Both are level-synchronous breadth-first searches
of the same canonical states, so they store the same states level by level, with the same
depth, the same total when complete, and their first findings at the same depth. A level is
always finished (its successors stored) before the search stops for having every finding, as
the sequential search does. Two things may differ, and neither is part of a verdict: which of
several findings of the same depth is shown (the first by worker, then in that worker's
order, instead of the first in the sequential order), and, when a budget stops the search, the
transitions counted (the parallel search finishes expanding the last level, the sequential one
stops at the state that fills the budget).

**Deterministic partitions.** The owner of a state is a hash of it that every process computes
alike whatever its PYTHONHASHSEED (`stable_hash`), so which worker stores which state, and so
which finding of a level is shown, is the same in every run.

**Traces.** Every state remembers its parent as (worker, index), so a finding's path is
rebuilt by asking the owners of the states on it, one step at a time; the exploration returned
keeps only those states, and traces are rebuilt from real steps exactly as for the sequential
search (`trace_of`).

**Cost.** Every successor that another worker owns is pickled, sent and unpickled, even if its
owner stored it long ago (most transitions of a breadth-first search lead to states already
seen), unless this worker sent it in the last `RECENT_LEVELS` levels; remembering everything
sent would double the memory. The partition hash keeps a listener read with its worker
(`stable_hash`), and the workers run without cyclic garbage collection during a search
(`_serve`). The figures (README, "The explorer's limits and figures") say what two workers gain
on two cores.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import signal
import time
import traceback
import zlib
from array import array
from collections.abc import Iterable, Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from types import TracebackType
from typing import Any

from nfct_spec.checking import StateJudge
from nfct_spec.engines.explorer import (
    NO_PARENT,
    Exploration,
    Finding,
    ProgressFn,
    RecentPosts,
    Stats,
    _checks,
    _judge,
    canonicaliser,
    peak_rss_mib,
)
from nfct_spec.engines.por import PartialOrder, ReductionStats
from nfct_spec.models.config import Config
from nfct_spec.models.intern import Interner
from nfct_spec.models.registry import Step, successors
from nfct_spec.models.state import State, initial_state
from nfct_spec.spec.catalogue import BY_ID, Property

Ref = tuple[int, int]
"""A stored state: (worker, index in that worker's partition)."""
Found = tuple[int, Step | None, State | None]
"""A worker's first finding of a property in a level: (its own index of the state expanded or
stored, and for a step finding the step and successor)."""


def stable_hash(state: State) -> int:
    """A hash of a state that is the same in every process, whatever its PYTHONHASHSEED.

    It hashes the kernel part without the sockets: equal states hash alike, which is all a
    partition needs, and a successor by a step that changes only sockets and observers (a
    listener reads) stays with the worker of its predecessor. On the `ci` suite's searches
    about a third of the transitions then cross partitions, instead of nearly half when the
    whole state is hashed, with partitions as even.

    Python's `hash()` of ints, bools and tuples of them is not salted, and the hash of the
    empty string is 0; only free memory slots (None, whose hash is its address before Python
    3.12) and a crash reason (a non-empty string) need another form. No other field hashed
    holds a string or None (`tests/explorer/test_parallel.py` checks the hash across seeds)."""
    kernel = state.kernel
    cts: tuple[object, ...] = kernel.cts
    if None in cts:
        cts = tuple([0 if ct is None else ct for ct in cts])
    crashed = zlib.crc32(kernel.crashed.encode()) if kernel.crashed else 0
    return hash((cts, kernel[1:5], kernel[6:11], kernel[12:], crashed))


def owner(state: State, workers: int) -> int:
    """The worker that stores `state`."""
    return stable_hash(state) % workers


RECENT_LEVELS = 2
"""How many levels back a worker remembers what it sent to each other worker, so as not to
send it again: the owner has stored it since (most transitions of a breadth-first search lead
back to states of the last levels)."""


class Pool:
    """Worker processes for partitioned searches, started once and used for many searches (a
    context manager; `close` stops them)."""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError("a pool needs at least one worker")
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["nfct_spec.engines.parallel"])
        self.workers = workers
        self.inboxes: list[Queue[Any]] = [context.Queue() for _ in range(workers)]
        self.conns: list[Connection] = []
        self.processes: list[BaseProcess] = []
        for index in range(workers):
            mine, theirs = context.Pipe()
            process = context.Process(
                target=_serve,
                args=(index, workers, self.inboxes, theirs),
                name=f"nfct-spec-explorer-{index}",
                daemon=True,
            )
            process.start()
            theirs.close()
            self.conns.append(mine)
            self.processes.append(process)

    def __enter__(self) -> Pool:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers (at once if a search was interrupted)."""
        for conn, process in zip(self.conns, self.processes, strict=True):
            if process.is_alive():
                with contextlib.suppress(OSError):
                    conn.send(("stop",))
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join()
        for conn in self.conns:
            conn.close()

    def _ask(self, messages: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Send one message to each worker and wait for every answer; a worker's error is
        raised here, with its traceback, once every worker has answered (so that the next
        request meets no stale answer)."""
        for conn, message in zip(self.conns, messages, strict=True):
            conn.send(message)
        answers = []
        for conn, process in zip(self.conns, self.processes, strict=True):
            while not conn.poll(1.0):
                if not process.is_alive():
                    raise RuntimeError(f"explorer worker {process.name} died")
            answers.append(conn.recv())
        for answer, process in zip(answers, self.processes, strict=True):
            if isinstance(answer, tuple) and answer and answer[0] == "error":
                raise RuntimeError(f"explorer worker {process.name} failed:\n{answer[1]}")
        return answers

    def _all(self, *message: Any) -> list[Any]:
        return self._ask([message] * self.workers)

    def search(
        self,
        config: Config,
        checked: Sequence[Property],
        max_states: int | None,
        symmetry: bool,
        progress: ProgressFn | None,
        level: int,
        por: bool,
        goal: frozenset[str] | None,
    ) -> Exploration:
        """The explorer's search (`nfct_spec.engines.explorer._search`), partitioned among the
        workers; it stops early once every property of `goal` (by default every checked one)
        has its finding."""
        started, cpu = time.perf_counter(), time.process_time()
        ids = tuple(p.id for p in checked)
        wanted = frozenset(ids) if goal is None else goal
        self._all("search", config, ids, symmetry, level, por)
        stats = Stats()
        firsts: dict[str, tuple[Ref, Step | None, State | None]] = {}
        pending: list[int] = self._all("start")
        complete = True
        while True:
            stored, cut, found = self._commit(stats, pending, max_states, frozenset(firsts))
            for index, first in enumerate(found):
                for prop_id, (sid, _, _) in first.items():
                    firsts.setdefault(prop_id, ((index, sid), None, None))
            if stored and stats.states > stored:
                stats.depth += 1
            complete = complete and not cut
            stats.seconds = time.perf_counter() - started
            if progress is not None:
                progress(stats)
            frontier = stored > 0
            if not frontier or cut or (wanted and wanted <= firsts.keys()):
                break
            pending = []
            for index, (transitions, count, first) in enumerate(
                self._all("expand", frozenset(firsts))
            ):
                stats.transitions += transitions
                pending.append(count)
                for prop_id, (sid, step, post) in first.items():
                    firsts.setdefault(prop_id, ((index, sid), step, post))
        stats.complete = complete and not frontier
        result = self._exploration(config, checked, symmetry, level, stats, firsts)
        finals: list[tuple[float, float, ReductionStats]] = self._all("finish")
        stats.seconds = time.perf_counter() - started
        stats.peak_rss_mib = peak_rss_mib() + sum(peak for peak, _, _ in finals)
        stats.cpu_seconds = time.process_time() - cpu + sum(spent for _, spent, _ in finals)
        if por:
            stats.reduction = ReductionStats()
            for _, _, reduction in finals:
                stats.reduction.reduced += reduction.reduced
                stats.reduction.deferred += reduction.deferred
                stats.reduction.closure += reduction.closure
        if progress is not None:
            progress(stats)
        return result

    def _commit(
        self, stats: Stats, pending: list[int], max_states: int | None, found: frozenset[str]
    ) -> tuple[int, bool, list[dict[str, Found]]]:
        """Let each worker store its proposed states, within the budget (the first workers
        first); returns how many were stored, whether the budget cut some off, and each
        worker's first state finding of each property not yet `found`."""
        room = None if max_states is None else max_states - stats.states
        quotas = []
        for count in pending:
            grant = count if room is None else min(count, room)
            quotas.append(grant)
            if room is not None:
                room -= grant
        answers: list[dict[str, Found]] = self._ask([("commit", quota, found) for quota in quotas])
        stored = sum(quotas)
        stats.states += stored
        return stored, sum(pending) > stored, answers

    def _exploration(
        self,
        config: Config,
        checked: Sequence[Property],
        symmetry: bool,
        level: int,
        stats: Stats,
        firsts: dict[str, tuple[Ref, Step | None, State | None]],
    ) -> Exploration:
        """The exploration with the states on the paths of its findings (fetched from their
        owners) and its findings pointing at them."""
        canonical = canonicaliser(config, level, symmetry)
        result = Exploration(
            config,
            stats,
            canonical=canonical,
            level=level,
            checked=frozenset(p.id for p in checked),
            reachable=False,
        )
        local: dict[Ref, int] = {}

        def fetch(ref: Ref) -> int:
            chain: list[tuple[Ref, State]] = []
            while ref not in local:
                state, parent = self._node(ref)
                chain.append((ref, state))
                if parent is None:
                    break
                ref = parent
            parent_id = local.get(ref, NO_PARENT)
            for at, state in reversed(chain):
                sid = len(result.states)
                result.states.append(state)
                result.index[state] = sid
                result.parents.append(parent_id)
                local[at] = sid
                parent_id = sid
            return parent_id

        for prop_id, (ref, step, post) in sorted(firsts.items()):
            result.findings[prop_id] = Finding(fetch(ref), step, post)
        return result

    def _node(self, ref: Ref) -> tuple[State, Ref | None]:
        worker, sid = ref
        messages: list[tuple[Any, ...]] = [("ping",)] * self.workers
        messages[worker] = ("node", sid)
        answer: tuple[State, Ref | None] = self._ask(messages)[worker]
        return answer


class _Partition:
    """One worker's part of one search: the states it owns and its frontier."""

    def __init__(
        self,
        me: int,
        workers: int,
        inboxes: Sequence[Queue[Any]],
        config: Config,
        ids: tuple[str, ...],
        symmetry: bool,
        level: int,
        por: bool,
    ) -> None:
        self.me, self.workers, self.inboxes = me, workers, inboxes
        self.config = config
        self.props = [BY_ID[i] for i in ids]
        self.level = level
        self.canonical = canonicaliser(config, level, symmetry)
        self.order = PartialOrder(config, level) if por else None
        self.index: dict[State, int] = {}
        self.states: list[State] = []
        self.share = Interner()
        self.parent_worker = array("b")
        self.parent_index = array("q")
        self.frontier: list[int] = []
        self.pending: list[tuple[State, int, int]] = []
        self.sent: list[list[dict[State, int]]] = []
        """Per level (the last `RECENT_LEVELS`), what was sent to each worker."""
        self.cpu = time.process_time()

    def start(self) -> int:
        """Propose the initial state if this worker owns it."""
        root = self.canonical(initial_state(self.config, self.level))
        if owner(root, self.workers) == self.me:
            self.pending = [(root, -1, NO_PARENT)]
        return len(self.pending)

    def _exchange(self, out: list[dict[State, int]]) -> list[list[tuple[State, int]]]:
        """Send each other worker the successors it owns and collect those sent to this one."""
        for dest in range(self.workers):
            if dest != self.me:
                self.inboxes[dest].put((self.me, list(out[dest].items())))
        batches: list[list[tuple[State, int]]] = [[] for _ in range(self.workers)]
        batches[self.me] = list(out[self.me].items())
        for _ in range(self.workers - 1):
            source, batch = self.inboxes[self.me].get()
            batches[source] = batch
        return batches

    def expand(self, found: frozenset[str]) -> tuple[int, int, dict[str, Found]]:
        """Expand the frontier, exchange the successors with the other workers, and propose the
        new states of this partition; returns the transitions taken, the states proposed and
        the first finding of each property not yet `found`. The exchange takes place even if
        the expansion failed (with nothing to send), so that no other worker waits for ever;
        the error is raised afterwards."""
        out: list[dict[State, int]] = [{} for _ in range(self.workers)]
        expanded = False
        try:
            transitions, findings = self._expand(found, out)
            expanded = True
        finally:
            if not expanded:
                out = [{} for _ in range(self.workers)]
            batches = self._exchange(out)
        proposed: dict[State, tuple[int, int]] = {}
        for source, batch in enumerate(batches):
            for rep, parent in batch:
                if rep not in self.index and rep not in proposed:
                    proposed[rep] = (source, parent)
        self.pending = [(rep, source, parent) for rep, (source, parent) in proposed.items()]
        return transitions, len(self.pending), findings

    def _expand(
        self, found: frozenset[str], out: list[dict[State, int]]
    ) -> tuple[int, dict[str, Found]]:
        """Expand the frontier into `out` (per owner, each successor with the first parent that
        reached it); returns the transitions taken and the first findings."""
        config, canonical, workers = self.config, self.canonical, self.workers
        findings: dict[str, Found] = {}
        on_steps = [p for p in self.props if p.on_transitions and p.id not in found]
        on_states = [p for p in self.props if not p.on_transitions and p.id not in found]
        step_checks = _checks(on_steps, findings)
        state_judge = StateJudge(config, on_states)

        def judge_state(state: State, sid: int) -> None:
            for prop in state_judge(state):
                findings.setdefault(prop.id, (sid, None, None))

        def judge_step(pre: State, step: Step, post: State, sid: int) -> None:
            nonlocal step_checks
            for prop, check, safety in step_checks:
                if bool(check(config, pre, step, post)) is not safety:
                    findings.setdefault(prop.id, (sid, step, post))
                    step_checks = _checks(on_steps, findings)

        transitions = 0
        me, recent = self.me, self.sent
        seen = RecentPosts()
        for pre_id in self.frontier:
            pre = self.states[pre_id]
            taken: Iterable[tuple[Step, State]] = successors(config, pre)
            if self.order is not None:
                judge = _judge(judge_state, judge_step, pre_id)
                taken = self.order.reduce(pre, list(taken), judge)
            for step, post in taken:
                transitions += 1
                judge_step(pre, step, post, pre_id)
                # A stored representative, or a successor already canonicalised this level,
                # needs no canonical form (as in the sequential search, `explorer._search`).
                if post in self.index or not seen.first_time(post):
                    continue
                rep = canonical(post)
                dest = owner(rep, workers)
                batch = out[dest]
                if rep in batch:
                    continue
                if dest != me and any(rep in level[dest] for level in recent):
                    continue
                batch[rep] = pre_id
        self.sent = [*recent, out][-RECENT_LEVELS:]
        return transitions, findings

    def commit(self, quota: int, found: frozenset[str]) -> dict[str, Found]:
        """Store the first `quota` proposed states as the next frontier; returns the first
        state finding of each property not yet `found` on them."""
        findings: dict[str, Found] = {}
        on_states = [p for p in self.props if not p.on_transitions and p.id not in found]
        judge = StateJudge(self.config, on_states)
        self.frontier = []
        for rep, source, parent in self.pending[:quota]:
            sid = len(self.states)
            rep = self.share(rep)
            self.index[rep] = sid
            self.states.append(rep)
            self.parent_worker.append(source)
            self.parent_index.append(parent)
            self.frontier.append(sid)
            for prop in judge(rep):
                findings.setdefault(prop.id, (sid, None, None))
        self.pending = []
        return findings

    def node(self, sid: int) -> tuple[State, Ref | None]:
        """A stored state and its parent."""
        parent = self.parent_index[sid]
        ref = None if parent == NO_PARENT else (self.parent_worker[sid], parent)
        return self.states[sid], ref

    def finish(self) -> tuple[float, float, ReductionStats]:
        """This worker's peak memory, the processor time it spent on the search, and what its
        reduction did."""
        reduction = ReductionStats() if self.order is None else self.order.stats
        return peak_rss_mib(), time.process_time() - self.cpu, reduction


_MESSAGES = frozenset({"stop", "search", "start", "expand", "commit", "node", "finish", "ping"})


def _serve(index: int, workers: int, inboxes: Sequence[Queue[Any]], conn: Connection) -> None:
    """A worker's loop: one partition of the current search, driven by the coordinator. Ctrl-C
    is left to the coordinator, which stops the workers.

    The cyclic garbage collector is off during a search: each level unpickles a batch of
    states at once, most of them duplicates that live until the batch is deduplicated, and
    that burst of survivors sets off full collections, each of which walks every stored state
    (they are all tuples, which hold no cycle). Measured on 2.6.31 `ci.expectations` with
    receipts: 29 s instead of 22 s with two workers. The sequential search pauses it too
    (`explorer.cycles_paused`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    part: _Partition | None = None
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        kind = message[0]
        try:
            if kind not in _MESSAGES:
                raise ValueError(f"unknown message {kind!r}")
            if kind == "stop":
                return
            if kind == "search":
                part = None
                gc.collect()
                gc.disable()
                part = _Partition(index, workers, inboxes, *message[1:])
                conn.send(None)
                continue
            assert part is not None, "no search started"
            if kind == "start":
                conn.send(part.start())
            elif kind == "expand":
                conn.send(part.expand(message[1]))
            elif kind == "commit":
                conn.send(part.commit(message[1], message[2]))
            elif kind == "node":
                conn.send(part.node(message[1]))
            elif kind == "finish":
                gc.enable()
                conn.send(part.finish())
            elif kind == "ping":
                conn.send(None)
        except Exception:
            conn.send(("error", traceback.format_exc()))
