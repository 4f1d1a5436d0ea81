"""The registry: names, documentation, declared frames, and deterministic enumeration."""

from __future__ import annotations

import inspect
import random
from functools import cache

import pytest

import helpers
from nfct_spec.models.config import VARIANTS, Config
from nfct_spec.models.presets import preset
from nfct_spec.models.registry import (
    ACTIONS,
    BY_NAME,
    Step,
    actions_for,
    apply,
    check_step,
    settled,
    step_from_json,
    step_to_json,
    successors,
)
from nfct_spec.models.sourcedoc import module_docstring
from nfct_spec.models.state import State, initial_state
from nfct_spec.spec.properties import freed_slots

TRANSIENT = frozenset({"ghost.freed"})
"""Cleared at the start of every step (`settled`), set by a step that frees a conntrack: not
part of any action's frame."""


def _changed_fields(pre: State, post: State) -> set[str]:
    changed = set()
    for part in ("kernel", "ghost"):
        a, b = getattr(pre, part), getattr(post, part)
        for name in type(a)._fields:
            if getattr(a, name) != getattr(b, name):
                changed.add(f"{part}.{name}")
    return changed


@cache
def _walks(
    variant: str, runs: int = 200, length: int = 40
) -> tuple[tuple[State, Step, State], ...]:
    """Random runs on the `faults` preset (the same ones every time), as transitions; every
    fourth run lets the namespace exit (`netns_exit`), and in 2.6.31 every fourth other one
    lets another namespace exit (`other_netns_exit`), so that their actions and what follows
    them are walked too."""
    faults = preset("faults", variant)
    exiting = faults.with_(netns_exit=True)
    other = faults.with_(other_netns_exit=True) if variant == "2.6.31" else faults
    rng = random.Random(variant)
    seen = []
    for run in range(runs):
        config = exiting if run % 4 == 3 else other if run % 4 == 1 else faults
        state = initial_state(config)
        for _ in range(length):
            by_action: dict[str, list[tuple[Step, State]]] = {}
            for option in successors(config, state):
                by_action.setdefault(option[0].action, []).append(option)
            if not by_action:
                break
            step, successor = rng.choice(by_action[rng.choice(sorted(by_action))])
            seen.append((state, step, successor))
            state = successor
    return tuple(seen)


def test_every_action_name_is_unique_and_env_steps_say_so() -> None:
    names = [a.name for a in ACTIONS]
    assert len(names) == len(set(names))
    for action in ACTIONS:
        assert (action.kind == "env") == action.name.startswith("env_"), action.name


def test_every_kernel_action_cites_a_kernel_version_and_its_enabling_condition() -> None:
    for action in ACTIONS:
        module_doc = module_docstring(action.fn.__module__)
        text = action.doc + module_doc
        if action.kind == "kernel":
            assert "2.6.3" in text or "6.18" in text, f"{action.name} cites no kernel version"
        assert "nabled" in action.doc, f"{action.name} does not say when it is enabled"


@pytest.mark.parametrize("variant", ["2.6.30", "2.6.31", "6.x"])
def test_actions_modify_only_the_fields_they_declare(variant: str) -> None:
    for pre, step, post in _walks(variant):
        undeclared = _changed_fields(settled(pre), post) - BY_NAME[step.action].modifies
        undeclared -= TRANSIENT
        assert not undeclared, f"{step} modified undeclared {sorted(undeclared)}"


def test_reading_a_freed_conntracks_message_changes_only_declared_fields() -> None:
    config = Config(variant="2.6.30", listeners=(helpers.RELIABLE, helpers.PLAIN))
    state = helpers.run(
        config,
        *helpers.new_confirmed(0, 0),
        helpers.step("ctnetlink_del_conntrack", flow=0, requester="conntrack"),
    )
    assert state.ct(0) is None and state.ghost.previous[0] == (0, 0)
    enobufs = helpers.run(config, helpers.step("env_recv", listener="logger"), start=state)
    read = helpers.run(config, helpers.step("env_recv", listener="logger"), start=enobufs)
    assert read.ghost.previous[0] == (0, 0b10), "the logger read the freed conntrack's NEW"
    changed = _changed_fields(settled(enobufs), read) - TRANSIENT
    assert changed <= BY_NAME["env_recv"].modifies, sorted(changed - BY_NAME["env_recv"].modifies)


@pytest.mark.parametrize("variant", ["2.6.30", "2.6.31", "6.x"])
def test_a_step_leaves_freed_records_exactly_for_the_conntracks_it_freed(variant: str) -> None:
    for pre, step, post in _walks(variant):
        slots = freed_slots(pre, post)
        assert sorted(r.slot for r in post.ghost.freed) == slots, step
        assert all(not r.live for r in post.ghost.freed), step
        if slots:
            assert "kernel.cts" in BY_NAME[step.action].modifies, step


@pytest.mark.parametrize("variant", ["2.6.30", "2.6.31", "6.x"])
def test_random_walks_use_every_action_of_the_variant(variant: str) -> None:
    used = {step.action for _, step, _ in _walks(variant)}
    assert used == {a.name for a in actions_for(variant)}


def test_2_6_30_has_no_dying_list_retry() -> None:
    assert "death_by_event" not in {a.name for a in actions_for("2.6.30")}
    assert all(a.variants <= set(VARIANTS) for a in ACTIONS)


def test_successors_are_enumerated_in_the_same_order_every_time() -> None:
    config = preset("ci", "2.6.31")
    state = initial_state(config)
    assert [s for s, _ in successors(config, state)] == [s for s, _ in successors(config, state)]


def test_steps_round_trip_through_json() -> None:
    step = Step("nf_conntrack_flush_report", (("requester", "conntrack"), ("order", (2, 0))))
    assert step_from_json(step_to_json(step)) == step


def test_a_well_formed_step_that_the_state_does_not_allow_is_not_enabled() -> None:
    config = preset("tiny", "2.6.31")
    state = initial_state(config)
    assert apply(config, state, Step("__nf_conntrack_confirm", (("slot", 0),))) is None
    assert apply(config, state, Step("env_recv", (("listener", "logger"),))) is None
    plain = Step("nf_conntrack_in", (("flow", 0), ("packet", "plain"), ("slot", -1)))
    assert apply(config, state, plain) is None


@pytest.mark.parametrize("variant", ["2.6.30", "2.6.31", "6.x"])
def test_each_action_declares_the_arguments_of_its_function_in_order(variant: str) -> None:
    for action in actions_for(variant):
        names = list(inspect.signature(action.fn).parameters)
        assert names[:2] == ["config", "state"], action.name
        assert names[2:] == [name for name, _ in action.params], action.name


@pytest.mark.parametrize("variant", ["2.6.30", "2.6.31", "6.x"])
def test_every_enumerated_step_is_in_the_declared_domains(variant: str) -> None:
    config = preset("faults", variant)
    for pre, step, _post in _walks(variant)[:1500]:
        assert check_step(config, step) is BY_NAME[step.action]
        for action in actions_for(variant):
            for args in action.domain(config, settled(pre)):
                check_step(config, Step(action.name, tuple(args.items())))
