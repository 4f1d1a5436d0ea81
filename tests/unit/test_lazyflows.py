"""Placeholder flows (`nfct_spec.kernel.lazyflows`): one flush order stands for every order of
the conntracks nothing tells apart, and a placeholder binds only to a flow its pool stands for."""

from __future__ import annotations

import itertools

from nfct_spec.kernel.lazyflows import (
    Placeholders,
    anonymise,
    anonymous_slots,
    bind,
    canonical,
    flush_orders,
    order_count,
)
from nfct_spec.models.config import Config, ListenerConfig
from nfct_spec.models.observers import KERNEL
from nfct_spec.models.registry import Step, apply
from nfct_spec.models.state import Message, State, evolve, initial_state

RELIABLE = ListenerConfig(
    "reliable", ("destroy",), broadcast_error=True, no_enobufs=True, capacity=1
)
CONFIG = Config(
    name="lazy",
    variant="6.x",
    flows=8,
    slots=8,
    nf_conntrack_max=0,
    listeners=(RELIABLE,),
    observed=True,
)
FLUSH = "nf_conntrack_flush_report"


def _with_flows(flows: list[int]) -> State:
    state = initial_state(CONFIG, KERNEL)
    for slot, flow in enumerate(flows):
        step = Step("nf_conntrack_in", (("flow", flow), ("packet", "new"), ("slot", slot)))
        allocated = apply(CONFIG, state, step)
        assert allocated is not None
        confirmed = apply(CONFIG, allocated, Step("__nf_conntrack_confirm", (("slot", slot),)))
        assert confirmed is not None
        state = confirmed
    return state


def _flushed(state: State, order: tuple[int, ...]) -> State:
    after = apply(CONFIG, state, Step(FLUSH, (("requester", "conntrack"), ("order", order))))
    assert after is not None
    return after


def test_conntracks_nothing_tells_apart_need_one_flush_order() -> None:
    state = _with_flows([0, 1, 2, 3])
    anonymous = anonymous_slots(state, Placeholders(CONFIG))
    assert sorted(anonymous) == [0, 1, 2, 3]
    count, orders = flush_orders(state, anonymous, Placeholders(CONFIG))
    assert count == 1 and len(orders) == 1


def test_a_conntrack_named_elsewhere_is_told_apart() -> None:
    state = _with_flows([0, 1, 2, 3])
    sock = state.kernel.sockets[0]
    queued = evolve(sock, queue=(Message(slot=-1, flow=2, bits=4),))
    state = evolve(state, kernel=evolve(state.kernel, sockets=(queued,)))
    anonymous = anonymous_slots(state, Placeholders(CONFIG))
    assert sorted(anonymous) == [0, 1, 3]
    count, orders = flush_orders(state, anonymous, Placeholders(CONFIG))
    assert count == 4 == len(orders) == order_count(["a", "a", "a", "b"])
    assert {order.index(2) for order in orders} == {0, 1, 2, 3}


def test_every_flush_order_gives_the_same_state_once_the_flows_are_placeholders() -> None:
    # The claim flush_orders relies on: orders that permute interchangeable conntracks differ
    # only by a renaming of their flows, so with placeholders they are one state.
    state = _with_flows([0, 1, 2, 3])
    marks = Placeholders(CONFIG)
    forms = set()
    for order in itertools.permutations(state.kernel.hash):
        after = anonymise(_flushed(state, order), [0, 1, 2, 3], 0, marks)
        forms.add(canonical(CONFIG, (after, (frozenset({0, 1, 2, 3}),)), marks))
    assert len(forms) == 1
    # Without placeholders the 24 orders are 24 states (which DESTROY is queued, and the
    # order of the redelivery list).
    plain = {
        canonical(CONFIG, (_flushed(state, o), ()), marks)
        for o in itertools.permutations(state.kernel.hash)
    }
    assert len(plain) == 24


def test_a_placeholder_binds_only_to_a_flow_its_pool_stands_for() -> None:
    state = _with_flows([0, 1, 2])
    marks = Placeholders(CONFIG)
    after = anonymise(_flushed(state, tuple(state.kernel.hash)), [0, 1, 2], 0, marks)
    head = after.kernel.sockets[0].queue[0]
    assert marks.pool_of(head.flow) == 0
    pools = (frozenset({0, 1, 2}),)
    assert bind((after, pools), head.flow, 5, marks) is None
    bound = bind((after, pools), head.flow, 1, marks)
    assert bound is not None
    state_bound, pools_bound = bound
    assert state_bound.kernel.sockets[0].queue[0].flow == 1
    assert pools_bound == (frozenset({0, 2}),)
    assert all(marks.pool_of(ct.flow) == 0 for ct in state_bound.kernel.cts if ct is not None)
