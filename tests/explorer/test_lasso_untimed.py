"""Liveness with the DESTROY retries untimed (`nfct_spec.engines.lasso`, "Untimed retries"):
on small configs of 2.6.31 and 6.x the untimed graph, read with its two rules, finds a broken
obligation and a fair lasso exactly where the graph of the config as it is does, for both
entries under every fairness set; without either rule it misses a lasso the config has; and
`nfct-spec explore --reduction untimed` decides the entries on it."""

from __future__ import annotations

from functools import cache

import pytest
from explorer_configs import refilling, small, twin_listeners, two_alive, with_unreliable

from nfct_spec.engines import lasso, lasso_sym
from nfct_spec.engines.lasso import FULL_FAIRNESS, Unit, check_lasso, weaker_fairness_sets
from nfct_spec.models.config import Config
from nfct_spec.models.presets import suite
from nfct_spec.models.registry import Step
from nfct_spec.models.state import initial_state
from nfct_spec.spec.fairness import LIVENESS

FAIRNESS_SETS = [FULL_FAIRNESS, *weaker_fairness_sets()]


def _configs() -> dict[str, Config]:
    found: dict[str, Config] = {}
    for variant in ("2.6.31", "6.x"):
        found[f"small {variant}"] = small(variant)
        found[f"small one flow {variant}"] = small(variant, flows=1)
        found[f"twin listeners {variant}"] = twin_listeners(variant)
        found[f"unreliable {variant}"] = with_unreliable(variant)
        found[f"two alive {variant}"] = two_alive(variant)
        found[f"refilling {variant}"] = refilling(variant)
        for config in suite("ci", variant):
            found[f"{config.name} {variant}"] = config
    for value in (0, 1):
        found[f"small 2.6.31 retry written {value}"] = small(
            "2.6.31", flows=1, sysctl_writes=(("events_retry_timeout", value),)
        )
    return found


CONFIGS = _configs()


@cache
def graphs(name: str) -> tuple[lasso_sym.Quotient, lasso_sym.Quotient]:
    config = CONFIGS[name]
    return lasso_sym.build_quotient(config), lasso_sym.build_quotient(
        config.with_(retry_untimed=True)
    )


def _found(outcome: lasso.LivenessOutcome) -> tuple[bool, bool]:
    return outcome.broken is not None, outcome.lasso is not None


def _dropped(fairness: tuple[str, ...]) -> str:
    return ",".join(f for f in FULL_FAIRNESS if f not in fairness) or "full"


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_the_untimed_graph_decides_what_the_timed_one_decides(name: str) -> None:
    timed, untimed = graphs(name)
    assert timed.complete and untimed.complete
    assert len(untimed.states) < len(timed.states)
    differ = []
    for prop_id in LIVENESS:
        for fairness in FAIRNESS_SETS:
            one = lasso_sym.check_liveness(timed, fairness, prop_id)
            other = lasso_sym.check_liveness(untimed, fairness, prop_id)
            assert other.untimed and not one.untimed
            if _found(one) != _found(other):
                differ.append(
                    f"{prop_id} without {_dropped(fairness)}: {_found(one)} {_found(other)}"
                )
    assert not differ


@pytest.mark.parametrize("name", ["refilling 2.6.31", "refilling 6.x", "two alive 2.6.31"])
def test_untimed_lassos_replay_and_pass_the_lasso_check(name: str) -> None:
    _, untimed = graphs(name)
    config = untimed.config
    checked = 0
    for fairness in FAIRNESS_SETS:
        found = lasso_sym.find_lasso(untimed, fairness)
        if found is None:
            continue
        steps = [step for step, _ in found.prefix + found.cycle]
        start = initial_state(config, lasso.LEVEL)
        path = lasso.replay_path(config, start, steps)
        states = [start, *(state for _, state in path)]
        assert check_lasso(config, states, steps, len(found.prefix), fairness) is None
        checked += 1
    assert checked >= 3


def _plain_takes(config: Config, step: Step, changed: bool) -> tuple[Unit, ...]:
    return ((step.action, step.args),) if changed else ()


@pytest.mark.parametrize(
    ("name", "rule"),
    [("two alive 2.6.31", "takes"), ("refilling 2.6.31", "takes"), ("small one flow 6.x", "weak")],
)
def test_each_rule_is_needed(name: str, rule: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the rule, the untimed search misses the lasso that the config has without
    `traffic-stops` (new flows keep arriving beside a dying conntrack)."""
    fairness = tuple(f for f in FULL_FAIRNESS if f != "traffic-stops")
    timed, untimed = graphs(name)
    assert lasso_sym.find_lasso(timed, fairness) is not None
    assert lasso_sym.find_lasso(untimed, fairness) is not None
    if rule == "takes":
        monkeypatch.setattr(lasso, "takes", _plain_takes)
        monkeypatch.setattr(lasso_sym, "takes", _plain_takes)
    else:
        strong = lasso.strong_actions

        def timed_strong(config: Config, fairness: tuple[str, ...]) -> frozenset[str]:
            return strong(config.with_(retry_untimed=False), fairness)

        monkeypatch.setattr(lasso, "strong_actions", timed_strong)
        monkeypatch.setattr(lasso_sym, "strong_actions", timed_strong)
    assert lasso_sym.find_lasso(untimed, fairness) is None
