"""The reference config files (`configs/reference/`): the config the explorer's figures are
measured on, shipped so that `nfct-spec explore --config` searches exactly it. Each file loads,
and says what the README says the reference config is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nfct_spec.engines.explorer import explore, finding_depth, trace_of, verdict
from nfct_spec.models.config import config_from_json
from nfct_spec.replay import replay
from nfct_spec.spec.catalogue import BY_ID

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


def test_the_five_slot_config_shows_what_four_slots_cannot() -> None:
    """`five-slots-2.6.31.json` is the 2.6.31 reference config with five flows and five memory
    slots: on four slots `aux-alloc-one-over` cannot be shown (its violation needs five
    conntracks at once, which 2.6.31's early_drop() allows when the victim's DESTROY fails), on
    five the search with the retries untimed shows it at BFS depth 8, and the trace replays."""
    five = config_from_json(json.loads((REFERENCE / "five-slots-2.6.31.json").read_text()))
    four = config_from_json(json.loads((REFERENCE / "reference-2.6.31.json").read_text()))
    assert (five.flows, five.slots) == (5, 5)
    assert five.with_(flows=4, slots=4, name="reference") == four
    prop = BY_ID["aux-alloc-one-over"]
    assert prop.expected_for(five) == "violated"
    search = explore(five, [prop], untimed=True)
    assert verdict(prop, search)[0] == "violated"
    assert finding_depth(search, prop.id) == 8
    trace = trace_of(search, prop)
    assert len(trace.steps) == 8
    assert replay(trace).ok
