"""`evolve` is dataclasses.replace() for the state classes, only faster."""

from __future__ import annotations

import dataclasses

import pytest

from nfct_spec.models.state import Conntrack, Ghost, Kernel, Message, Socket, State, evolve

SAMPLES = [
    Conntrack(uid=3, flow=1, ctid=2, ecache=True, timer=4, cache=5, missed=1, pid=2),
    Message(uid=1, flow=0, ctid=0, bits=4),
    Socket(open=True, queue=(Message(uid=1, flow=0, ctid=0, bits=4),), congested=True),
    Kernel(
        cts=(),
        unconfirmed=(),
        hash=(1,),
        dying=(2,),
        count=3,
        sockets=(),
        nf_conntrack_events=1,
        events_retry_timeout=2,
    ),
    Ghost(identity=((0, 0),), generated=(1,), pending=(1,)),
]
SAMPLES.append(State(kernel=SAMPLES[3], ghost=SAMPLES[4]))  # type: ignore[arg-type]


@pytest.mark.parametrize("obj", SAMPLES, ids=lambda o: type(o).__name__)
def test_evolve_changes_each_field_exactly_as_replace_does(obj: object) -> None:
    for field in dataclasses.fields(obj):  # type: ignore[arg-type]
        value = ("changed", field.name)
        new = evolve(obj, **{field.name: value})
        assert new == dataclasses.replace(obj, **{field.name: value})  # type: ignore[type-var]
        assert type(new) is type(obj) and getattr(new, field.name) == value
    assert evolve(obj) == obj and evolve(obj) is not obj


@pytest.mark.parametrize("obj", SAMPLES, ids=lambda o: type(o).__name__)
def test_evolve_refuses_an_unknown_field_and_keeps_objects_frozen(obj: object) -> None:
    with pytest.raises(TypeError):
        evolve(obj, no_such_field=1)
    first = dataclasses.fields(obj)[0].name  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(evolve(obj), first, 9)
