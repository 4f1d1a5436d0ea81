"""Model state: the kernel's part, kept apart from the ghost part that only properties read.

Everything is a NamedTuple of ints, bools, strings and tuples, so a state is hashable, two equal
states compare equal, and both run in C over the whole nested state.

Kernel state mirrors `struct net` (count, the unconfirmed list, the hash table, the dying list,
sysctls), `struct nf_conn` with its `nf_conntrack_ecache` extension (cache, missed, pid) and its
`timeout` timer, and each listener's `struct netlink_sock` (receive queue, congested bit, sk_err,
sk_drops). Time is abstract ticks; a timer holds its remaining ticks.

The state is finite by construction. Conntracks live in memory *slots*, like `struct nf_conn`
objects in the conntrack slab: `Config.slots` bounds how many exist at once, and a freed slot is
allocated again. The slot is the object's address, so it is what ctnetlink reports as CTA_ID
(2.6.30 and 2.6.31 report the address; 6.x `nf_ct_get_id()` hashes the address with the tuple,
so for a given tuple the id is again a function of the slot). Nothing counts up for ever: the
ghost part (`nfct_spec.models.observers`) keeps bounded observer records and forgets a
conntrack once no property can still fail on it.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from nfct_spec.models.config import Config
from nfct_spec.models.frozen import (
    TUPLE_NEW,
    evolve,
    position,
    register,
    set_at,
    set_field,
    set_fields,
)
from nfct_spec.models.observers import FULL, Ghost, Record, initial_ghost

__all__ = [
    "CRASH_DEADLOCK_CONNTRACK_LOCK",
    "CRASH_DOUBLE_DYING",
    "CRASH_DOUBLE_UNLINK",
    "CRASH_FREED_LINKED",
    "CRASH_MOD_ZERO",
    "CRASH_TIMER_PENDING",
    "CRASH_USE_AFTER_FREE",
    "CT_ASSURED",
    "CT_CACHE",
    "CT_DYING",
    "CT_FLOW",
    "CT_MISSED",
    "CT_PID",
    "CT_TIMER",
    "DEADLOCK",
    "DEADLOCK_DYING_LOCK",
    "DROPS_CAP",
    "EXPECT_MESSAGE",
    "K_ALLOC_PENDING",
    "K_ALLOC_SLOT",
    "K_CALLS",
    "K_CTS",
    "K_CT_COUNT",
    "K_DYING",
    "K_HASH",
    "K_REFS",
    "K_SOCKETS",
    "K_UNCONFIRMED",
    "NO_TIMER",
    "SOCK_CONGESTED",
    "SOCK_DROPS",
    "SOCK_QUEUE",
    "SOCK_SK_ERR",
    "Call",
    "Conntrack",
    "Ghost",
    "Kernel",
    "Message",
    "Record",
    "Socket",
    "State",
    "deadlock",
    "evolve",
    "initial_state",
    "insert_sorted",
    "is_deadlock",
    "new_message",
    "new_state",
    "set_at",
    "set_ct",
    "set_field",
    "set_fields",
    "with_ct",
    "with_kernel",
    "with_socket",
    "without",
]

NO_TIMER = -1
"""`Conntrack.timer` when the timer is not pending."""

CRASH_MOD_ZERO = "division by zero: random32() % nf_conntrack_events_retry_timeout"
CRASH_DOUBLE_UNLINK = "hlist_nulls_del() of a conntrack that is no longer hashed"
"""smp: nf_ct_delete_from_lists() on an unhashed conntrack writes through a poisoned pprev."""
CRASH_TIMER_PENDING = "setup_timer() and add_timer() on a pending ct->timeout"
"""smp: the timer is re-initialised while the timer wheel still links it (list corruption)."""
CRASH_DOUBLE_DYING = "list insertion of a conntrack already on the dying list"
"""smp: nf_ct_insert_dying_list() adds a node that is already linked there."""
CRASH_USE_AFTER_FREE = "a conntrack used after it was freed"
"""smp: a reference dropped that nobody held (refcount underflow), or the conntrack freed while
a call in progress still works on it without a reference of its own."""
CRASH_FREED_LINKED = "the last reference dropped while the conntrack is still on a list"
"""smp: the object is freed while a list still links it (use after free by the next walk)."""

DEADLOCK = "deadlock: "
"""The prefix of a `Kernel.crashed` that is a deadlock rather than a fault: a CPU waits for ever
on a lock that it holds itself, or that a CPU waiting on one it holds has. The kernel does not
corrupt memory there, it stops making progress on that CPU; the model stops just the same (no
step is enabled once `crashed` is set). `deadlock-free` judges these states and `no-crash` the
others, so a deadlock is told apart from memory corruption by its prefix, whichever step set
it."""


def deadlock(cpu: str, lock: str, holder: str = "") -> str:
    """The `Kernel.crashed` of a deadlock: `cpu` (the kernel function it is in) waits for ever on
    `lock`, held by `holder` (the function another CPU is in; empty: `cpu` itself)."""
    return f"{DEADLOCK}{cpu} waits for ever on {lock}, held by {holder or 'itself'}"


def is_deadlock(crashed: str) -> bool:
    """A `Kernel.crashed` that names a deadlock (see `DEADLOCK`)."""
    return crashed.startswith(DEADLOCK)


CRASH_DEADLOCK_CONNTRACK_LOCK = deadlock(
    "nf_ct_release_dying_list() (death_by_event() run by nf_ct_kill() inside it)",
    "nf_conntrack_lock",
)
"""2.6.31: spin_lock(&nf_conntrack_lock) in death_by_event() under the spin_lock_bh() of
nf_ct_release_dying_list() on the same CPU."""

DEADLOCK_DYING_LOCK = deadlock(
    "ecache_work_evict_list() on the ecache worker's CPU", "cnet->ecache.dying_lock"
)
"""6.x with `worker_relocks_twice`: at the end of a batch the worker of the version under review
takes dying_lock again, then jumps to `next:`, which takes it once more (spin_lock_bh() on a
spinlock the CPU holds spins for ever)."""


@register
class Conntrack(NamedTuple):
    """One `struct nf_conn`; its slot (memory, and so its id) is its index in `Kernel.cts`.

    `dying` is IPS_DYING_BIT; `timer` is `ct->timeout`, which on the 2.6.31 dying list is re-used
    as the retry timer. An unconfirmed conntrack always has its first packet in flight.
    """

    flow: int
    ecache: bool
    assured: bool = False
    dying: bool = False
    timer: int = NO_TIMER
    cache: int = 0
    missed: int = 0
    pid: int = 0


@register
class Message(NamedTuple):
    """One netlink message in a socket queue: a conntrack event or an expectation event.

    `slot` and `flow` are what the message says about its conntrack (its id and tuple). `uid`
    is ghost: the observer record of the conntrack instance it was sent for (-1 when no
    observer tracks it). An expectation event names no conntrack (no property reads it).
    """

    slot: int
    flow: int
    bits: int
    expect: bool = False
    uid: int = -1


def new_message(slot: int, flow: int, bits: int, uid: int) -> Message:
    """A conntrack event message, built directly (see `new_state`: the class call runs the
    `__new__` that `collections.namedtuple` generates in Python)."""
    message: Message = TUPLE_NEW(Message, (slot, flow, bits, False, uid))
    return message


EXPECT_MESSAGE = Message(slot=-1, flow=-1, bits=0, expect=True)
"""The one expectation message (what it says is read by no action and no property)."""


@register
class Socket(NamedTuple):
    """One listener's `struct netlink_sock` (closed sockets keep their slot, empty)."""

    open: bool
    queue: tuple[Message, ...] = ()
    congested: bool = False
    sk_err: bool = False
    drops: int = 0


