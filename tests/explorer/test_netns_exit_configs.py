"""The shipped namespace-exit configs (`configs/netns-exit-*.json`): the explorer confirms the
catalogue's verdicts under namespace exit, with BFS-shortest traces that replay."""

from __future__ import annotations

import json

import pytest

from helpers import ROOT, searches_of
from nfct_spec.engines.explorer import Exploration, trace_of, verdict
from nfct_spec.engines.hypothesis_engine import Profile, search
from nfct_spec.engines.lasso import FULL_FAIRNESS, build_graph, check_liveness, liveness_verdict
from nfct_spec.minimize import first_finding, replay_steps
from nfct_spec.models.config import Config, config_from_json
from nfct_spec.replay import replay
from nfct_spec.spec.catalogue import BY_ID

VARIANTS = ("2.6.30", "2.6.31", "6.x")


def _config(variant: str) -> Config:
    path = ROOT / "configs" / f"netns-exit-{variant}.json"
    return config_from_json(json.loads(path.read_text()))


def _searches(variant: str) -> dict[str, Exploration]:
    return searches_of(_config(variant))


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_shipped_configs_let_the_namespace_exit_and_nothing_else_differs(variant: str) -> None:
    config = _config(variant)
    assert config.netns_exit and config.variant == variant
    assert config.name == f"netns-exit-{variant}"


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_safety_verdict_under_namespace_exit_is_confirmed_or_too_small(
    variant: str,
) -> None:
    config = _config(variant)
    for prop_id, exploration in _searches(variant).items():
        prop = BY_ID[prop_id]
        expected = prop.expected_for(config)
        # A search stops once it has found every entry it checks; else it is exhausted.
        assert exploration.stats.complete or prop.id in exploration.findings, prop.id
        found, _ = verdict(prop, exploration)
        if expected in ("holds", "no-witness"):
            assert found == "exhausted", (variant, prop.id)
        else:
            assert found in ("violated", "witnessed", "unknown"), (variant, prop.id)


def test_6x_destroy_before_free_breaks_at_the_exit_in_three_steps() -> None:
    """Allocate, confirm (the NEW is delivered), exit: the conntrack is freed with no DESTROY
    sent, although the listener may have room for it."""
    prop = BY_ID["destroy-before-free"]
    exploration = _searches("6.x")[prop.id]
    assert verdict(prop, exploration)[0] == "violated"
    trace = trace_of(exploration, prop)
    assert [s.action for s in trace.steps] == [
        "nf_conntrack_in",
        "__nf_conntrack_confirm",
        "env_netns_exit",
    ]
    report = replay(trace)
    assert report.ok, report.message
    path = replay_steps(exploration.config, trace.steps)
    assert path is not None
    assert first_finding(exploration.config, prop, path) == 3


@pytest.mark.parametrize(
    ("variant", "prop_id", "expected"),
    [
        ("6.x", "destroy-eventually", "violated"),
        ("6.x", "expiry-eventually", "violated"),
        ("2.6.31", "destroy-eventually", "exhausted"),
        ("2.6.31", "expiry-eventually", "exhausted"),
        ("2.6.30", "destroy-eventually", "violated"),
    ],
)
def test_the_liveness_verdicts_under_namespace_exit(
    variant: str, prop_id: str, expected: str
) -> None:
    config = _config(variant)
    prop = BY_ID[prop_id]
    outcome = check_liveness(build_graph(config), FULL_FAIRNESS, prop_id)
    found, scope, trace = liveness_verdict(outcome, prop.expected_for(config))
    assert found == expected, scope
    if variant == "6.x":
        assert trace is not None and outcome.broken is not None
        assert "env_netns_exit" in [s.action for s in trace.steps]
        assert replay(trace).ok


def test_hypothesis_takes_the_exit_from_the_config_and_finds_the_6x_loss() -> None:
    """The Hypothesis engine draws the steps of the config's own registry actions, so a
    config with `netns_exit` gets `env_netns_exit` with no change to the engine."""
    profile = Profile("test", max_examples=60, steps=30, derandomize=True)
    found = search(_config("6.x"), [BY_ID["destroy-before-free"]], profile, seed=0).found
    steps = found["destroy-before-free"]
    assert "env_netns_exit" in [s.action for s in steps]
    held = search(_config("2.6.31"), [BY_ID["destroy-before-free"]], profile, seed=0).found
    assert "destroy-before-free" not in held
