"""Partial-order reduction for the explorer's safety searches: persistent sets whose deferred
part is explored on the spot.

**What is reduced.** In a state `s` with enabled steps `en(s)`, the search may take only a
subset `T` and defer the rest `X = en(s) - T`. Deferred steps are environment steps (registry
kind `env`: a listener reads, time passes, root writes a sysctl, a fault is armed, a socket
opens or closes): what happens beside the kernel, and what enables little kernel work, so that
what can follow them alone stays small. Every state where this works loses the intermediate
states of the diamonds `x; t` / `t; x` it would otherwise store.

**Conditions** (checked in `s` before `T` is used; otherwise `s` is expanded fully). Let the
*closure* `C(s)` be the states reachable from `s` by steps whose labels (action and
arguments) are not in `T`; it is computed exactly, and given up on beyond `CLOSURE_BOUND`
states.

- *Persistence*: in every `r` in `C(s)` every `t` in `T` is enabled, and for every step `w`
  not in `T` enabled in `r`, `w` is still enabled after `t` and `t(w(r))` equals `w(t(r))`.
  Equality is that of the search's own projection (`same_state`: the observers the search
  keeps, without renaming), so a step label means the same slot, flow and listener on both
  sides. Independence is thus not read from a table but checked on the model's own successor
  functions, in the states where the reduction relies on it. The registry's frames
  (`Action.modifies`) are too coarse to show it: every packet may send, so
  `nf_conntrack_in` declares that it writes the sockets and every conntrack field, and a
  relation derived from the frames makes every environment step depend on every kernel
  step. The exact check finds the cases that do commute (a read that leaves room in a
  two-message queue before a send, a sysctl write beside steps that allocate nothing) and
  refuses the ones that do not (a read of a full one-message queue against any send to it:
  the send fails in one order and not in the other, which is what the reliable-delivery
  properties are about; a tick against a packet that refreshes the timer; any step against
  an allocation that leaves early_drop pending, since nothing else is enabled then).
- *Visibility*, in its exact form: every state of `C(s)` other than `s`, every step inside
  `C(s)`, and every step of `T` taken from a state of `C(s)` other than `s` is judged by the
  search's properties right there (`Judge`), without being stored. The classic condition
  (the taken steps must change nothing a property reads) cannot hold here, because the taken
  steps are the kernel's, which write what almost every invariant reads; checking the
  deferred part instead is what keeps every finding.

**Why no finding is lost** (for every property of the search): by strong induction on the
length `n` of a path from a searched state `s` whose last state or step is a finding. If
`T = en(s)`, the first step is searched and the rest is a shorter path. Otherwise, if no step
of the path is in `T`, the whole path lies in `C(s)` and its finding was judged. Otherwise let
`t` be its first step in `T`, after a prefix `w1 ... wk` of steps not in `T`: if the finding is
`t` taken from the end of that prefix, it was judged (or it is taken from `s` and searched);
else persistence moves `t` to the front, `t w1 ... wk` reaching the same state, and the rest
of the path is a path of length `n - 1` from the searched state `t(s)` (up to the search's
symmetry, which keeps findings). The induction needs no cycle proviso: the classic proviso
(in BFS, an ample set must reach a state not yet visited) prevents a deferred step from being
postponed for ever around a cycle, and here no deferred step is postponed: whatever the
deferred steps alone can reach is judged in `s` itself, and every other case shortens the path.

**What it keeps and what it does not.** Verdicts and findings: a property holds (or has no
witness) in the reduced search if and only if it does in the full one. Not BFS depths: a
reduced search may find a finding later, or only in a closure, so the explorer shows every
finding again with the unreduced search (`nfct_spec.engines.explorer.explore`). Not liveness:
fair cycles are not kept (a deferred step is taken later or never on a cycle of the reduced
graph, so weak and strong fairness per instance cannot be judged on it); the lasso search uses
no reduction (`nfct_spec.engines.lasso.REDUCTIONS`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from nfct_spec.models.canonical import unreduced
from nfct_spec.models.config import Config
from nfct_spec.models.registry import Step, actions_for, successors, take
from nfct_spec.models.state import State

CLOSURE_BOUND = 16
"""The most states of a deferred closure explored in place; a larger one is not reduced."""

Successors = list[tuple[Step, State]]
JudgeState = Callable[[State], None]
JudgeStep = Callable[[State, Step, State], None]


@dataclass(frozen=True)
class Judge:
    """What the search does with a state or a step it does not store: evaluate its unfound
    properties on it (and note a finding against the state being expanded)."""

    state: JudgeState
    step: JudgeStep


@dataclass
class ReductionStats:
    """How much the reduction did in one search."""

    reduced: int = 0
    """States expanded with a reduced set of steps."""
    deferred: int = 0
    """Enabled steps not taken there."""
    closure: int = 0
    """States of deferred closures judged in place (not stored)."""


@cache
def deferrable_actions(variant: str) -> frozenset[str]:
    """The actions whose steps may be deferred: the environment's (registry kind `env`)."""
    return frozenset(a.name for a in actions_for(variant) if a.kind == "env")


