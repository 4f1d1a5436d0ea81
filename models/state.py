"""Model state: the kernel's part, kept apart from the ghost part that only properties read.

Everything is a frozen dataclass of ints, bools and tuples, so a state is hashable and two equal
states compare equal; conntracks are kept sorted by `uid` and lists keep the kernel's order.

Kernel state mirrors `struct net` (count, the unconfirmed list, the hash table, the dying list,
sysctls), `struct nf_conn` with its `nf_conntrack_ecache` extension (cache, missed, pid) and its
`timeout` timer, and each listener's `struct netlink_sock` (receive queue, congested bit, sk_err,
sk_drops). Time is abstract ticks; a timer holds its remaining ticks.

Ghost state records what happened (what each listener received or had dropped, what was
generated for each conntrack, the order of deaths) so that properties can be stated; no kernel
step reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from nfct_spec.models.config import Config

NO_TIMER = -1
"""`Conntrack.timer` when the timer is not pending."""

CRASH_MOD_ZERO = "division by zero: random32() % nf_conntrack_events_retry_timeout"


@dataclass(frozen=True, order=True, slots=True)
class Conntrack:
    """One `struct nf_conn`.

    `uid` is a ghost identity (allocation number) that the kernel does not have; `ctid` is what
    ctnetlink reports as CTA_ID (the object's address in 2.6.31, so it is reused once freed).
    `dying` is IPS_DYING_BIT; `timer` is `ct->timeout`, which on the dying list is re-used as
    the retry timer. An unconfirmed conntrack always has its first packet in flight.
    """

    uid: int
    flow: int
    ctid: int
    ecache: bool
    assured: bool = False
    dying: bool = False
    timer: int = NO_TIMER
    cache: int = 0
    missed: int = 0
    pid: int = 0


@dataclass(frozen=True, order=True, slots=True)
class Message:
    """One netlink message in a socket queue: a conntrack event or an expectation event."""

    uid: int
    flow: int
    ctid: int
    bits: int
    expect: bool = False


@dataclass(frozen=True, slots=True)
class Socket:
    """One listener's `struct netlink_sock` (closed sockets keep their slot, empty)."""

    open: bool
    queue: tuple[Message, ...] = ()
    congested: bool = False
    sk_err: bool = False
    drops: int = 0


DROPS_CAP = 3
"""`Socket.drops` saturates here so that the state space stays finite."""


@dataclass(frozen=True, slots=True)
class Kernel:
    """Per-namespace kernel state (`struct net` and what hangs off it).

    6.x only: `worker` is the delayed ecache work (-1 not scheduled, else ticks until it runs)
    and `dwork_pending` is `net->ct.ecache_dwork_pending`; `dying` is then the redelivery list.
    """

    cts: tuple[Conntrack, ...]
    unconfirmed: tuple[int, ...]
    hash: tuple[int, ...]
    dying: tuple[int, ...]
    count: int
    sockets: tuple[Socket, ...]
    nf_conntrack_events: int
    events_retry_timeout: int
    alloc_pending: int = -1
    build_fail_armed: bool = False
    crashed: str = ""
    worker: int = -1
    dwork_pending: bool = False


@dataclass(frozen=True, slots=True)
class Ghost:
    """What happened, for properties only.

    Per uid: `identity` (flow, ctid), `generated` (every event bit raised for it), `pending`
    (raised and not yet in a successful send), `confirmed` (it was hashed with an event
    extension, so it is expected to report). Per listener: `got` (uid, bit) received, `dropped`
    (uid, bit) refused by overrun, `since` (first uid allocated after the socket opened).
    """

    identity: tuple[tuple[int, int], ...] = ()
    generated: tuple[int, ...] = ()
    pending: tuple[int, ...] = ()
    reporting: tuple[int, ...] = ()
    deaths: tuple[int, ...] = ()
    got: tuple[frozenset[tuple[int, int]], ...] = ()
    dropped: tuple[frozenset[tuple[int, int]], ...] = ()
    since: tuple[int, ...] = ()
    exp_lost: bool = False


@dataclass(frozen=True, slots=True)
class State:
    """A model state: kernel part plus ghost part."""

    kernel: Kernel
    ghost: Ghost

    @property
    def next_uid(self) -> int:
        """The uid the next allocation gets (allocations so far)."""
        return len(self.ghost.identity)

    def ct(self, uid: int) -> Conntrack | None:
        """The allocated conntrack with this uid, or None once freed."""
        for ct in self.kernel.cts:
            if ct.uid == uid:
                return ct
        return None

    def hashed_ct_of_flow(self, flow: int) -> Conntrack | None:
        """The conntrack in the hash table for this flow's tuple, if any."""
        for uid in self.kernel.hash:
            ct = self.ct(uid)
            if ct is not None and ct.flow == flow:
                return ct
        return None


T = TypeVar("T")
_KEEP = object()


def _compile_evolver(cls: type) -> Callable[..., Any]:
    """The copy-with-changes function of one frozen, slotted state class.

    dataclasses.replace() validates the names, builds a keyword dict and runs the frozen
    __init__, and that was half of the explorer's time. The function compiled here takes one
    keyword-only parameter per field (so an unknown name is a TypeError, as with replace()) and
    fills the slots of a new object directly. The classes have no __post_init__ to skip.
    """
    names = [f.name for f in fields(cls)]
    params = ", ".join(f"{name}=_KEEP" for name in names)
    body = "".join(
        f"    _set(new, {name!r}, obj.{name} if {name} is _KEEP else {name})\n" for name in names
    )
    source = f"def evolve(obj, *, {params}):\n    new = _new(cls)\n{body}    return new\n"
    scope: dict[str, Any] = {
        "_KEEP": _KEEP,
        "_new": object.__new__,
        "_set": object.__setattr__,
        "cls": cls,
    }
    exec(source, scope)
    evolve: Callable[..., Any] = scope["evolve"]
    return evolve


_EVOLVERS: dict[type, Callable[..., Any]] = {
    cls: _compile_evolver(cls) for cls in (Conntrack, Message, Socket, Kernel, Ghost, State)
}


def evolve(obj: T, **changes: Any) -> T:
    """A copy of a state object with some fields changed: dataclasses.replace(), faster, for
    the classes of this module only (a KeyError names any other class)."""
    result: T = _EVOLVERS[type(obj)](obj, **changes)
    return result


def initial_state(config: Config) -> State:
    """The state after boot: empty table, the configured listeners open or closed."""
    sockets = tuple(Socket(open=listener.open_at_start) for listener in config.listeners)
    kernel = Kernel(
        cts=(),
        unconfirmed=(),
        hash=(),
        dying=(),
        count=0,
        sockets=sockets,
        nf_conntrack_events=config.nf_conntrack_events,
        events_retry_timeout=config.events_retry_timeout,
    )
    n = len(config.listeners)
    ghost = Ghost(got=(frozenset(),) * n, dropped=(frozenset(),) * n, since=(0,) * n)
    return State(kernel=kernel, ghost=ghost)


def replace_ct(kernel: Kernel, ct: Conntrack) -> Kernel:
    """The kernel with the conntrack of the same uid replaced by `ct`."""
    return evolve(kernel, cts=tuple(ct if c.uid == ct.uid else c for c in kernel.cts))


def set_at(values: tuple[Any, ...], index: int, value: Any) -> tuple[Any, ...]:
    """A copy of a tuple with one position replaced."""
    return (*values[:index], value, *values[index + 1 :])
