"""The reference config files (`configs/reference/`): the config the explorer's figures are
measured on, shipped so that `nfct-spec explore --config` searches exactly it. Each file loads,
and says what the README says the reference config is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nfct_spec.models.config import config_from_json

REFERENCE = Path(__file__).resolve().parents[2] / "configs" / "reference"


@pytest.mark.parametrize("variant", ["2.6.31", "6.x"])
def test_the_reference_config_file_is_the_reference_config(variant: str) -> None:
    config = config_from_json(json.loads((REFERENCE / f"reference-{variant}.json").read_text()))
    assert config.variant == variant
    assert (config.flows, config.nf_conntrack_max, config.slots) == (4, 3, 4)
    (listener,) = config.listeners
    assert listener.broadcast_error and listener.no_enobufs and listener.capacity == 2
    assert listener.open_at_start
    assert set(listener.groups) == {"new", "update", "destroy"}
    assert (config.events_retry_timeout, config.ct_timeout) == (3, 2)
    assert set(config.event_bits) == {"NEW", "STATUS", "DESTROY"}
    assert config.requesters == ("conntrack",)
    assert not (config.expectations or config.faults or config.sysctl_writes)
