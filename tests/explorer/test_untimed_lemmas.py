"""The local lemmas of the untimed liveness argument ("Untimed retries" in
`nfct_spec.engines.lasso`), checked on every reachable state of the liveness test configs.

The argument that an entry the untimed graph (A) exhausts holds in the config as it is (C)
maps each run of C to a run of A by forgetting the retry timers' values (`forget_retry_timers`,
written f here) and rests on a few facts about single states and steps. The cycle-level
reasoning stays a proof in the module docstring; these are the facts it starts from, each
checked on every state the configs reach (unreduced, the liveness graph's observers):

- *same steps*: every action but the tick and the retry handlers (`death_by_event`,
  `ecache_work`) has, in C at s and in A at f(s), the same arguments and the same successors
  up to f (guards and effects do not read the forgotten values), and each such step changes
  the state in C exactly when its image does (`same_state`, what fairness compares);
- *retries covered*: every retry-handler step of C at s is one of A at f(s), up to f;
- *ticks covered*: every tick of C at s changes nothing up to f or is a tick of A at f(s);
- *tick held only for a due retry*: where A ticks at f(s) and C does not tick at s, a retry
  is due in s (a dying conntrack's retry timer, or the 6.x worker, at 0);
- *kept*: the held conntracks of both entries, the fairness assumptions and every broken
  obligation are the same at s and f(s);
- *A reads no forgotten value*: on every state A reaches, its steps at u and at f(u) are the
  same up to f, so a run of A is a run up to f whatever values its forgotten timers hold.

A wrong f (one that also forgets a timer the kernel reads) breaks them, so the check can fail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

import pytest
from explorer_configs import forget_retry_timers
from test_lasso_untimed import CONFIGS

from nfct_spec.engines.explorer import explore
from nfct_spec.engines.lasso import LEVEL, RETRY_HANDLERS, same_state
from nfct_spec.engines.lasso import TICK as TICK_UNIT
from nfct_spec.models.config import Config
from nfct_spec.models.registry import Args, Step, actions_of, enabled_steps
from nfct_spec.models.state import NO_TIMER, State, evolve
from nfct_spec.spec.fairness import HELD, assumptions_hold, obligation_broken

Forget = Callable[[State], State]
Moves = set[tuple[Args, State]]
TICK = TICK_UNIT[0]


def _moves(steps: Iterable[tuple[Step, State]], forget: Forget) -> Moves:
    """Steps as their arguments and successors up to `forget`."""
    return {(step.args, forget(post)) for step, post in steps}


def _retry_due(state: State) -> bool:
    kernel = state.kernel
    due = any((ct := kernel.cts[slot]) is not None and ct.timer == 0 for slot in kernel.dying)
    return due or kernel.worker == 0


def breaches(config: Config, forget: Forget = forget_retry_timers) -> dict[tuple[str, str], State]:
    """The lemmas (with the action they fail for) that some reachable state breaks, each with
    the first such state; empty when every lemma holds on `config`."""
    untimed = config.with_(retry_untimed=True)
    same = same_state(config, LEVEL)
    found: dict[tuple[str, str], State] = {}
    concrete = explore(config, [], level=LEVEL, symmetry=False)
    assert concrete.stats.complete
    for state in concrete.states:
        image = forget(state)
        before, before_image = same(state), same(image)
        for action in actions_of(config):
            name = action.name
            steps = list(enabled_steps(config, state, action))
            mine = _moves(steps, forget)
            theirs = _moves(enabled_steps(untimed, image, action), forget)
            if name == TICK:
                if any(post != image and (args, post) not in theirs for args, post in mine):
                    found.setdefault(("ticks covered", name), state)
                if theirs and not mine and not _retry_due(state):
                    found.setdefault(("tick held only for a due retry", name), state)
            elif name in RETRY_HANDLERS:
                if not mine <= theirs:
                    found.setdefault(("retries covered", name), state)
            elif mine != theirs:
                found.setdefault(("same steps", name), state)
            ordinary = name != TICK and name not in RETRY_HANDLERS
            for step, post in steps:
                if obligation_broken(config, state, step, post) != obligation_broken(
                    untimed, image, step, forget(post)
                ):
                    found.setdefault(("kept: broken obligations", name), state)
                changed = same(post) != before
                if ordinary and changed != (same(forget(post)) != before_image):
                    found.setdefault(("same steps: changes alike", name), state)
        for prop_id, held in HELD.items():
            if held(state) != held(image):
                found.setdefault(("kept: held conntracks", prop_id), state)
        if assumptions_hold(config, state) != assumptions_hold(untimed, image):
            found.setdefault(("kept: assumptions", ""), state)
    abstract = explore(untimed, [], level=LEVEL, symmetry=False)
    assert abstract.stats.complete
    for state in abstract.states:
        image = forget(state)
        for action in actions_of(untimed):
            here = _moves(enabled_steps(untimed, state, action), forget)
            if here != _moves(enabled_steps(untimed, image, action), forget):
                found.setdefault(("A reads no forgotten value", action.name), state)
    return found


def _distinct() -> list[str]:
    """The liveness test configs, each once (2.6.31's `refilling` is its `ci.expectations`
    by another name)."""
    seen: list[Config] = []
    names = []
    for name, config in sorted(CONFIGS.items()):
        unnamed = replace(config, name="")
        if unnamed not in seen:
            seen.append(unnamed)
            names.append(name)
    return names


@pytest.mark.parametrize("name", _distinct())
def test_the_untimed_lemmas_hold(name: str) -> None:
    assert list(breaches(CONFIGS[name])) == []


def _forget_every_timer(state: State) -> State:
    """A wrong abstraction: it also forgets the timeouts of conntracks in the hash table, which
    `death_by_timeout` and the tick read."""
    kernel = forget_retry_timers(state).kernel
    cts = tuple(
        ct if ct is None or ct.timer == NO_TIMER else evolve(ct, timer=0) for ct in kernel.cts
    )
    return evolve(state, kernel=evolve(kernel, cts=cts))


@pytest.mark.parametrize("variant", ["2.6.31", "6.x"])
def test_a_wrong_abstraction_breaks_them(variant: str) -> None:
    broken = breaches(CONFIGS[f"small {variant}"], _forget_every_timer)
    assert ("A reads no forgotten value", TICK) in broken
    timeout = "death_by_timeout" if variant == "2.6.31" else "gc_worker"
    assert ("same steps", timeout) in broken
