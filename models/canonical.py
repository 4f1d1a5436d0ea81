"""Symmetry reduction: one canonical representative per class of equivalent states.

Two symmetries of the model leave every action and every safety or reachability property
unchanged:

- **Flow identities.** A flow number only names a tuple; no kernel step compares two flows
  other than for equality (the hash bucket of a tuple is abstracted away: early_drop may pick
  any hashed victim). Every place a flow appears (a conntrack, a queued message, the ghost
  identity of an allocation, the allocation waiting for early_drop) is tied to an allocation
  number (uid), except the waiting allocation. Relabelling flows in order of first appearance
  in `ghost.identity` (then the waiting allocation's flow) is therefore an exact canonical form
  for this symmetry, computed in one pass instead of a minimum over all permutations.
- **Interchangeable listeners.** Listeners whose configs are equal except for the name play the
  same role. Permuting them permutes the sockets, the per-listener ghost records and the netlink
  port ids that conntracks remember for re-sends (listener i has port id i + 1, see
  `Config.portid`). The representative is the permutation with the smallest encoding; the
  groups are small (at most four listeners), so trying every permutation is cheap.

A third reduction is not a symmetry but a slice: `Socket.drops` (sk_drops) is read by no
action and no property (only the viewer shows it), so states that differ only in it have the
same futures and the same verdicts; the canonical form sets it to 0.

Steps name flows and listeners in their arguments, so only states are canonicalised; traces
are rebuilt from real steps by the engines. Liveness must not use this reduction unless shown
sound for the property: the explorer's lasso search works on the unreduced graph.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace

from nfct_spec.models.config import Config
from nfct_spec.models.state import Conntrack, Ghost, Kernel, Message, Socket, State, evolve


def listener_classes(config: Config) -> tuple[tuple[int, ...], ...]:
    """Groups of listener indices whose configs differ only by name (groups of one dropped)."""
    by_shape: dict[object, list[int]] = {}
    for i, listener in enumerate(config.listeners):
        by_shape.setdefault(replace(listener, name=""), []).append(i)
    return tuple(tuple(group) for group in by_shape.values() if len(group) > 1)


def flow_relabelling(state: State) -> dict[int, int]:
    """New flow numbers in order of first appearance (allocations, then the waiting one)."""
    mapping: dict[int, int] = {}
    for flow, _ctid in state.ghost.identity:
        if flow not in mapping:
            mapping[flow] = len(mapping)
    pending = state.kernel.alloc_pending
    if pending >= 0 and pending not in mapping:
        mapping[pending] = len(mapping)
    return mapping


def _relabel_message(msg: Message, mapping: dict[int, int]) -> Message:
    flow = mapping[msg.flow]
    return msg if flow == msg.flow else evolve(msg, flow=flow)


def relabel_flows(state: State, mapping: dict[int, int]) -> State:
    """The state with every flow `f` renamed `mapping[f]` (every used flow must be mapped)."""
    if all(old == new for old, new in mapping.items()):
        return state
    kernel = state.kernel
    cts = tuple(
        ct if mapping[ct.flow] == ct.flow else evolve(ct, flow=mapping[ct.flow])
        for ct in kernel.cts
    )
    sockets = tuple(
        evolve(sock, queue=tuple(_relabel_message(m, mapping) for m in sock.queue))
        if sock.queue
        else sock
        for sock in kernel.sockets
    )
    pending = mapping[kernel.alloc_pending] if kernel.alloc_pending >= 0 else -1
    kernel = evolve(kernel, cts=cts, sockets=sockets, alloc_pending=pending)
    identity = tuple((mapping[flow], ctid) for flow, ctid in state.ghost.identity)
    return State(kernel, evolve(state.ghost, identity=identity))


def _permute_pid(pid: int, order: Sequence[int]) -> int:
    """The port id after listener `order[j]` moved to position j (tool port ids stay)."""
    if 1 <= pid <= len(order):
        return order.index(pid - 1) + 1
    return pid


def permute_listeners(state: State, order: Sequence[int]) -> State:
    """The state with listener `order[j]` moved to position j."""
    kernel = state.kernel
    cts: tuple[Conntrack, ...] = tuple(
        evolve(ct, pid=_permute_pid(ct.pid, order)) if ct.pid else ct for ct in kernel.cts
    )
    sockets: tuple[Socket, ...] = tuple(kernel.sockets[i] for i in order)
    ghost: Ghost = state.ghost
    ghost = evolve(
        ghost,
        got=tuple(ghost.got[i] for i in order),
        dropped=tuple(ghost.dropped[i] for i in order),
        since=tuple(ghost.since[i] for i in order),
    )
    new_kernel: Kernel = evolve(kernel, cts=cts, sockets=sockets)
    return State(new_kernel, ghost)


def forget_drops(state: State) -> State:
    """The state with every socket's `drops` counter at 0 (see the module docstring)."""
    sockets = state.kernel.sockets
    if not any(sock.drops for sock in sockets):
        return state
    kernel = evolve(state.kernel, sockets=tuple(evolve(sock, drops=0) for sock in sockets))
    return State(kernel, state.ghost)


def _orders(n: int, classes: tuple[tuple[int, ...], ...]) -> list[tuple[int, ...]]:
    """Every listener order that permutes indices only within their class."""
    per_class = [list(itertools.permutations(group)) for group in classes]
    orders = []
    for choice in itertools.product(*per_class):
        order = list(range(n))
        for group, image in zip(classes, choice, strict=True):
            for slot, index in zip(group, image, strict=True):
                order[slot] = index
        orders.append(tuple(order))
    return orders


class Canonicaliser:
    """Maps a state of one config to its representative; built once per config."""

    def __init__(self, config: Config, flows: bool = True, listeners: bool = True) -> None:
        self.flows = flows
        self.slice = flows or listeners
        classes = listener_classes(config) if listeners else ()
        self.orders = _orders(len(config.listeners), classes)[1:] if classes else []

    @property
    def reduces(self) -> bool:
        """Whether any reduction is applied at all."""
        return self.slice or bool(self.orders)

    def __call__(self, state: State) -> State:
        if self.slice:
            state = forget_drops(state)
        if self.flows:
            state = relabel_flows(state, flow_relabelling(state))
        if not self.orders:
            return state
        best, best_key = state, repr(state)
        for order in self.orders:
            candidate = permute_listeners(state, order)
            key = repr(candidate)
            if key < best_key:
                best, best_key = candidate, key
        return best
