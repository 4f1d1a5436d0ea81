"""Small builders for tests: steps by keyword, runs of steps on a preset, and the figures
record the tests that pin measured figures read."""

from __future__ import annotations

import signal
from collections.abc import Iterable
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

from nfct_spec.checking import finding_on_step, searched
from nfct_spec.docs.figures import RECORD, Block, load_figures
from nfct_spec.engines.explorer import (
    Exploration,
    explore,
    finding_depth,
    search_groups,
    verdict,
)
from nfct_spec.models.config import Config, ListenerConfig
from nfct_spec.models.observers import OBLIGATIONS
from nfct_spec.models.presets import suite
from nfct_spec.models.registry import ArgValue, Step, apply, successors
from nfct_spec.models.state import Conntrack, State, initial_state
from nfct_spec.spec.catalogue import BY_ID, CATALOGUE, Property

RELIABLE = ListenerConfig("conntrackd", ("new", "update", "destroy"), True, True, 1)
"""A conntrackd-like reliable listener (BE and NO_ENOBUFS) with a one-message buffer."""
PLAIN = ListenerConfig("logger", ("new", "destroy"), False, False, 1)
"""A plain listener with a one-message buffer."""


def bfs_depth(config: Config, prop_id: str, limit: int) -> int | None:
    """The length of the shortest run of `config` whose last step shows `prop_id`'s finding
    (a plain breadth-first search over model states), or None within `limit` steps."""
    prop = BY_ID[prop_id]
    frontier = [initial_state(config)]
    seen = set(frontier)
    for depth in range(1, limit + 1):
        nxt = []
        for state in frontier:
            for taken, post in successors(config, state):
                if finding_on_step(prop, config, state, taken, post):
                    return depth
                if post not in seen:
                    seen.add(post)
                    nxt.append(post)
        frontier = nxt
    return None


def safety_groups(config: Config) -> list[tuple[int, list[Property]]]:
    """The groups of the safety and witness entries `config` judges, as `nfct-spec explore`
    searches them (`search_groups`)."""
    return search_groups([p for p in CATALOGUE if p.kind != "liveness" and searched(p, config)])


def verdicts_and_depths(
    exploration: Exploration, ids: Iterable[str]
) -> dict[str, tuple[str, int | None]]:
    """Per entry, the verdict of `exploration` and, when it has a finding, the finding's
    BFS depth: what two searches of the same entries must agree on."""
    return {
        i: (
            verdict(BY_ID[i], exploration)[0],
            finding_depth(exploration, i) if i in exploration.findings else None,
        )
        for i in ids
    }


@cache
def searches_of(config: Config) -> dict[str, Exploration]:
    """Every safety and witness entry `config` judges, mapped to the exhaustive search that
    checked it: one search per group of entries, each keeping only the observers its entries
    read (`search_groups`), as `nfct-spec explore` runs them. One search of every entry at once
    would keep every observer, and the observers multiply the states."""
    found: dict[str, Exploration] = {}
    for level, group in safety_groups(config):
        exploration = explore(config, group, level=level)
        found.update((p.id, exploration) for p in group)
    return found


def suite_member(variant: str, name: str) -> Config:
    """The member `name` of the variant's `ci` suite."""
    (config,) = [c for c in suite("ci", variant) if c.name == name]
    return config


def one_message_queues(config: Config) -> Config:
    """`config` with a one-message queue at every listener: the `ci` preset as it was before
    its `logger` got a two-message queue, for the stored runs and scenarios written on it
    (one message fills a queue, the next is refused)."""
    return config.with_(listeners=tuple(replace(x, capacity=1) for x in config.listeners))


def step(action: str, **args: ArgValue) -> Step:
    """A Step from keyword arguments."""
    return Step(action, tuple(args.items()))


def run(config: Config, *steps: Step, start: State | None = None) -> State:
    """Apply the steps in order; fails the test if one is not enabled."""
    state = start if start is not None else initial_state(config)
    for i, s in enumerate(steps, start=1):
        successor = apply(config, state, s)
        assert successor is not None, f"step {i} {s} is not enabled"
        state = successor
    return state


def new(flow: int, slot: int) -> Step:
    """The first packet of a new flow, whose conntrack gets memory slot `slot`."""
    return step("nf_conntrack_in", flow=flow, packet="new", slot=slot)


def packet(flow: int, kind: str) -> Step:
    """A packet of a flow whose conntrack is hashed (`plain`, `assure` or `protoinfo`)."""
    return step("nf_conntrack_in", flow=flow, packet=kind, slot=-1)


def confirm(slot: int) -> Step:
    """The confirm hook for the unconfirmed conntrack in `slot`."""
    return step("__nf_conntrack_confirm", slot=slot)


def new_confirmed(flow: int, slot: int) -> tuple[Step, Step]:
    """The two steps that create a conntrack for a new flow in `slot` and confirm it."""
    return new(flow, slot), confirm(slot)


def live(state: State) -> dict[int, Conntrack]:
    """The allocated conntracks by slot."""
    return {slot: ct for slot, ct in enumerate(state.kernel.cts) if ct is not None}


def ct_at(state: State, slot: int) -> Conntrack:
    """The conntrack allocated in `slot` (fails the test if the slot is free)."""
    ct = state.ct(slot)
    assert ct is not None, f"slot {slot} is free"
    return ct


REUSED_SLOT = (
    step("nf_conntrack_in", flow=1, packet="new", slot=2),
    step("__nf_conntrack_confirm", slot=2),
    step("env_recv", listener="conntrackd"),
    step("ctnetlink_del_conntrack", flow=1, requester="conntrack"),
    step("env_recv", listener="conntrackd"),
    step("nf_conntrack_in", flow=1, packet="new", slot=2),
    step("__nf_conntrack_confirm", slot=2),
    step("env_recv", listener="conntrackd"),
)
"""On preset ci: flow 1's conntrack in slot 2 is deleted and a new one of the same flow gets
slot 2 again; conntrackd reads both (id-reuse at the last step), while the logger, whose
DESTROY of the first overran it, still holds the first one's NEW."""


ROOT = Path(__file__).resolve().parents[1]


def figures(name: str) -> Block:
    """Block `name` of the figures record (docs/figures.json), which the script named in its
    `command` writes: re-pinning a figure means re-running that script."""
    return load_figures(ROOT / RECORD)[name]


def explore_pinned(config: Config, row: dict[str, Any]) -> Exploration:
    """Check a config's reduced search (obligations kept) against its pinned row (complete,
    states, transitions, depth) and return its unreduced search for the caller's checks."""
    reduced = explore(config, [], level=OBLIGATIONS)
    assert reduced.stats.complete
    assert (reduced.stats.states, reduced.stats.transitions, reduced.stats.depth) == (
        row["states"],
        row["transitions"],
        row["depth"],
    )
    return explore(config, [], level=OBLIGATIONS, symmetry=False)


def interruptible() -> None:
    """`preexec_fn` of a child that a test interrupts with SIGINT: Ctrl-C at its default.

    A process started with SIGINT ignored keeps ignoring it, Python included (it installs its
    KeyboardInterrupt handler only over the default); a test suite run as a background job of
    a non-interactive shell (`cmd &`, nohup) starts that way, and so would its children."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
