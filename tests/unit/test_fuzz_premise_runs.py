"""A campaign's second chance at a premise none of its runs reached, as `nfct-spec check`
gives it: runs sampled from the explorer's shortest run into the premise, whose findings are
the campaign's findings and whose count the verdict quotes in `check`'s words; the verdict
stays `unknown` only where the explorer misses the premise too. The campaign's outcome is
built here directly (no HypoFuzz): what its workers found and how many runs reached each
premise."""

from __future__ import annotations

import io
import re

from rich.console import Console

from helpers import suite_member
from nfct_spec.commands.fuzz import _sample_missed
from nfct_spec.engines.fuzz_harvest import Found, missed_premises, verdicts
from nfct_spec.engines.premises import note_in
from nfct_spec.engines.sampling import Checked
from nfct_spec.models.config import Config
from nfct_spec.replay import replay
from nfct_spec.spec.catalogue import BY_ID, Property

ENTRY = "early-drop-spares-assured"
"""Expected to hold on 6.x; its premise (an early drop meeting an ASSURED conntrack) is five
steps into `ci.allocations` by the explorer's shortest run."""
RUNS = {"6.x": 40}
"""The campaign's runs of 6.x, none of which reached `ENTRY`'s premise."""
REACHED = {("6.x", "premise:table-bound"): 7}
"""The campaign's runs that reached `table-bound`'s premise."""
SHORTEST = re.compile(
    r"premise reached in 0 of 40 runs; (\d+) runs sampled from the shortest run into it "
    r"\((\d+) steps, found by the explorer in ([\d,]+) states\), the premise reached in "
    r"(\d+) of them"
)


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=400), out


def _judge(
    config: Config, prop_ids: tuple[str, ...], found: Found | None = None
) -> tuple[dict[str, Checked], list[str]]:
    """The campaign's verdicts after its missed premises are sampled, by property id, and the
    lines of progress printed."""
    found = found or {}
    props: list[Property] = [BY_ID[p] for p in prop_ids]
    console, out = _console()
    missed, interrupted = _sample_missed([config], props, found, REACHED, console)
    assert not interrupted
    checked = verdicts([config], props, found, "a campaign", {}, REACHED, RUNS, missed)
    return {c.result.property_id: c for c in checked}, out.getvalue().splitlines()


def test_a_premise_no_campaign_run_reached_is_sampled_from_its_shortest_run() -> None:
    """Only the missed premise is searched (`table-bound`'s was reached by the campaign); the
    verdict is `sampled`, and every verdict's scope counts the runs sampled into it."""
    checked, lines = _judge(suite_member("6.x", "ci.allocations"), (ENTRY, "table-bound"))
    result = checked[ENTRY].result
    assert (result.verdict, result.expected, checked[ENTRY].trace) == ("sampled", "holds", None)
    shown = SHORTEST.fullmatch(note_in(result.scope))
    assert shown is not None, result.scope
    runs, steps, reached = int(shown[1]), int(shown[2]), int(shown[4])
    assert steps == 5
    assert runs > 0 and reached == runs  # every run begins in the premise
    added = f", and {runs} runs from the shortest runs into 1 premise(s) they missed"
    assert result.scope.startswith(f"no finding in a campaign{added}; ")
    table_bound = checked["table-bound"].result
    assert (table_bound.verdict, table_bound.scope) == (
        "sampled",
        f"no finding in a campaign{added}; premise reached in 7 of 40 runs",
    )
    assert len(lines) == 2
    assert lines[0].startswith("premise runs: 1 premise(s) no run reached;")
    assert lines[0].endswith("(profile ci, seed 0)")
    assert lines[1].startswith(f"premise runs: 6.x {ENTRY}: {runs} runs sampled")


def test_a_premise_the_explorer_cannot_reach_either_stays_vacuous() -> None:
    """Without the STATUS event no packet makes a conntrack ASSURED: the explorer exhausts the
    config without the premise, no run is sampled, and the verdict is `unknown` as before,
    saying why."""
    config = suite_member("6.x", "ci.allocations").with_(event_bits=("NEW", "DESTROY"))
    checked, lines = _judge(config, (ENTRY,))
    result = checked[ENTRY].result
    assert result.verdict == "unknown"
    assert re.fullmatch(
        r"no finding in a campaign; vacuous: no run reached the premise \(early_drop\(\) runs "
        r"while an ASSURED conntrack is hashed \(one it must not pick\)\); no run into it "
        r"within [\d,]+ states of the explorer",
        result.scope,
    ), result.scope
    assert len(lines) == 2 and "no run into it within" in lines[1]


def test_a_finding_of_the_runs_into_a_missed_premise_is_a_finding_of_the_campaign() -> None:
    """`may-drop-when-full` (a witness on 6.x) shows in the runs sampled into the missed
    premise: it is `witnessed`, with a minimised trace that replays and says which runs
    showed it. A finding of the campaign's own runs comes first."""
    config = suite_member("6.x", "ci.allocations")
    checked, _ = _judge(config, (ENTRY, "may-drop-when-full"))
    witnessed = checked["may-drop-when-full"]
    assert witnessed.result.verdict == "witnessed" and witnessed.trace is not None
    assert witnessed.result.scope.startswith(
        f"trace of {len(witnessed.trace.steps)} steps, found in a campaign, and "
    )
    meta = witnessed.trace.meta
    assert (meta["engine"], meta["profile"], meta["seed"]) == ("hypofuzz", "ci", 0)
    assert meta["premise_runs"] == ENTRY
    assert replay(witnessed.trace).ok
    assert checked[ENTRY].result.verdict == "sampled"

    own: Found = {(config.variant, "may-drop-when-full"): witnessed.trace.steps}
    campaign, _ = _judge(config, (ENTRY, "may-drop-when-full"), own)
    trace = campaign["may-drop-when-full"].trace
    assert trace is not None and "premise_runs" not in trace.meta


def test_an_entry_with_a_finding_or_a_reached_premise_gets_no_runs_into_it() -> None:
    config = suite_member("6.x", "ci.allocations")
    props = [BY_ID[ENTRY], BY_ID["table-bound"], BY_ID["may-duplicate"]]
    assert missed_premises([config], props, {}, REACHED) == [(config, ENTRY)]
    found: Found = {(config.variant, ENTRY): ()}
    assert missed_premises([config], props, found, REACHED) == []


def test_an_interrupted_campaign_samples_no_premise() -> None:
    """Ctrl-C ended the campaign: it reports at once, the missed premise vacuous."""
    config = suite_member("6.x", "ci.allocations")
    console, out = _console()
    props = [BY_ID[ENTRY]]
    assert _sample_missed([config], props, {}, {}, console, interrupted=True) == ({}, True)
    assert "the campaign was interrupted" in out.getvalue()
    (checked,) = verdicts([config], props, {}, "a campaign", {}, {}, RUNS, {})
    assert checked.result.verdict == "unknown"
    assert note_in(checked.result.scope).startswith("vacuous: no run reached the premise")
