"""The grouped lazy projection (`nfct_spec.spec.lazy`) gives every field exactly the value of
its definition in `nfct_spec.spec.vocab.PROJECTIONS`, whichever field is read first: on every
state of the obligations search (the observers the judges read) of each member of the `ci`
suite of each variant and of an smp config, and on the first states of their searches that keep
every observer."""

from __future__ import annotations

from pathlib import Path

import pytest

from nfct_spec.commands.common import load_config
from nfct_spec.engines.explorer import explore
from nfct_spec.models.config import Config
from nfct_spec.models.observers import FULL, OBLIGATIONS
from nfct_spec.models.presets import suite
from nfct_spec.models.state import State
from nfct_spec.spec.lazy import GROUPS, LazyProjection
from nfct_spec.spec.vocab import FIELDS, PROJECTIONS, shape_for

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = [
    *(config for variant in ("2.6.30", "2.6.31", "6.x") for config in suite("ci", variant)),
    load_config(ROOT / "configs" / "smp-2.6.31.json"),
]


FIRST_FULL = 1500
"""States taken from each search that keeps every observer (exhausting those takes minutes)."""


def _states(config: Config, level: int) -> list[State]:
    budget = FIRST_FULL if level == FULL else None
    return explore(config, [], max_states=budget, level=level).states


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.variant}-{c.name}")
@pytest.mark.parametrize("level", [OBLIGATIONS, FULL], ids=["obligations", "full"])
def test_every_field_is_its_definition(config: Config, level: int) -> None:
    shape = shape_for(config)
    states = _states(config, level)
    assert len(states) > 10
    names = [field.name for field in FIELDS]
    grouped = 0
    for number, state in enumerate(states):
        lazy = LazyProjection(state, shape)
        first = names[number % len(names)]
        order = [first, *(name for name in names if name != first)]
        for name in order:
            value, defined = lazy[name], PROJECTIONS[name](state, shape)
            # repr tells True from 1: the Z3 terms take a bool for a constant, not an int
            assert repr(value) == repr(defined), (name, state)
        grouped += sum(1 for name in GROUPS if any(lazy[name]))
    assert grouped > 0


def test_every_group_covers_its_fields_and_no_others() -> None:
    assert set(GROUPS) <= {field.name for field in FIELDS}
    config = CONFIGS[0]
    state = _states(config, OBLIGATIONS)[-1]
    shape = shape_for(config)
    for name, group in GROUPS.items():
        values = group(state, shape)
        assert name in values
        assert all(GROUPS[other] is group for other in values)