DROPS_CAP = 3
"""`Socket.drops` saturates here so that the state space stays finite."""


@register
class Call(NamedTuple):
    """A kernel function in progress on one CPU (granularity smp, `nfct_spec.models.smp`).

    `fn` is the kernel function, `slot` the conntrack it works on (-1 for a flush between
    entries), `pc` its program point: the name of the next step it takes. `portid` and `echo`
    are what it reports DESTROY with (the body of death_by_timeout() reports with port id 0
    and no echo, also when it runs inline); `held` says it holds a reference of its own
    (taken by its lookup), `failed` that its DESTROY send returned an error, `inline` that it
    runs the body of death_by_timeout() after a successful del_timer().
    """

    fn: str
    slot: int
    pc: str
    portid: int = 0
    echo: bool = False
    held: bool = False
    failed: bool = False
    inline: bool = False


@register
class Kernel(NamedTuple):
    """Per-namespace kernel state (`struct net` and what hangs off it).

    `cts` has one entry per memory slot (None when free). The unconfirmed list and the hash
    table are kept as sorted slot tuples (their order is the hash's, which nothing the model
    tracks depends on: the flush order is an argument); the dying list keeps the kernel's
    order, head first. `alloc_pending` is the flow of an allocation waiting for early_drop and
    `alloc_slot` the memory it will get.

    `crashed` names what stopped the kernel: a fault (`CRASH_*`) or a deadlock (`DEADLOCK`);
    empty while it runs.

    6.x only: `worker` is the delayed ecache work (-1 not scheduled, else ticks until it runs)
    and `dwork_pending` is `net->ct.ecache_dwork_pending`; `dying` is then the redelivery list.

    Granularity smp only (both empty otherwise): `calls` are the kernel functions in progress,
    sorted (CPUs are interchangeable), and `refs` the reference count of each slot
    (`ct_general.use`; 0 when free).

    `exiting`: the namespace is going away (`env_netns_exit` has run; `Config.netns_exit`
    only): no packet, request or sysctl write reaches it any more, and in 6.x its event
    callback is gone.
    """

    cts: tuple[Conntrack | None, ...]
    unconfirmed: tuple[int, ...]
    hash: tuple[int, ...]
    dying: tuple[int, ...]
    ct_count: int
    sockets: tuple[Socket, ...]
    nf_conntrack_events: int
    events_retry_timeout: int
    alloc_pending: int = -1
    alloc_slot: int = -1
    build_fail_armed: bool = False
    crashed: str = ""
    worker: int = -1
    dwork_pending: bool = False
    calls: tuple[Call, ...] = ()
    refs: tuple[int, ...] = ()
    exiting: bool = False


