"""The smp fields of a config: validated by name, left out of an atomic config's JSON, and
refused by the Z3 engine with a reason instead of a proof."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from smp_configs import ERAS, era

from nfct_spec.cli import main
from nfct_spec.engines.z3_engine import SMP_ELSEWHERE, encoded_variants
from nfct_spec.models.config import Config, ConfigError, config_from_json
from nfct_spec.models.presets import preset
from nfct_spec.models.registry import Step, StepError, actions_for, actions_of, apply
from nfct_spec.models.state import initial_state
from nfct_spec.proofs.guard import encoding_gap
from nfct_spec.spec.catalogue import CATALOGUE


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"granularity": "cpu"}, "granularity"),
        ({"granularity": "smp", "variant": "6.x"}, "granularity"),
        ({"delete_takes_timer": True}, "delete_takes_timer"),
        ({"granularity": "smp", "iterator_takes_timer": 1}, "iterator_takes_timer"),
        ({"granularity": "smp", "cpus": 0}, "cpus"),
        ({"flush": "no"}, "flush"),
        ({"granularity": "smp", "retry_timer_separate": True}, "retry_timer_separate"),
        (
            {"granularity": "smp", "delete_takes_timer": True, "retry_by_worker": True},
            "retry_by_worker",
        ),
        (
            {"granularity": "smp", "delete_takes_timer": True, "delete_test_and_set_dying": True},
            "delete_test_and_set_dying",
        ),
        ({"granularity": "smp", "ecache_destroy_state": True}, "ecache_destroy_state"),
        ({"ecache_destroy_state": True}, "ecache_destroy_state"),
    ],
)
def test_a_bad_smp_field_is_refused_by_name(changes: dict[str, object], field: str) -> None:
    data = {**preset("tiny").to_json(), **changes}
    with pytest.raises(ConfigError, match=f"field '{field}'"):
        config_from_json(data)


def test_an_atomic_config_writes_no_smp_field_and_an_smp_one_reads_back() -> None:
    assert "granularity" not in preset("ci").to_json()
    for name in ERAS:
        config = era(name)
        assert config.granularity == "smp"
        assert config_from_json(json.loads(json.dumps(config.to_json()))) == config


def test_the_atomic_registry_is_the_one_it_was_and_smp_replaces_three_actions() -> None:
    atomic = {a.name for a in actions_for("2.6.31")}
    smp = {a.name for a in actions_of(era("smp-2.6.31"))}
    replaced = {"ctnetlink_del_conntrack", "death_by_timeout", "nf_conntrack_flush_report"}
    assert replaced <= atomic and not replaced & smp
    assert atomic - replaced - {"env_netns_exit"} <= smp, "namespace exit is atomic only"
    assert {a.name for a in actions_of(preset("ci", "2.6.31"))} == atomic


def test_a_step_of_the_other_granularity_is_refused_by_name() -> None:
    with pytest.raises(StepError, match="granularity smp"):
        apply(
            era("smp-2.6.31"),
            initial_state(era("smp-2.6.31")),
            Step("death_by_timeout", (("slot", 0),)),
        )
    with pytest.raises(StepError, match="granularity atomic"):
        apply(preset("tiny"), initial_state(preset("tiny")), Step("nf_ct_put", (("call", 0),)))


def test_atomic_configs_judge_none_of_the_smp_properties() -> None:
    smp_only = {"destroy-once", "timeout-handler-once", "no-double-unlink", "no-timer-rearm"}
    for variant in ("2.6.30", "2.6.31", "6.x"):
        config = preset("ci", variant)
        assert all(p.expected_for(config) == "n/a" for p in CATALOGUE if p.id in smp_only)


def test_check_leaves_an_smp_config_to_eras_and_proves_only_atomic_ones() -> None:
    shown: list[str] = []
    configs = [era("smp-2.6.31"), preset("ci", "6.x")]
    assert encoded_variants(configs, shown.append) == ["6.x"]
    assert shown == [f"Z3: 2.6.31 (smp-2.6.31) skipped: {SMP_ELSEWHERE}"]
    assert encoding_gap(preset("ci", "2.6.31")) is None
    assert encoding_gap(era("smp-2.6.31")) is None


def test_explore_refuses_a_bad_smp_config_file_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.json"
    data = {**era("smp-2.6.31").to_json(), "variant": "2.6.30"}
    path.write_text(json.dumps(data), encoding="utf-8")
    assert main(["explore", "--config", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "granularity" in err


def test_the_smp_config_files_are_small() -> None:
    for name in ERAS:
        config: Config = era(name)
        assert (config.flows, config.slots, len(config.listeners)) == (1, 1, 1)
        assert config.listeners[0].broadcast_error and config.listeners[0].capacity == 1
