"""The registry: names, documentation, declared frames, and deterministic enumeration."""

from __future__ import annotations

import dataclasses
import random

import pytest

from nfct_spec.models.config import VARIANTS
from nfct_spec.models.presets import preset
from nfct_spec.models.registry import (
    ACTIONS,
    BY_NAME,
    Step,
    actions_for,
    apply,
    step_from_json,
    step_to_json,
    successors,
)
from nfct_spec.models.state import State, initial_state


def _changed_fields(pre: State, post: State) -> set[str]:
    changed = set()
    for part in ("kernel", "ghost"):
        a, b = getattr(pre, part), getattr(post, part)
        for f in dataclasses.fields(a):
            if getattr(a, f.name) != getattr(b, f.name):
                changed.add(f"{part}.{f.name}")
    return changed


def _walks(variant: str, runs: int = 60, length: int = 40) -> list[tuple[State, Step, State]]:
    config = preset("faults", variant)
    rng = random.Random(variant)
    seen = []
    for _ in range(runs):
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
    return seen


def test_every_action_name_is_unique_and_env_steps_say_so() -> None:
    names = [a.name for a in ACTIONS]
    assert len(names) == len(set(names))
    for action in ACTIONS:
        assert (action.kind == "env") == action.name.startswith("env_"), action.name


def test_every_kernel_action_cites_a_kernel_version_and_its_enabling_condition() -> None:
    for action in ACTIONS:
        module_doc = __import__(action.fn.__module__, fromlist=["_"]).__doc__ or ""
        text = action.doc + module_doc
        if action.kind == "kernel":
            assert "2.6.3" in text or "6.18" in text, f"{action.name} cites no kernel version"
        assert "nabled" in action.doc, f"{action.name} does not say when it is enabled"


@pytest.mark.parametrize("variant", ["2.6.30", "2.6.31", "6.x"])
def test_actions_modify_only_the_fields_they_declare(variant: str) -> None:
    for pre, step, post in _walks(variant):
        undeclared = _changed_fields(pre, post) - BY_NAME[step.action].modifies
        assert not undeclared, f"{step} modified undeclared {sorted(undeclared)}"


@pytest.mark.parametrize("variant", ["2.6.30", "2.6.31", "6.x"])
def test_random_walks_use_every_action_of_the_variant(variant: str) -> None:
    used = {step.action for _, step, _ in _walks(variant, runs=200)}
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


def test_unknown_action_or_bad_arguments_are_not_enabled() -> None:
    config = preset("tiny", "2.6.31")
    state = initial_state(config)
    assert apply(config, state, Step("no_such_action")) is None
    assert apply(config, state, Step("env_recv", (("nonsense", 1),))) is None
    assert apply(config, state, Step("nf_conntrack_in", (("flow", 99), ("packet", "new")))) is None
