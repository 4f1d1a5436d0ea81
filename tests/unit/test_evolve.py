"""`evolve` is NamedTuple._replace() for the state records, only faster; `set_field` and
`set_fields` are the same by position, and the positions the model names are its fields'."""

from __future__ import annotations

from typing import Any

import pytest

from nfct_spec.models import observers, state
from nfct_spec.models.frozen import position, set_at, set_field, set_fields
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


@pytest.mark.parametrize("obj", SAMPLES, ids=lambda o: type(o).__name__)
def test_set_field_and_set_fields_are_evolve_by_position(obj: Any) -> None:
    names = type(obj)._fields
    for name in names:
        at = position(type(obj), name)
        assert names[at] == name
        new = set_field(obj, at, ("changed", name))
        assert new == evolve(obj, **{name: ("changed", name)}) and type(new) is type(obj)
    first, last = names[0], names[-1]
    both = set_fields(obj, position(type(obj), first), 1, position(type(obj), last), 2)
    assert both == evolve(obj, **{first: 1, last: 2}) and type(both) is type(obj)


def test_position_refuses_an_unknown_field() -> None:
    with pytest.raises(TypeError, match="no field 'no_such_field'"):
        position(Conntrack, "no_such_field")


POSITIONS = {
    state: {"CT": Conntrack, "SOCK": Socket, "K": Kernel},
    observers: {"REC": observers.Record, "GHOST": observers.Ghost},
}


@pytest.mark.parametrize("module", list(POSITIONS), ids=lambda m: m.__name__)
def test_the_positions_the_model_writes_name_the_fields_they_are_called_after(module: Any) -> None:
    """Each position constant (`CT_TIMER`, `GHOST_RECORDS`, ...) is the position of the field
    its name ends with, in the class its prefix stands for: a field added or moved later cannot
    leave a hot path writing the wrong one."""
    checked = 0
    for name, value in vars(module).items():
        prefix, _, field = name.partition("_")
        cls = POSITIONS[module].get(prefix)
        if cls is None or not name.isupper() or field.lower() not in cls._fields:
            continue
        assert value == cls._fields.index(field.lower()), name
        checked += 1
    assert checked >= 12


def test_set_at_and_with_socket_replace_one_position() -> None:
    """`set_at` copies a plain tuple with one item replaced; `with_socket` is the kernel with
    one listener's socket replaced, every other field and socket kept."""
    assert set_at((1, 2, 3), 0, 9) == (9, 2, 3)
    assert set_at((1, 2, 3), 2, 9) == (1, 2, 9)
    kernel = evolve(KERNEL, sockets=(Socket(open=True), Socket(open=False)))
    closed = Socket(open=False, sk_err=True)
    changed = state.with_socket(kernel, 0, closed)
    assert changed == evolve(kernel, sockets=(closed, Socket(open=False)))
    assert type(changed) is Kernel and kernel.sockets[0] == Socket(open=True)
