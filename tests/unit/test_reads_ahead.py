"""What the validator expects each listener to read next (`reads_ahead`), and how it drops a
candidate whose queue disagrees (`Search.readable`)."""

from __future__ import annotations

from nfct_spec.kernel.conformance import Search, reads_ahead
from nfct_spec.kernel.observe import (
    Event,
    ListenerCloseEvent,
    ListenerOpenEvent,
    RecvEvent,
)
from nfct_spec.models.config import Config, ListenerConfig
from nfct_spec.models.observers import KERNEL
from nfct_spec.models.state import Message, evolve, initial_state

EVENTS: list[Event] = [
    ListenerOpenEvent(0.0, "a"),
    RecvEvent(0.1, "a", "new", 1, 0, 8, None),
    RecvEvent(0.2, "b", "destroy", 2, 1, 8, None),
    ListenerCloseEvent(0.3, "a"),
    RecvEvent(0.4, "a", "update", 3, 0, 8, None),
]


def test_the_reads_ahead_of_a_listener_stop_at_its_next_close() -> None:
    assert reads_ahead(EVENTS, 0) == {"a": (("new", 0),), "b": (("destroy", 1),)}
    assert reads_ahead(EVENTS, 2) == {"b": (("destroy", 1),)}
    assert reads_ahead(EVENTS, 4) == {"a": (("update", 0),)}


def test_a_queue_that_disagrees_with_the_reads_ahead_explains_nothing() -> None:
    config = Config(
        name="ahead",
        variant="6.x",
        flows=4,
        slots=4,
        listeners=(ListenerConfig("a", ("new", "destroy"), capacity=4),),
        observed=True,
    )
    search = Search(config, hidden=100, traffic=False)
    search.ahead = {"a": (("new", 0), ("destroy", 0))}
    state = initial_state(config, KERNEL)

    def queued(*messages: Message) -> bool:
        sock = evolve(state.kernel.sockets[0], open=True, queue=messages)
        return search.readable((evolve(state, kernel=evolve(state.kernel, sockets=(sock,))), ()))

    new0, destroy0, destroy1 = Message(-1, 0, 1), Message(-1, 0, 4), Message(-1, 1, 4)
    assert queued(new0) and queued(new0, destroy0) and queued(new0, destroy0, destroy1)
    assert not queued(destroy0) and not queued(new0, destroy1)
