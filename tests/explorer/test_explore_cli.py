"""`nfct-spec explore`: verdicts merged into results.json, traces that replay, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from explorer_configs import small

from nfct_spec.cli import main
from nfct_spec.commands import explore as explore_command
from nfct_spec.engines import explorer, lasso_sym
from nfct_spec.engines import lasso as lasso_engine
from nfct_spec.engines.lasso import FULL_FAIRNESS
from nfct_spec.models.presets import suite
from nfct_spec.results import Result
from nfct_spec.spec.fairness import LIVENESS

PROPS = ["count-exact", "table-bound", "destroy-eventually"]


def _config_file(tmp_path: Path, variant: str) -> Path:
    path = tmp_path / f"small-{variant}.json"
    config = small(variant, sysctl_writes=(("events_retry_timeout", 0),))
    path.write_text(json.dumps(config.to_json()), encoding="utf-8")
    return path


def _args(config: Path, out: Path, *extra: str) -> list[str]:
    args = ["explore", "--config", str(config), "--out", str(out), *extra]
    for prop in PROPS:
        args += ["--property", prop]
    return args


def test_explore_exhausts_a_small_config_and_writes_replayable_traces(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(_args(_config_file(tmp_path, "2.6.31"), out)) == 0
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    rows = {r["property"]: r for r in doc["results"]}
    assert {r["engine"] for r in rows.values()} == {"explorer"}
    assert rows["count-exact"]["verdict"] == "exhausted"
    # Judged on the liveness graph as it was built: the obligations search's 1885 states, and
    # its 5624 transitions plus the graph's allocations into every free slot.
    assert rows["count-exact"]["scope"] == (
        "1885 states, 5632 transitions, depth 18 of the liveness graph; "
        "premise reached in small at depth 2"
    )
    assert rows["destroy-eventually"]["verdict"] == "exhausted"
    assert rows["table-bound"]["verdict"] == "violated"
    trace = out / rows["table-bound"]["trace"]
    assert main(["replay", str(trace)]) == 0
    lassos = sorted((out / "traces-explorer" / "2.6.31").glob("destroy-eventually.without-*"))
    # Limit 1 and no expectations: no traffic can refill the queue, so no lasso escapes
    # traffic-stops (tests/explorer/test_lasso.py shows one on a config that can).
    prefix = "destroy-eventually.without-"
    dropped = {p.name.removeprefix(prefix).removesuffix(".json") for p in lassos}
    assert dropped == set(FULL_FAIRNESS) - {"traffic-stops"}
    for lasso in lassos:
        assert main(["replay", str(lasso)]) == 0


def test_partial_order_reduction_and_two_workers_give_the_same_verdicts(tmp_path: Path) -> None:
    config = _config_file(tmp_path, "2.6.31")
    plain, fast = tmp_path / "plain", tmp_path / "fast"
    assert main(_args(config, plain)) == 0
    assert main(_args(config, fast, "--reduction", "por", "--workers", "2")) == 0
    docs = [json.loads((out / "results.json").read_text(encoding="utf-8")) for out in (plain, fast)]
    verdicts = [{r["property"]: r["verdict"] for r in doc["results"]} for doc in docs]
    assert verdicts[0] == verdicts[1]
    run = docs[1]["runs"]["explore"]
    assert (run["reduction"], run["workers"]) == ("por", 2)
    assert all("partial_order" in s for s in run["searches"] if "liveness" not in s["observers"])
    rows = {r["property"]: r for r in docs[1]["results"]}
    assert "partial-order reduced" in rows["count-exact"]["scope"]
    assert main(["replay", str(fast / rows["table-bound"]["trace"])]) == 0


def test_untimed_retries_with_two_workers_give_the_same_verdicts(tmp_path: Path) -> None:
    """`--reduction untimed`: the same verdicts; what holds is decided on the abstraction (its
    scope says so), the violation is shown on the config as it is and replays there."""
    config = _config_file(tmp_path, "2.6.31")
    plain, untimed = tmp_path / "plain", tmp_path / "untimed"
    assert main(_args(config, plain)) == 0
    assert main(_args(config, untimed, "--reduction", "untimed", "--workers", "2")) == 0
    docs = [
        json.loads((out / "results.json").read_text(encoding="utf-8")) for out in (plain, untimed)
    ]
    verdicts = [{r["property"]: r["verdict"] for r in doc["results"]} for doc in docs]
    assert verdicts[0] == verdicts[1]
    run = docs[1]["runs"]["explore"]
    assert run["reduction"] == "untimed"
    safety = [s for s in run["searches"] if "liveness" not in s["observers"]]
    assert safety and all(s["abstraction"]["name"] == "retries untimed" for s in safety)
    rows = {r["property"]: r for r in docs[1]["results"]}
    scope, premise = rows["count-exact"]["scope"].split("; ")
    assert scope.endswith("retries untimed") and premise.startswith("premise reached in small")
    assert main(["replay", str(untimed / rows["table-bound"]["trace"])]) == 0
    # The liveness entry is decided on the untimed graph alone and the timed graph is not
    # built; the lassos of the weaker fairness sets (which the untimed graph cannot give) are
    # those of the config with one slot carried over, or states where it stutters: the same
    # fairness sets as the timed graph's, and they replay.
    assert "DESTROY retries untimed" in rows["destroy-eventually"]["scope"]
    live = [s for s in run["searches"] if "liveness" in s["observers"]]
    assert [s["observers"] for s in live] == [
        "obligations, symmetry-reduced, retries untimed (liveness)"
    ]
    names = [
        sorted(p.name for p in (out / "traces-explorer").glob("*/destroy-eventually.without-*"))
        for out in (plain, untimed)
    ]
    assert names[0] and names[0] == names[1]
    for lasso in (untimed / "traces-explorer").glob("*/destroy-eventually.without-*"):
        assert main(["replay", str(lasso)]) == 0


def test_an_untimed_candidate_is_searched_again_on_the_config_as_it_is() -> None:
    """On `ci.faults` (2.6.31) a failed message build loses a DESTROY: the untimed graph finds
    the broken obligation, a candidate only, so both entries are searched again, and the
    obligation shown BFS-shortest, on the timed graph; on `ci.listeners` the untimed graph
    decides both and the timed one is not built."""
    faults, listeners = (
        next(c for c in suite("ci", "2.6.31") if c.name == name)
        for name in ("ci.faults", "ci.listeners")
    )
    run = explore_command.MemberRun(faults, [])
    explore_command._live(run, LIVENESS, 100_000, lambda _: None, untimed=True)
    assert run.untimed is not None and run.graph is not None
    plain = lasso_engine.build_graph(faults)
    for prop_id in LIVENESS:
        outcome = run.outcomes[prop_id]
        unreduced = lasso_engine.check_liveness(plain, FULL_FAIRNESS, prop_id).broken
        assert not outcome.untimed and outcome.broken is not None and unreduced is not None
        assert len(outcome.broken.steps) == len(unreduced.steps)
    run = explore_command.MemberRun(listeners, [])
    explore_command._live(run, LIVENESS, 100_000, lambda _: None, untimed=True)
    assert run.untimed is not None and run.graph is None
    assert all(run.outcomes[p].untimed for p in LIVENESS)


def test_explore_keeps_the_results_of_other_engines(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / ".nfct-spec-out").write_text("", encoding="utf-8")
    proved = Result("count-exact", "2.6.30", "z3", "proved", "holds", "any limit", "").to_json()
    (out / "results.json").write_text(json.dumps({"results": [proved]}), encoding="utf-8")
    main(_args(_config_file(tmp_path, "2.6.30"), out))
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert {r["engine"] for r in doc["results"]} == {"z3", "explorer"}
    assert proved in doc["results"]


def test_a_state_budget_that_runs_out_gives_unknown_and_exit_3(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(_args(_config_file(tmp_path, "2.6.31"), out, "--max-states", "50")) == 3
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    verdicts = {r["property"]: r["verdict"] for r in doc["results"]}
    assert verdicts["count-exact"] == "unknown"
    assert verdicts["destroy-eventually"] == "unknown"


def test_explore_defaults_to_the_ci_suite_and_gives_one_verdict_per_property(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    assert main(["explore", "--variant", "2.6.30", "--out", str(out)]) == 0
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    members = [c.name for c in suite("ci", "2.6.30")]
    assert set(doc["configs"]) == {f"2.6.30/{name}" for name in members}
    searches = doc["runs"]["explore"]["searches"]
    assert list(dict.fromkeys(s["config"] for s in searches)) == members
    assert all(s["states"] > 0 for s in searches)
    # Every search is exhausted but the id-reuse, every-bit, order-of-deaths and NEW-read
    # ones, which check one finding each (`id-reuse`, `may-coalesce`, `may-reorder`,
    # `new-before-destroy`) and stop at it.
    assert all(
        s["exhausted"]
        for s in searches
        if not {"ids", "bits", "order", "news"} & set(s["observers"].split("+"))
    )
    rows = {r["property"]: r for r in doc["results"]}
    assert len(rows) == len(doc["results"])
    assert all(r["status"] == "ok" for r in rows.values())
    assert (rows["count-exact"]["verdict"], rows["count-exact"]["config"]) == ("exhausted", "ci.*")
    assert rows["count-exact"]["scope"].startswith(f"every state of {len(members)} configs")
    lost = rows["may-lose-without-be"]
    assert (lost["verdict"], lost["config"]) == ("witnessed", "ci.listeners")
    assert main(["replay", str(out / lost["trace"])]) == 0


@pytest.mark.parametrize(
    "extra",
    [
        ["--max-states", "0"],
        ["--variant", "9.9"],
        ["--property", "no-such"],
        ["--suite", "huge"],
        ["--suite", "ci", "--preset", "ci"],
        ["--workers", "0"],
        ["--reduction", "partial"],
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(
    extra: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["explore", "--out", str(tmp_path / "out"), *extra])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("nfct-spec: error:") and err.count("\n") == 1


def test_without_a_terminal_long_searches_print_plain_progress_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Progress bars do not show in a log: a line per `PLAIN_EVERY` states (here 1,000, the
    searches reporting every 500) and one when each search ends. (With each group searched on
    its own: by default the obligations entries are judged on the liveness graph.)"""
    monkeypatch.setattr(explore_command, "PLAIN_EVERY", 1000)
    monkeypatch.setattr(explorer, "PROGRESS_EVERY", 500)
    monkeypatch.setattr(lasso_engine, "PROGRESS_EVERY", 500)
    monkeypatch.setattr(lasso_sym, "PROGRESS_EVERY", 500)
    args = _args(_config_file(tmp_path, "2.6.31"), tmp_path / "out")
    assert main([*args, "--separate-searches"]) == 0
    out = capsys.readouterr().out
    assert "2.6.31 (small) [obligations]: 1,000 states, depth" in out
    assert "2.6.31 (small) [obligations]: exhausted, 1,885 states, depth 18" in out
    assert "2.6.31 (small) liveness: 1,000 states, symmetry-reduced" in out
    lines = [line for line in out.splitlines() if ": 1,000 states" in line]
    assert len(lines) == len(set(lines)), "each multiple is printed once per search"


def test_without_a_terminal_a_partitioned_search_prints_progress_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Worker processes report at the end of each level, whose count is seldom a multiple of
    `PLAIN_EVERY`: a line is printed when the count passes one."""
    monkeypatch.setattr(explore_command, "PLAIN_EVERY", 1000)
    args = _args(_config_file(tmp_path, "2.6.31"), tmp_path / "out")
    assert main([*args, "--workers", "2"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "[obligations]: 1," in line]
    assert lines and "depth" in lines[0], out
    assert "2.6.31 (small) [obligations]: exhausted, 1,885 states, depth 18" in out
