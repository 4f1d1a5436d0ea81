"""Configs: presets are valid, JSON round-trips, and every bad field is named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nfct_spec.commands.common import load_config
from nfct_spec.files import InputError
from nfct_spec.models.config import ConfigError, config_from_json
from nfct_spec.models.presets import PRESETS, preset


@pytest.mark.parametrize("name", PRESETS)
@pytest.mark.parametrize("variant", ["2.6.30", "2.6.31"])
def test_every_preset_is_valid_and_round_trips_through_json(name: str, variant: str) -> None:
    config = preset(name, variant)
    assert config_from_json(json.loads(json.dumps(config.to_json()))) == config


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"variant": "2.4"}, "variant"),
        ({"nf_conntrack_max": -1}, "nf_conntrack_max"),
        ({"flows": "two"}, "flows"),
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


def test_load_config_reports_malformed_json_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"variant": "2.6.31",\n oops}')
    with pytest.raises(InputError, match="line 2"):
        load_config(path)


def test_load_config_reports_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_config(tmp_path / "absent.json")
