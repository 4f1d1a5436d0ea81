"""The explorer's findings are BFS-shortest and their traces replay through the model."""

from __future__ import annotations

import pytest
from explorer_configs import small

from helpers import searches_of
from nfct_spec.engines.explorer import Exploration, explore, trace_of, verdict
from nfct_spec.minimize import first_finding, replay_steps
from nfct_spec.replay import replay
from nfct_spec.spec.catalogue import BY_ID

SHORTEST = [
    # (variant, extra config, property, BFS-shortest number of steps)
    ("2.6.31", {}, "table-bound", 4),
    ("2.6.31", {}, "may-coalesce", 6),
    ("2.6.31", {}, "may-reorder", 10),
    ("2.6.31", {}, "may-drop-when-full", 5),
    ("2.6.31", {}, "missed-waits-for-traffic", 5),
    ("2.6.31", {}, "new-before-destroy", 8),
    ("2.6.31", {"sysctl_writes": (("events_retry_timeout", 0),)}, "no-crash", 4),
    ("2.6.30", {}, "destroy-before-free", 3),
]

_CACHE: dict[tuple[str, str, tuple[str, ...]], Exploration] = {}


def _explored(variant: str, extra: dict[str, object], *prop_ids: str) -> Exploration:
    """The small config of `variant`, changed by `extra`, explored for the entries named.

    Each row searches for its own entry only: the shortest length of a finding does not
    depend on which other entries a search carries (their observers refine states, never
    transitions), and a search stops once it has found every entry it checks, instead of
    exhausting the config with every observer (40 s of the suite for the 2.6.31 rows)."""
    key = (variant, repr(sorted(extra.items())), prop_ids)
    if key not in _CACHE:
        _CACHE[key] = explore(small(variant, **extra), [BY_ID[p] for p in prop_ids])
    return _CACHE[key]


@pytest.mark.parametrize(("variant", "extra", "prop_id", "length"), SHORTEST)
def test_main_findings_have_their_bfs_shortest_length_and_replay(
    variant: str, extra: dict[str, object], prop_id: str, length: int
) -> None:
    exploration = _explored(variant, extra, prop_id)
    prop = BY_ID[prop_id]
    trace = trace_of(exploration, prop)
    assert len(trace.steps) == length
    report = replay(trace)
    assert report.ok, report.message
    assert verdict(prop, exploration)[0] in ("violated", "witnessed")


@pytest.mark.parametrize(("variant", "extra", "prop_id", "length"), SHORTEST)
def test_no_shorter_prefix_of_a_finding_shows_it(
    variant: str, extra: dict[str, object], prop_id: str, length: int
) -> None:
    exploration = _explored(variant, extra, prop_id)
    trace = trace_of(exploration, BY_ID[prop_id])
    path = replay_steps(exploration.config, trace.steps)
    assert path is not None
    assert first_finding(exploration.config, BY_ID[prop_id], path) == length


def test_properties_that_hold_are_exhausted_with_the_state_count() -> None:
    exploration = _explored("2.6.31", {}, "count-exact")
    assert exploration.stats.complete
    found, scope = verdict(BY_ID["count-exact"], exploration)
    assert found == "exhausted"
    assert scope.startswith(f"{exploration.stats.states} states")


def test_an_expected_finding_missing_from_an_exhausted_config_is_unknown_not_a_pass() -> None:
    exploration = _explored("2.6.31", {}, "no-crash", "expectation-unreliable")
    assert exploration.stats.complete
    assert "no-crash" not in exploration.findings
    assert BY_ID["no-crash"].expected_for(exploration.config) == "holds"
    assert "expectation-unreliable" not in exploration.findings
    found, scope = verdict(BY_ID["expectation-unreliable"], exploration)
    assert found == "unknown"
    assert "too small" in scope


def test_every_expected_verdict_of_the_small_configs_is_confirmed_or_too_small() -> None:
    for variant in ("2.6.30", "2.6.31"):
        config = small(variant)
        searches = searches_of(config)
        assert searches
        for prop_id, exploration in searches.items():
            prop = BY_ID[prop_id]
            found, _ = verdict(prop, exploration)
            if prop.expected_for(config) in ("holds", "no-witness"):
                assert found == "exhausted", (variant, prop.id)
            else:
                assert found in ("violated", "witnessed", "unknown"), (variant, prop.id)


def test_a_verdict_on_a_property_the_search_did_not_check_is_refused() -> None:
    exploration = _explored("2.6.31", {}, "count-exact")
    with pytest.raises(ValueError, match="did not check table-bound"):
        verdict(BY_ID["table-bound"], exploration)
