"""Configs: presets are valid, JSON round-trips, and every bad field is named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nfct_spec.commands.common import load_config
from nfct_spec.files import InputError
from nfct_spec.models.config import ConfigError, config_from_json
from nfct_spec.models.presets import PRESETS, preset
from nfct_spec.models.state import initial_state


@pytest.mark.parametrize("name", PRESETS)
@pytest.mark.parametrize("variant", ["2.6.30", "2.6.31", "6.x"])
def test_every_preset_is_valid_and_round_trips_through_json(name: str, variant: str) -> None:
    config = preset(name, variant)
    assert config_from_json(json.loads(json.dumps(config.to_json()))) == config


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"variant": "2.4"}, "variant"),
        ({"nf_conntrack_max": -1}, "nf_conntrack_max"),
        ({"flows": "two"}, "flows"),
        ({"slots": 0}, "slots"),
        ({"slots": 13}, "slots"),
        ({"slots": True}, "slots"),
        ({"ct_timeout": 1.5}, "ct_timeout"),
        ({"listener_churn": 1}, "listener_churn"),
        ({"bogus": 1}, "bogus"),
        ({"listeners": [{"name": "a", "groups": ["nope"]}]}, "listeners[0].groups"),
        ({"listeners": [{"name": "a", "groups": ["new"], "capacity": 0}]}, "listeners[0].capacity"),
        ({"sysctl_writes": [["nf_conntrack_max", 1]]}, "sysctl_writes[0]"),
        ({"faults": ["oom"]}, "faults[0]"),
        ({"event_bits": ["NEW"]}, "event_bits"),
        ({"nf_conntrack_events": 2}, "nf_conntrack_events"),
    ],
)
def test_a_bad_field_is_named_in_the_error(change: dict[str, object], field: str) -> None:
    data = {**preset("tiny").to_json(), **change}
    with pytest.raises(ConfigError, match=rf"'{__import__('re').escape(field)}'"):
        config_from_json(data)


def test_a_config_with_max_conntracks_is_rejected_with_its_new_name() -> None:
    data = {k: v for k, v in preset("tiny").to_json().items() if k != "slots"}
    with pytest.raises(ConfigError, match=r"'max_conntracks'.*renamed 'slots'"):
        config_from_json({**data, "max_conntracks": 3})


def test_the_sizes_of_a_recorded_run_are_not_for_config_files() -> None:
    # Config.observed lifts the search bounds for trace validation only: a config file that
    # asks for it is refused, and the bounds hold for every other config.
    with pytest.raises(ConfigError, match=r"'observed'.*trace validation"):
        config_from_json({**preset("tiny").to_json(), "observed": True, "slots": 200})
    with pytest.raises(ConfigError, match=r"'slots'"):
        preset("tiny").with_(slots=200)
    assert preset("tiny").with_(slots=200, flows=300, observed=True).slots == 200


def test_the_untimed_abstraction_is_not_for_config_files() -> None:
    # Config.retry_untimed is applied by the explorer (`--reduction untimed`), which shows its
    # findings again without it; a config file that asks for it is refused.
    with pytest.raises(ConfigError, match=r"'retry_untimed'.*--reduction untimed"):
        config_from_json({**preset("tiny").to_json(), "retry_untimed": True})
    assert preset("tiny").with_(retry_untimed=True).retry_untimed


def test_slots_bound_the_conntracks_that_exist_at_once_not_the_allocations() -> None:
    config = preset("tiny")
    assert config.slots == 3 and "slots" in config.to_json()
    assert len(initial_state(config).kernel.cts) == config.slots


def test_load_config_reports_malformed_json_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"variant": "2.6.31",\n oops}')
    with pytest.raises(InputError, match="line 2"):
        load_config(path)


def test_load_config_reports_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_config(tmp_path / "absent.json")
