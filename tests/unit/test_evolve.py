"""`evolve` is NamedTuple._replace() for the state records, only faster."""

from __future__ import annotations

from typing import Any

import pytest

from nfct_spec.models.observers import FULL, Record, Seen
from nfct_spec.models.state import Conntrack, Ghost, Kernel, Message, Socket, State, evolve

MESSAGE = Message(slot=2, flow=0, bits=4, uid=1)
SEEN = Seen(owed=True, got=1)
RECORD = Record(uid=1, slot=2, flow=0, generated=5, pending=4, seen=(SEEN, Seen()))
KERNEL = Kernel(
    cts=(None, None, Conntrack(flow=0, ecache=True)),
    unconfirmed=(),
    hash=(2,),
    dying=(),
    ct_count=1,
    sockets=(Socket(open=True, queue=(MESSAGE,)),),
    nf_conntrack_events=1,
    events_retry_timeout=2,
)
GHOST = Ghost(level=FULL, next_uid=2, records=(RECORD,), deaths=(1,), previous=((-1, 0),) * 3)
SAMPLES: list[Any] = [
    Conntrack(flow=1, ecache=True, assured=True, timer=4, cache=5, missed=1, pid=2),
    MESSAGE,
    Socket(open=True, queue=(MESSAGE,), congested=True),
    KERNEL,
    SEEN,
    RECORD,
    GHOST,
    State(kernel=KERNEL, ghost=GHOST),
]


@pytest.mark.parametrize("obj", SAMPLES, ids=lambda o: type(o).__name__)
def test_evolve_changes_each_field_exactly_as_replace_does(obj: Any) -> None:
    for name in type(obj)._fields:
        value = ("changed", name)
        new = evolve(obj, **{name: value})
        assert new == obj._replace(**{name: value})
        assert type(new) is type(obj) and getattr(new, name) == value
    assert evolve(obj) == obj


@pytest.mark.parametrize("obj", SAMPLES, ids=lambda o: type(o).__name__)
def test_evolve_refuses_an_unknown_field_and_keeps_records_immutable(obj: Any) -> None:
    with pytest.raises(TypeError):
        evolve(obj, no_such_field=1)
    first = type(obj)._fields[0]
    with pytest.raises(AttributeError):
        setattr(evolve(obj), first, 9)


def test_evolve_refuses_a_class_that_is_not_registered() -> None:
    with pytest.raises(KeyError):
        evolve((1, 2), x=1)
