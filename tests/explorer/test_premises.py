"""The `ci` suite reaches the premise of every entry it judges `holds` or `no-witness`, so that
no such verdict of `nfct-spec explore` and `nfct-spec check` is about a situation the suite
never gets into (`nfct_spec.spec.premises`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import run, suite_member
from nfct_spec.cli import main
from nfct_spec.docs.eras import era_config
from nfct_spec.engines.explorer import explore, finding_depth, trace_of
from nfct_spec.engines.premises import PremiseReach, note_in, reach
from nfct_spec.engines.suite import MemberVerdict, combine
from nfct_spec.models.observers import OBLIGATIONS
from nfct_spec.models.presets import suite
from nfct_spec.models.variants import MODELLED
from nfct_spec.spec.auxiliary import AUXILIARY
from nfct_spec.spec.catalogue import BY_ID, CATALOGUE
from nfct_spec.spec.premises import (
    EXEMPT,
    PREMISE_LEVEL,
    PREMISES,
    READS_MESSAGES,
    SHOWN_IN,
    UNCONDITIONAL,
    premise_entry,
)

VARIANTS = tuple(MODELLED)
PREMISE_BUDGET = 20_000
"""States a premise search may store; each reaches its premise within a few hundred."""


def _judged_without_finding(prop_id: str, variant: str) -> list[str]:
    """The members of the variant's `ci` suite that judge the entry `holds` or `no-witness`."""
    return [
        config.name
        for config in suite("ci", variant)
        if BY_ID[prop_id].expected_for(config) in ("holds", "no-witness")
    ]


AUX_IDS = {entry.id for entry in AUXILIARY}
CASES = [
    (variant, prop_id)
    for prop_id in PREMISES
    for variant in VARIANTS
    if (prop_id, variant) not in EXEMPT and _judged_without_finding(prop_id, variant)
]


def test_every_entry_the_suite_judges_without_a_finding_has_a_premise_or_says_why_not() -> None:
    """Every catalogue entry (the auxiliary lemmas of the proofs aside) that some member of
    some variant's suite judges `holds` or `no-witness` has a premise, is exempt in that
    variant, or has no antecedent (`UNCONDITIONAL`)."""
    missing = [
        (prop.id, variant)
        for prop in CATALOGUE
        if prop.id not in AUX_IDS and prop.kind != "liveness"
        for variant in VARIANTS
        if _judged_without_finding(prop.id, variant)
        and prop.id not in PREMISES
        and prop.id not in UNCONDITIONAL
        and (prop.id, variant) not in EXEMPT
    ]
    assert not missing
    assert not set(PREMISES) & set(UNCONDITIONAL)
    assert set(SHOWN_IN) == set(PREMISES)


@pytest.mark.parametrize(("variant", "prop_id"), CASES, ids=[f"{v}-{p}" for v, p in CASES])
def test_the_suite_reaches_the_premise(variant: str, prop_id: str) -> None:
    """The member `SHOWN_IN` names judges the entry without a finding and reaches its premise:
    the explorer's search for the premise as a witness finds it, and its trace replays through
    the model to a last step that reaches it."""
    name = SHOWN_IN[prop_id]
    assert name in _judged_without_finding(prop_id, variant)
    config = suite_member(variant, name)
    entry = premise_entry(prop_id)
    exploration = explore(config, [entry], level=entry.observes, max_states=PREMISE_BUDGET)
    assert entry.id in exploration.findings, f"{name} does not reach the premise of {prop_id}"
    steps = trace_of(exploration, entry).steps
    assert steps
    pre = run(config, *steps[:-1])
    post = run(config, steps[-1], start=pre)
    assert PREMISES[prop_id](config, pre, steps[-1], post)


@pytest.mark.parametrize(("variant", "prop_id"), CASES, ids=[f"{v}-{p}" for v, p in CASES])
def test_a_premise_is_reached_at_the_same_depth_with_every_message_kept(
    variant: str, prop_id: str
) -> None:
    """The observers a premise search keeps hide nothing the premise reads: with every queued
    message kept as it is (`PREMISE_LEVEL`), the shortest run that reaches it is no shorter."""
    config = suite_member(variant, SHOWN_IN[prop_id])
    entry = premise_entry(prop_id)
    depths = []
    for level in (entry.observes, PREMISE_LEVEL):
        exploration = explore(config, [entry], level=level, max_states=PREMISE_BUDGET)
        depths.append(finding_depth(exploration, entry.id))
    assert depths[0] == depths[1]
    assert (entry.observes == PREMISE_LEVEL) is (prop_id in READS_MESSAGES)


def test_a_member_without_the_status_event_never_meets_an_assured_conntrack() -> None:
    """The premise search can come back empty: without the STATUS event no packet sets
    IPS_ASSURED_BIT, so the allocations member as it was before it had STATUS is exhausted
    without an early drop that meets an ASSURED conntrack (and `early-drop-spares-assured`
    held there for want of one). The premise reads only the kernel state, so the search keeps
    only the obligations observers."""
    config = suite_member("6.x", "ci.allocations").with_(event_bits=("NEW", "DESTROY"))
    entry = premise_entry("early-drop-spares-assured")
    assert entry.observes == OBLIGATIONS
    exploration = explore(config, [entry], level=OBLIGATIONS, max_states=PREMISE_BUDGET)
    assert exploration.stats.complete
    assert entry.id not in exploration.findings


