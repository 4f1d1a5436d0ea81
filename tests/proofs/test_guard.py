"""The agreement guard of the Z3 engine: it passes on the model as it is, covering every
action of every variant, and names the action where a one-line bug makes the model and the
encoding differ."""

from __future__ import annotations

import pytest

from nfct_spec.models.registry import actions_for
from nfct_spec.proofs.guard import CASES, OUTSIDE_ENCODED_CONFIGS, SMP_WALKED, check_encoding
from tests.proofs.mutants import error_not_read, model_mutant, timer_not_refreshed

VARIANTS = ("2.6.30", "2.6.31", "6.x")


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_guard_passes_on_the_model_and_checks_every_action(variant: str) -> None:
    report = check_encoding(variant)
    assert report.ok, report.summary()
    names = {a.name for a in actions_for(variant)}
    unwalked = OUTSIDE_ENCODED_CONFIGS | SMP_WALKED
    short = {name: report.cases[name] for name in sorted(names - unwalked)}
    assert all(n >= CASES for n in short.values()), short
    assert all(report.cases[name] == 0 for name in names & unwalked)
    assert sum(report.refused.values()) > 0
    assert "the encoding agrees with the model" in report.summary()


def test_the_guard_draws_the_same_sample_every_time() -> None:
    first, second = check_encoding("2.6.31"), check_encoding("2.6.31")
    assert first.cases == second.cases and first.refused == second.refused


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_timer_not_refreshed_by_a_packet_is_named_at_nf_conntrack_in(variant: str) -> None:
    with model_mutant("nf_conntrack_in", timer_not_refreshed):
        report = check_encoding(variant)
    assert report.disagreement is not None
    assert report.disagreement.action == "nf_conntrack_in"
    text = str(report.disagreement)
    assert text.startswith("encoding disagrees with the model at nf_conntrack_in: ")
    assert "field timer is" in text and "in the encoding" in text
    assert "packet='new'" not in text


def test_a_model_that_refuses_a_step_the_encoding_takes_is_named_at_its_action() -> None:
    with model_mutant("env_recv", error_not_read):
        report = check_encoding("2.6.31")
    assert report.disagreement is not None and report.disagreement.action == "env_recv"
    assert "the model refuses it, the encoding takes it" in report.disagreement.detail


def test_the_mutants_leave_the_registry_as_it_was() -> None:
    with model_mutant("nf_conntrack_in", timer_not_refreshed):
        pass
    assert check_encoding("2.6.30").ok
