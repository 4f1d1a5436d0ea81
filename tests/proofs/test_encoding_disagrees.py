"""When the encoding and the model disagree, the Z3 verdicts they void say so: `error`, with
`encoding disagrees with the model at ACTION: ...` as the reason, exit 1, and no traceback;
every other verdict of the run is still written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nfct_spec.cli import main
from nfct_spec.engines import hypothesis_engine
from nfct_spec.engines.hypothesis_engine import Profile
from nfct_spec.engines.z3_engine import prove
from nfct_spec.engines.z3_runner import run_property
from nfct_spec.proofs import kernel_z3
from nfct_spec.spec.catalogue import BY_ID
from tests.proofs.mutants import model_mutant, only_on, timer_not_refreshed

DISAGREES = "encoding disagrees with the model at "


def test_a_bmc_path_the_model_does_not_reproduce_is_an_error_verdict_naming_the_action(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retry timer armed late in the encoding: the BMC path of table-bound (2.6.31) does
    not replay, and the verdict says where, instead of a traceback."""

    def late_retry(s: kernel_z3.Sym, uid: object) -> None:
        s.put("timer", s.get("retry"), uid)

    monkeypatch.setattr(kernel_z3, "arm_retry_timer", late_retry)
    outcome = run_property(BY_ID["table-bound"], "2.6.31", 30.0, tmp_path)
    assert outcome is not None
    result = outcome.result
    assert result.verdict == "error" and result.status == "UNEXPECTED"
    assert result.reason.startswith(DISAGREES) and "field timer" in result.reason
    assert "BMC path of table-bound" in result.reason
    assert result.trace is None and not (tmp_path / "traces").exists()


def test_a_variant_whose_model_disagrees_gets_error_verdicts_and_the_others_their_proofs(
    tmp_path: Path,
) -> None:
    props = [BY_ID["one-place"], BY_ID["count-exact"]]
    shown: list[str] = []
    with model_mutant("nf_conntrack_in", only_on("2.6.31", timer_not_refreshed)):
        run = prove(["2.6.30", "2.6.31"], props, tmp_path, show=shown.append)
    assert run.code == 1
    verdicts = {(r.property_id, r.variant): r for r in run.results}
    assert {k: r.verdict for k, r in verdicts.items() if k[1] == "2.6.30"} == {
        ("one-place", "2.6.30"): "proved",
        ("count-exact", "2.6.30"): "proved",
    }
    voided = [r for k, r in verdicts.items() if k[1] == "2.6.31"]
    assert len(voided) == 2
    for r in voided:
        assert r.verdict == "error" and r.status == "UNEXPECTED"
        assert r.reason.startswith(DISAGREES + "nf_conntrack_in: ")
    assert not run.guards["2.6.30"].disagreement and run.guards["2.6.31"].disagreement
    assert any(DISAGREES in text for text in shown)
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["runs"]["prove"]["guard"]["2.6.31"]["agrees"] is False


def test_check_reports_the_disagreement_with_exit_1_and_keeps_every_other_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`nfct-spec check` with a model whose packets do not refresh the timeout on 2.6.31: the
    Z3 verdicts of 2.6.31 are errors naming nf_conntrack_in, those of 2.6.30 stand, and the
    Hypothesis verdicts of both variants are written. (Two properties Z3 proves by induction:
    `check` asks Z3 for its proofs only, not for BMC findings.)"""
    monkeypatch.setitem(hypothesis_engine.PROFILES, "dev", Profile("dev", 20, 10, False))
    out = tmp_path / "out"
    args = ["check", "--out", str(out), "--profile", "dev", "--no-explore"]
    args += ["--variant", "2.6.30", "--variant", "2.6.31"]
    args += ["--property", "one-place", "--property", "count-exact"]
    with model_mutant("nf_conntrack_in", only_on("2.6.31", timer_not_refreshed)):
        code = main(args)
    captured = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in captured.out + captured.err
    doc = json.loads((out / "results.json").read_text())
    rows = {(r["engine"], r["property"], r["variant"]): r for r in doc["results"]}
    z3 = {k: r for k, r in rows.items() if k[0] == "z3"}
    assert {k[1:] for k, r in z3.items() if r["verdict"] == "error"} == {
        ("one-place", "2.6.31"),
        ("count-exact", "2.6.31"),
    }
    for (_, _, variant), r in z3.items():
        if variant == "2.6.31":
            assert r["reason"].startswith(DISAGREES + "nf_conntrack_in: ")
            assert r["status"] == "UNEXPECTED"
        else:
            assert r["status"] == "ok", r
    hypothesis = {k[1:] for k in rows if k[0] == "hypothesis"}
    variants = ("2.6.30", "2.6.31")
    assert hypothesis == {(p, v) for p in ("one-place", "count-exact") for v in variants}
    assert all(rows["hypothesis", *key]["verdict"] != "error" for key in hypothesis)
    assert DISAGREES + "nf_conntrack_in" in captured.out