def test_the_properties_page_says_what_each_verdict_is_about() -> None:
    """The specification document gives each entry's premise, and the member that reaches it,
    or says why it has none."""
    from nfct_spec.docs.content import properties_page

    page = properties_page({}).markdown
    for prop_id in PREMISES:
        section = page.split(f"## {prop_id}\n", 1)[1].split("\n## ", 1)[0]
        assert f"- premise (reached by the `ci` suite's `{SHOWN_IN[prop_id]}`): " in section
    for prop_id in UNCONDITIONAL:
        section = page.split(f"## {prop_id}\n", 1)[1].split("\n## ", 1)[0]
        assert "- premise: none; it judges every state alike" in section


def _vacuous_config_file(tmp_path: Path) -> Path:
    """The 6.x allocations member without the STATUS event (no ASSURED conntrack ever)."""
    config = suite_member("6.x", "ci.allocations").with_(event_bits=("NEW", "DESTROY"))
    path = tmp_path / "no-status.json"
    path.write_text(json.dumps(config.to_json()), encoding="utf-8")
    return path


def test_a_verdict_about_a_situation_no_run_reaches_is_unknown_not_exhausted(
    tmp_path: Path,
) -> None:
    """`nfct-spec explore --config` on a config that never reaches an entry's premise: the
    entry's search is exhausted without a counterexample, and the verdict is `unknown` with
    the reason (exit 3), not `exhausted`; an entry whose premise it reaches says where."""
    out = tmp_path / "out"
    args = ["explore", "--config", str(_vacuous_config_file(tmp_path)), "--out", str(out)]
    args += ["--property", "early-drop-spares-assured", "--property", "table-bound"]
    assert main(args) == 3
    rows = {r["property"]: r for r in json.loads((out / "results.json").read_text())["results"]}
    vacuous = rows["early-drop-spares-assured"]
    assert (vacuous["verdict"], vacuous["expected"]) == ("unknown", "holds")
    assert (
        "vacuous: no run reaches the premise (early_drop() runs while an ASSURED"
        in (vacuous["scope"])
    )
    reached = rows["table-bound"]
    assert reached["verdict"] == "exhausted"
    assert note_in(reached["scope"]).startswith("premise reached in ci.allocations at depth ")


def test_an_unreached_premise_within_the_budget_leaves_the_verdict_unknown() -> None:
    """The suite's rule: a premise the budget stops short of makes `exhausted` `unknown`."""
    config = suite_member("6.x", "ci.sysctl")
    member = MemberVerdict(config, "exhausted", "holds", "10 states", 10, True)
    reach = PremiseReach("table-bound", None, 0, 5, complete=False)
    verdict = combine("ci.sysctl", [member], "table-bound", premise=lambda: reach)
    assert verdict is not None and verdict.verdict == "unknown"
    assert verdict.scope == "10 states; " + reach.note()
    assert reach.note().startswith("premise not reached within 5 states (")
    found = PremiseReach("table-bound", "ci.sysctl", 4, 5, complete=True)
    verdict = combine("ci.sysctl", [member], "table-bound", premise=lambda: found)
    assert verdict is not None and verdict.verdict == "exhausted"
    assert note_in(verdict.scope) == "premise reached in ci.sysctl at depth 4"


def test_smp_configs_are_not_judged_by_premises() -> None:
    """At the smp granularity the premise entries are `n/a` (the catalogue restates entries
    per era, the premises are written for the atomic steps): no premise search, no note."""
    config = era_config("smp-2.6.31")
    assert config.granularity == "smp"
    assert premise_entry("one-place").expected_for(config) == "n/a"
    assert reach("one-place", [config], 1_000) is None
    atomic = era_config("worker-review-relock")
    found = reach("one-place", [atomic], 1_000)
    assert found is not None and found.reached and found.depth == 2


def test_a_long_premise_search_says_how_it_ended(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A premise search that runs past the first progress report (the 6.x faults member, whose
    one-message queue never holds two messages: 11,500 states with every message kept) prints
    a line when it ends, and the entry it was about is `unknown`, vacuous."""
    config = suite_member("6.x", "ci.faults")
    path = tmp_path / "faults.json"
    path.write_text(json.dumps(config.to_json()), encoding="utf-8")
    out = tmp_path / "out"
    args = ["explore", "--config", str(path), "--out", str(out)]
    assert main([*args, "--property", "nothing-after-destroy"]) == 3
    printed = capsys.readouterr().out
    assert "6.x premise of nothing-after-destroy: vacuous: no run reaches the premise" in (
        " ".join(printed.split())
    )
    (row,) = json.loads((out / "results.json").read_text())["results"]
    assert row["verdict"] == "unknown" and "vacuous" in note_in(row["scope"])