@dataclass
class _Closure:
    """The deferred part of one state, once it was shown to qualify: what to judge."""

    states: list[State]
    steps: list[tuple[State, Step, State]]


class PartialOrder:
    """The reduction for one search (one config at one observer level)."""

    def __init__(self, config: Config, level: int, bound: int = CLOSURE_BOUND) -> None:
        self.config = config
        self.same = unreduced(config, level)
        self.bound = bound
        self.deferrable = deferrable_actions(config.variant)
        self.stats = ReductionStats()

    def reduce(self, pre: State, succ: Successors, judge: Judge) -> Successors:
        """The steps to take from `pre` (all of `succ`, or a persistent subset whose deferred
        part was judged with `judge`). Tries deferring every environment step at once, then
        each alone, in registry order."""
        env = [i for i, (step, _) in enumerate(succ) if step.action in self.deferrable]
        if not env or len(env) == len(succ):
            return succ
        options = [env, *([i] for i in env)] if len(env) > 1 else [env]
        memo: dict[tuple[Step, Step], State | None] = {}
        for option in options:
            deferred = set(option)
            taken = [pair for i, pair in enumerate(succ) if i not in deferred]
            closure = self._closure(pre, succ, dict(taken), memo)
            if closure is None:
                continue
            for state in closure.states:
                judge.state(state)
            for before, step, after in closure.steps:
                judge.step(before, step, after)
            self.stats.reduced += 1
            self.stats.deferred += len(deferred)
            self.stats.closure += len(closure.states)
            return taken
        return succ

    def _commute(
        self,
        r: State,
        w: Step,
        wr: State,
        tr: dict[Step, State],
        memo: dict[tuple[Step, Step], State | None] | None,
    ) -> dict[Step, State] | None:
        """Each step of `tr` (taken from `r`, with its successor) taken after `w`, if every one
        is enabled there and commutes with `w`; else None. In the state being expanded the
        outcome of each pair is remembered in `memo` across the options tried."""
        after: dict[Step, State] = {}
        for t, t_r in tr.items():
            if memo is None:
                t_w_r = self._pair(r, w, wr, t, t_r)
            else:
                if (w, t) not in memo:
                    memo[(w, t)] = self._pair(r, w, wr, t, t_r)
                t_w_r = memo[(w, t)]
            if t_w_r is None:
                return None
            after[t] = t_w_r
        return after

    def _pair(self, r: State, w: Step, wr: State, t: Step, t_r: State) -> State | None:
        """`t(w(r))` if `w` and `t` commute in `r` (both orders enabled, the same state); else
        None."""
        w_t_r = take(self.config, t_r, w)
        t_w_r = take(self.config, wr, t)
        if w_t_r is None or t_w_r is None:
            return None
        if w_t_r != t_w_r and self.same(w_t_r) != self.same(t_w_r):
            return None
        return t_w_r

    def _closure(
        self,
        s: State,
        succ: Successors,
        taken: dict[Step, State],
        memo: dict[tuple[Step, Step], State | None],
    ) -> _Closure | None:
        """The closure of `s` under the steps not in `taken`, if `taken` is persistent in it
        and the closure stays within the bound; None otherwise."""
        same = self.same
        seen = {same(s)}
        closure = _Closure([], [])
        work: list[tuple[State, dict[Step, State], Successors]] = [(s, taken, succ)]
        while work:
            r, tr, r_succ = work.pop()
            for w, wr in r_succ:
                if w in taken:
                    continue
                after = self._commute(r, w, wr, tr, memo if r is s else None)
                if after is None:
                    return None
                closure.steps.append((r, w, wr))
                key = same(wr)
                if key in seen:
                    continue
                seen.add(key)
                if len(seen) > self.bound:
                    return None
                closure.states.append(wr)
                closure.steps.extend((wr, t, t_wr) for t, t_wr in after.items())
                work.append((wr, after, list(successors(self.config, wr))))
        return closure
