"""Seeded mutants shared by the proof, agreement and guard tests: of the Z3 encoding (a
builder replaced), and of the Python model (a registry action replaced, as a one-line bug in
the model would change it)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, cast

import pytest

from nfct_spec.models import registry
from nfct_spec.models.frozen import evolve
from nfct_spec.models.state import State, with_ct
from nfct_spec.proofs import actions as z3_actions
from nfct_spec.proofs import kernel_z3
from nfct_spec.proofs.params import Flags, Params
from nfct_spec.spec.terms import Term

ActionFn = Callable[..., State | None]


def install_admit_anyway(monkeypatch: pytest.MonkeyPatch) -> None:
    """6.x early_drop admitting the new conntrack although its victim's DESTROY failed (the
    2.6.31 rule, which 6.x replaced)."""

    def admit_anyway(
        s: kernel_z3.Sym, p: Params, f: Flags, victim: Term, flow: Term, slot: Term
    ) -> None:
        kernel_z3.nf_ct_delete(s, p, f, victim, 0, False)
        kernel_z3.allocate(s, p, f, slot, flow)

    monkeypatch.setattr(z3_actions, "_admit_if_freed", admit_anyway)


@contextmanager
def model_mutant(name: str, wrap: Callable[[ActionFn], ActionFn]) -> Iterator[None]:
    """The registry's action `name` replaced by `wrap(its function)` within the block, for
    every engine that reads the registry (its entry in `ACTIONS` and `BY_NAME`, and the
    per-variant caches)."""
    original = registry.BY_NAME[name]
    mutant = replace(original, fn=wrap(original.fn))
    saved = registry.ACTIONS
    by_name = cast(dict[str, registry.Action], registry.BY_NAME)
    registry.ACTIONS = tuple(mutant if a is original else a for a in saved)
    by_name[name] = mutant
    _clear_caches()
    try:
        yield
    finally:
        registry.ACTIONS = saved
        by_name[name] = original
        _clear_caches()


def _clear_caches() -> None:
    """The registry's per-variant action lists, of both granularities."""
    registry.actions_for.cache_clear()
    registry._smp_actions_for.cache_clear()


def timer_not_refreshed(fn: ActionFn) -> ActionFn:
    """nf_conntrack_in forgetting to refresh the timeout of an existing conntrack (as if the
    line `timer=config.ct_timeout` of its packet branch were lost)."""

    def mutant(config: Any, state: State, flow: int, packet: str, slot: int) -> State | None:
        post = fn(config, state, flow=flow, packet=packet, slot=slot)
        hashed = state.hashed_slot_of_flow(flow)
        if post is None or packet == "new" or hashed < 0:
            return post
        before, after = state.kernel.cts[hashed], post.kernel.cts[hashed]
        if before is None or after is None:
            return post
        kernel = with_ct(post.kernel, hashed, evolve(after, timer=before.timer))
        return evolve(post, kernel=kernel)

    return mutant


def error_not_read(fn: ActionFn) -> ActionFn:
    """env_recv refusing to read a pending error when the queue is empty (as if its guard
    tested the queue only)."""

    def mutant(config: Any, state: State, listener: str) -> State | None:
        i = config.listener_index(listener)
        sock = state.kernel.sockets[i]
        if sock.sk_err and not sock.queue:
            return None
        return fn(config, state, listener=listener)

    return mutant


def only_on(variant: str, wrap: Callable[[ActionFn], ActionFn]) -> Callable[[ActionFn], ActionFn]:
    """`wrap`, acting on configs of `variant` only (the other variants' model as it is)."""

    def restricted(fn: ActionFn) -> ActionFn:
        mutant = wrap(fn)

        def either(config: Any, state: State, **kwargs: Any) -> State | None:
            chosen = mutant if config.variant == variant else fn
            return chosen(config, state, **kwargs)

        return either

    return restricted
