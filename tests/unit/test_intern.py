"""Stored states share their equal parts (`models.intern.Interner`) and stay what they were."""

from __future__ import annotations

from typing import Any

from nfct_spec.engines.explorer import explore
from nfct_spec.models.intern import Interner
from nfct_spec.models.observers import FULL
from nfct_spec.models.presets import suite
from nfct_spec.models.state import Conntrack


def _same_shape(a: Any, b: Any) -> bool:
    """Equal, and of the same class at every level."""
    if type(a) is not type(b):
        return False
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_same_shape(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _copy(obj: Any) -> Any:
    """A deep copy that shares no tuple with `obj` (the explorer's states are shared already)."""
    if isinstance(obj, tuple):
        return tuple.__new__(type(obj), [_copy(x) for x in obj])
    return obj


def test_a_shared_state_is_equal_of_the_same_classes_and_shares_its_parts() -> None:
    config = next(c for c in suite("ci", "2.6.31") if c.name == "ci.expectations")
    states = [_copy(s) for s in explore(config, [], level=FULL, max_states=3000).states]
    share = Interner()
    shared = [share(s) for s in states]
    for original, copy in zip(states, shared, strict=True):
        assert copy == original and hash(copy) == hash(original)
        assert _same_shape(copy, original)
    # Equal parts of different states are one object after sharing, not before.
    records = [s.ghost.records for s in shared]
    assert len({id(r) for r in records}) == len(set(records)) < len(records)
    assert len({id(s.ghost.records) for s in states}) > len(set(records))
    assert share(states[-1]).ghost.records is shared[-1].ghost.records


def test_a_record_and_an_equal_plain_tuple_stay_apart() -> None:
    share = Interner()
    plain = share.share((0, True, False, False, -1, 0, 0, 0))
    record = share.share(Conntrack(flow=0, ecache=True))
    assert plain == record
    assert type(plain) is tuple and type(record) is Conntrack
    assert len(share) == 2
