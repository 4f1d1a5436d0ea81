"""The explorer's findings are BFS-shortest and their traces replay through the model."""

from __future__ import annotations

import pytest
from explorer_configs import small

from nfct_spec.engines.explorer import Exploration, explore, trace_of, verdict
from nfct_spec.minimize import first_finding, replay_steps
from nfct_spec.replay import replay
from nfct_spec.spec.catalogue import BY_ID, CATALOGUE

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

_CACHE: dict[tuple[str, str, str | None], Exploration] = {}


def _explored(variant: str, extra: dict[str, object], prop_id: str | None = None) -> Exploration:
    """The small config of `variant` explored for every catalogue entry, or, for a config
    changed by `extra`, for the one entry its row is about: the shortest length of a finding
    does not depend on which other entries a search carries (their observers refine states,
    never transitions), and the search stops once that entry is found instead of exhausting
    a config that only this row uses (88 s of the suite for the `no-crash` row)."""
    only = prop_id if extra else None
    key = (variant, repr(sorted(extra.items())), only)
    if key not in _CACHE:
        props = CATALOGUE if only is None else [BY_ID[only]]
        _CACHE[key] = explore(small(variant, **extra), props)
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
    exploration = _explored("2.6.31", {})
    found, scope = verdict(BY_ID["count-exact"], exploration)
    assert found == "exhausted"
    assert scope.startswith(f"{exploration.stats.states} states")


def test_an_expected_finding_missing_from_an_exhausted_config_is_unknown_not_a_pass() -> None:
    exploration = _explored("2.6.31", {})
    assert "no-crash" not in exploration.findings
    assert BY_ID["no-crash"].expected_for(exploration.config) == "holds"
    assert "expectation-unreliable" not in exploration.findings
    found, scope = verdict(BY_ID["expectation-unreliable"], exploration)
    assert found == "unknown"
    assert "too small" in scope


def test_every_expected_verdict_of_the_small_configs_is_confirmed_or_too_small() -> None:
    for variant in ("2.6.30", "2.6.31"):
        exploration = _explored(variant, {})
        for prop in CATALOGUE:
            if prop.kind == "liveness" or prop.expected_for(exploration.config) == "n/a":
                continue
            found, _ = verdict(prop, exploration)
            expected = prop.expected_for(exploration.config)
            if expected in ("holds", "no-witness"):
                assert found == "exhausted", (variant, prop.id)
            else:
                assert found in ("violated", "witnessed", "unknown"), (variant, prop.id)