@register
class State(NamedTuple):
    """A model state: kernel part plus ghost part."""

    kernel: Kernel
    ghost: Ghost

    def ct(self, slot: int) -> Conntrack | None:
        """The conntrack allocated in `slot`, or None (also for a slot out of range)."""
        cts = self.kernel.cts
        return cts[slot] if 0 <= slot < len(cts) else None

    def hashed_slot_of_flow(self, flow: int) -> int:
        """The slot of the conntrack in the hash table for this flow's tuple, or -1."""
        cts = self.kernel.cts
        for slot in self.kernel.hash:
            ct = cts[slot]
            if ct is not None and ct.flow == flow:
                return slot
        return -1

    def record(self, slot: int) -> Record | None:
        """The observer record of the conntrack living in `slot`, if one is kept."""
        for record in self.ghost.records:
            if record.live and record.slot == slot:
                return record
        return None


CT_ASSURED: Final = position(Conntrack, "assured")
CT_CACHE: Final = position(Conntrack, "cache")
CT_DYING: Final = position(Conntrack, "dying")
CT_MISSED: Final = position(Conntrack, "missed")
CT_PID: Final = position(Conntrack, "pid")
CT_TIMER: Final = position(Conntrack, "timer")
CT_FLOW: Final = position(Conntrack, "flow")
SOCK_CONGESTED: Final = position(Socket, "congested")
SOCK_DROPS: Final = position(Socket, "drops")
SOCK_QUEUE: Final = position(Socket, "queue")
SOCK_SK_ERR: Final = position(Socket, "sk_err")
K_CTS: Final = position(Kernel, "cts")
K_CT_COUNT: Final = position(Kernel, "ct_count")
K_DYING: Final = position(Kernel, "dying")
K_SOCKETS: Final = position(Kernel, "sockets")
K_UNCONFIRMED: Final = position(Kernel, "unconfirmed")
K_HASH: Final = position(Kernel, "hash")
K_ALLOC_PENDING: Final = position(Kernel, "alloc_pending")
K_ALLOC_SLOT: Final = position(Kernel, "alloc_slot")
K_REFS: Final = position(Kernel, "refs")
K_CALLS: Final = position(Kernel, "calls")
"""The positions of the fields the model's hot paths and the canonical form write with
`set_field` or by position (one copy of the record, without `evolve`'s keyword dict)."""


def new_state(kernel: Kernel, ghost: Ghost) -> State:
    """`State(kernel, ghost)`, built directly: a NamedTuple class call runs the `__new__` that
    `collections.namedtuple` generates in Python, about twice the cost of this, and the model
    builds a state several times per step."""
    state: State = TUPLE_NEW(State, (kernel, ghost))
    return state


def initial_state(config: Config, level: int = FULL) -> State:
    """The state after boot: empty table, the configured listeners open or closed.

    `level` selects the observers the ghost keeps (`nfct_spec.models.observers`); the default
    keeps every observer a catalogue property reads.
    """
    sockets = tuple(Socket(open=listener.open_at_start) for listener in config.listeners)
    kernel = Kernel(
        cts=(None,) * config.slots,
        unconfirmed=(),
        hash=(),
        dying=(),
        ct_count=0,
        sockets=sockets,
        nf_conntrack_events=config.nf_conntrack_events,
        events_retry_timeout=config.events_retry_timeout,
        refs=(0,) * config.slots if config.granularity == "smp" else (),
    )
    return State(kernel=kernel, ghost=initial_ghost(config, level))


def with_kernel(state: State, kernel: Kernel) -> State:
    """The state with another kernel part: `evolve(state, kernel=kernel)` without the keyword
    dict and the copy by field name (the model swaps the kernel part several times per
    step)."""
    return new_state(kernel, state.ghost)


def with_ct(kernel: Kernel, slot: int, ct: Conntrack | None) -> Kernel:
    """The kernel with slot `slot` holding `ct` (None frees it)."""
    return set_field(kernel, K_CTS, set_at(kernel.cts, slot, ct))


def with_socket(kernel: Kernel, i: int, sock: Socket) -> Kernel:
    """The kernel with listener `i`'s socket replaced by `sock`."""
    return set_field(kernel, K_SOCKETS, set_at(kernel.sockets, i, sock))


def set_ct(state: State, slot: int, ct: Conntrack | None) -> State:
    """The state whose slot `slot` holds `ct`: `with_kernel(state, with_ct(state.kernel, slot,
    ct))`."""
    return with_kernel(state, with_ct(state.kernel, slot, ct))


def insert_sorted(values: tuple[int, ...], value: int) -> tuple[int, ...]:
    """A sorted tuple with `value` added."""
    return tuple(sorted((*values, value)))


def without(values: tuple[int, ...], value: int) -> tuple[int, ...]:
    """A tuple with every occurrence of `value` removed."""
    return tuple(v for v in values if v != value)
