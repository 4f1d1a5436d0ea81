"""A campaign with two HypoFuzz workers, and what it leaves behind: a finding reported as
`check` reports one, and a database that a second campaign and `--replay` read."""

from __future__ import annotations

from pathlib import Path

from fuzzing import FINDING, ONE_TEST, fuzz, logged_findings, results, stored
from nfct_spec.cli import main
from nfct_spec.minimize import shows
from nfct_spec.replay import replay
from nfct_spec.spec.catalogue import lookup
from nfct_spec.traces import Trace, load_trace


def _hypofuzz_result(out: Path, prop: str) -> dict[str, object]:
    (found,) = [
        r
        for r in results(out)["results"]
        if r["engine"] == "hypofuzz" and r["property"] == prop and r["variant"] == "2.6.31"
    ]
    return found


def _one_minimal(trace: Trace) -> bool:
    """No single step can be dropped with the finding still shown (what minimising gives)."""
    check = shows(trace.config, lookup(str(trace.property_id)))
    steps = list(trace.steps)
    return all(check(steps[:i] + steps[i + 1 :]) is None for i in range(len(steps)))


def test_a_campaign_of_two_workers_finds_the_expected_violation(
    first_campaign: tuple[int, Path],
) -> None:
    code, out = first_campaign
    workers = list((out / "fuzz" / "campaign" / "workers").glob("*.json"))
    assert code == 0
    assert len(workers) == 2
    assert FINDING in logged_findings(out)


def test_the_finding_is_minimised_saved_as_a_trace_that_replays_and_merged_into_results(
    first_campaign: tuple[int, Path],
) -> None:
    _, out = first_campaign
    result = _hypofuzz_result(out, "table-bound")
    trace = load_trace(out / str(result["trace"]))
    report = replay(trace)
    assert result["verdict"] == "violated" and result["status"] == "ok"
    assert "campaign" in str(result["scope"]) and "2 workers" in str(result["scope"])
    assert report.ok, report.message
    assert trace.meta["engine"] == "hypofuzz"
    assert _one_minimal(trace), "a single step of the minimised trace can be dropped"
    assert (out / "html" / "2.6.31" / "table-bound.hypofuzz.html").is_file()


def test_the_campaign_scope_is_recorded_in_the_results_file(
    first_campaign: tuple[int, Path],
) -> None:
    _, out = first_campaign
    run = results(out)["runs"]["fuzz"]
    assert run["workers"] == 2 and run["runs"] > 0 and run["steps"] > 0 and run["states"] > 0
    assert 0 < run["hours"] < 0.05
    # HypoFuzz's own count is of the workers that saved a report to the database before the
    # campaign stopped (at its finding): on a busy machine the second may not have yet. Both
    # workers ran (their logs are asserted above); the record keeps what HypoFuzz reported.
    assert 1 <= run["hypofuzz"]["workers"] <= 2


def test_the_spec_document_shows_the_campaigns_verdict(
    first_campaign: tuple[int, Path], tmp_path: Path
) -> None:
    _, out = first_campaign
    doc = tmp_path / "doc"
    code = main(["doc", "-o", str(doc), "--results", str(out / "results.json")])
    text = "\n".join(p.read_text(encoding="utf-8") for p in (doc / "md").rglob("*.md"))
    assert code == 0
    assert "hypofuzz: violated" in text


def test_a_second_campaign_on_the_same_database_replays_the_finding_before_searching(
    tmp_path: Path,
) -> None:
    first, out = tmp_path / "first", tmp_path / "again"
    first_code = fuzz(first, "--workers", "1", tests=ONE_TEST)
    kept = stored(first)
    code = fuzz(out, "--workers", "1", "--database", str(first / "fuzz" / "db"), tests=ONE_TEST)
    finding = logged_findings(out)[FINDING]
    # HypoFuzz first runs every stored example of the test, each twice (the second run
    # checks that its coverage is stable): the finding shows within that replay.
    assert first_code == 0 and code == 0
    assert list(kept) == [finding.test] and kept[finding.test] > 0
    assert finding.run <= 2 * kept[finding.test] + 1


def test_replay_reports_the_finding_from_the_database_without_fuzzing(
    first_campaign: tuple[int, Path], tmp_path: Path
) -> None:
    _, first = first_campaign
    out = tmp_path / "replayed"
    code = main(
        [
            "fuzz",
            "--replay",
            "--preset",
            "tiny",
            "--variant",
            "2.6.31",
            "--property",
            "table-bound",
            "--database",
            str(first / "fuzz" / "db"),
            "--out",
            str(out),
        ]
    )
    result = _hypofuzz_result(out, "table-bound")
    assert code == 0
    assert result["verdict"] == "violated" and "replay" in str(result["scope"])
    assert results(out)["runs"]["fuzz"]["replay"] is True
