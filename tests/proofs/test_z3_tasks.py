"""`expiry-eventually` reports the Z3 proof of `destroy-eventually` (whose goal is every
conntrack freed), run once: only where that proof is among the tasks, and with its verdict,
whatever it is. And `prove` runs only the methods it is asked for."""

from __future__ import annotations

from pathlib import Path

from nfct_spec.engines.z3_engine import prove
from nfct_spec.engines.z3_runner import Outcome, _same_proof, _sources, method
from nfct_spec.results import Result
from nfct_spec.spec.catalogue import BY_ID

DESTROY, EXPIRY = BY_ID["destroy-eventually"], BY_ID["expiry-eventually"]


def test_the_expiry_task_takes_the_destroy_task_of_its_variant() -> None:
    tasks = [(DESTROY, "2.6.31"), (EXPIRY, "6.x"), (EXPIRY, "2.6.31"), (DESTROY, "6.x")]
    assert _sources(tasks) == {1: 3, 2: 0}


def test_alone_the_expiry_task_runs_the_proof_itself() -> None:
    assert _sources([(EXPIRY, "6.x")]) == {}
    assert method(EXPIRY, "6.x") == "liveness"
    assert method(EXPIRY, "2.6.30") is None  # expected violated: no proof to run


def test_the_reported_verdict_is_the_proofs() -> None:
    for verdict in ("proved", "unknown"):
        source = Outcome(
            Result("destroy-eventually", "6.x", "z3", verdict, "holds", "scope", "why")
        )
        derived = _same_proof(EXPIRY, "6.x", source)
        assert derived is not None
        assert derived.result.property_id == "expiry-eventually"
        assert derived.result.verdict == verdict and derived.result.expected == "holds"
        assert derived.result.reason.startswith("the proof of destroy-eventually")
    assert _same_proof(EXPIRY, "6.x", None) is None


def test_prove_runs_only_the_methods_asked_for(tmp_path: Path) -> None:
    """`check` asks Z3 for its proofs only: a property whose Z3 verdict would come from BMC
    gets none, and the run record says which methods ran."""
    props = [BY_ID["table-bound"], BY_ID["destroy-before-free"]]
    assert [method(p, "2.6.30") for p in props] == ["induction", "bmc"]
    z3 = prove(["2.6.30"], props, tmp_path, methods=("induction", "liveness"))
    assert [(r.property_id, r.verdict) for r in z3.results] == [("table-bound", "proved")]
    assert z3.run_info["methods"] == ["induction", "liveness"]
