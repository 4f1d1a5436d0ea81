"""Runs into a premise the sample missed (`nfct_spec.engines.premise_runs`): the explorer's
shortest run into the premise replays with every observer kept, the sampled runs all begin
with it and so all reach the premise, and the sampling check uses them only for a premise
its own runs missed."""

from __future__ import annotations

from helpers import suite_member
from nfct_spec.engines.hypothesis_engine import Profile, search
from nfct_spec.engines.premise_runs import premise_runs, shortest_into
from nfct_spec.engines.premises import reach
from nfct_spec.engines.sampling import check_sampling
from nfct_spec.models.presets import preset
from nfct_spec.spec.catalogue import BY_ID
from nfct_spec.spec.premises import premise_entry

ENTRY = "early-drop-spares-assured"
SHORT = Profile("short", 20, 3, True)
"""Three steps per run: too few to meet an ASSURED conntrack at an early drop (five steps on
`ci.allocations`, six on the `ci` preset)."""


def test_the_shortest_run_into_a_premise_replays_and_reaches_it_at_the_explorers_depth() -> None:
    config = preset("ci", "6.x")
    path, states = shortest_into(config, ENTRY)
    assert path is not None and states > 0
    premise = premise_entry(ENTRY)
    assert premise.check is not None
    pre = path[-2][1]
    step, post = path[-1]
    assert premise.check(config, pre, step, post)
    assert step.action == "early_drop"
    assert len(path) == reach(ENTRY, [config], 200_000).depth


def test_every_sampled_run_begins_with_the_prefix_and_reaches_the_premise() -> None:
    config = suite_member("6.x", "ci.allocations")
    result = premise_runs(config, [BY_ID[ENTRY], BY_ID["table-bound"]], ENTRY, SHORT, 0)
    assert result.collection is not None and result.prefix is not None
    runs = result.collection.examples
    assert runs > 0
    assert result.collection.reached == {premise_entry(ENTRY).id: runs}
    assert ENTRY not in result.collection.found
    assert f"the premise reached in {runs} of them" in result.note()


def test_a_prefix_does_not_change_how_findings_are_recorded() -> None:
    """A witness the prefix itself shows is recorded with the prefix as its run."""
    config = suite_member("6.x", "ci.allocations")
    path, _ = shortest_into(config, ENTRY)
    assert path is not None
    found = search(config, [premise_entry(ENTRY)], SHORT, 0, start=path).found
    assert found[premise_entry(ENTRY).id] == [step for step, _ in path]


def test_a_missed_premise_is_sampled_from_its_shortest_run() -> None:
    """Three-step runs never meet the early drop of an ASSURED conntrack; the check then
    samples runs that begin with the explorer's five steps into it, and the verdict is
    `sampled` with what those runs were; the scope of every verdict counts those runs."""
    config = suite_member("6.x", "ci.allocations")
    (checked,) = check_sampling(config, [BY_ID[ENTRY]], SHORT, 0)
    result = checked.result
    assert (result.verdict, result.expected) == ("sampled", "holds")
    assert "premise reached in 0 of " in result.scope
    assert "runs sampled from the shortest run into it (5 steps" in result.scope
    assert "runs from the shortest runs into 1 premise(s) they missed" in result.scope


def test_a_premise_the_explorer_cannot_reach_either_stays_vacuous() -> None:
    config = suite_member("6.x", "ci.allocations").with_(event_bits=("NEW", "DESTROY"))
    (checked,) = check_sampling(config, [BY_ID[ENTRY]], SHORT, 0)
    result = checked.result
    assert result.verdict == "unknown"
    assert "vacuous: no run reached the premise" in result.scope
    assert "no run into it within " in result.scope
