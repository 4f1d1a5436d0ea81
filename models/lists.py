"""Moving a conntrack between the kernel's lists, freeing it, and arming its retry timer.

Abstracts clean_from_lists() / nf_ct_delete_from_lists(), nf_ct_insert_dying_list(),
destroy_conntrack() and nf_conntrack_free() (net/netfilter/nf_conntrack_core.c, 2.6.31). A
conntrack's memory (and so its `ctid`) is released and `net->ct.count` decremented when the last
reference goes; the model drops references only where the kernel's final nf_ct_put() would.
"""

from __future__ import annotations

from nfct_spec.models.bits import IPCT_DESTROY
from nfct_spec.models.ecache import generate
from nfct_spec.models.state import CRASH_MOD_ZERO, NO_TIMER, State, evolve, replace_ct


def _without(values: tuple[int, ...], uid: int) -> tuple[int, ...]:
    return tuple(v for v in values if v != uid)


def nf_ct_delete_from_lists(state: State, uid: int) -> State:
    """Unlink from the hash table (and the unconfirmed list); the conntrack stays allocated."""
    kernel = state.kernel
    kernel = evolve(
        kernel, hash=_without(kernel.hash, uid), unconfirmed=_without(kernel.unconfirmed, uid)
    )
    return evolve(state, kernel=kernel)


def nf_conntrack_free(state: State, uid: int) -> State:
    """The last reference is gone: unlink from every list, free, and decrement the count."""
    kernel = state.kernel
    kernel = evolve(
        kernel,
        cts=tuple(ct for ct in kernel.cts if ct.uid != uid),
        hash=_without(kernel.hash, uid),
        unconfirmed=_without(kernel.unconfirmed, uid),
        dying=_without(kernel.dying, uid),
        count=kernel.count - 1,
    )
    return evolve(state, kernel=kernel)


def nf_ct_insert_dying_list(state: State, uid: int) -> State:
    """Add at the head of the dying list and arm the retry timer (`death_by_event`).

    The timer expires after random32() % nf_conntrack_events_retry_timeout jiffies; the model
    keeps the upper bound (timeout - 1) and lets `death_by_event` fire at any tick up to it,
    which gives the same set of firing times without a random argument. A timeout of 0 is a
    division by zero in the kernel: the model enters the crashed state with the conntrack on the
    dying list and no timer.
    """
    kernel = evolve(state.kernel, dying=(uid, *state.kernel.dying))
    state = evolve(state, kernel=kernel)
    return arm_retry_timer(state, uid)


def arm_retry_timer(state: State, uid: int) -> State:
    """Set `ct->timeout` to the retry bound, or crash when the retry timeout is 0."""
    ct = state.ct(uid)
    assert ct is not None
    if state.kernel.events_retry_timeout <= 0:
        kernel = replace_ct(state.kernel, evolve(ct, timer=NO_TIMER))
        return evolve(state, kernel=evolve(kernel, crashed=CRASH_MOD_ZERO))
    ct = evolve(ct, timer=state.kernel.events_retry_timeout - 1)
    return evolve(state, kernel=replace_ct(state.kernel, ct))


def note_death(state: State, uid: int) -> State:
    """Ghost: the conntrack starts to die; a DESTROY event is raised for it (once)."""
    ghost = state.ghost
    if uid in ghost.deaths:
        return state
    ghost = evolve(ghost, deaths=(*ghost.deaths, uid))
    ct = state.ct(uid)
    if ct is not None and ct.ecache:
        ghost = generate(ghost, uid, IPCT_DESTROY)
    return evolve(state, ghost=ghost)


def set_dying_bit(state: State, uid: int) -> State:
    """set_bit(IPS_DYING_BIT, &ct->status): no more events will be sent for it."""
    ct = state.ct(uid)
    assert ct is not None
    return evolve(state, kernel=replace_ct(state.kernel, evolve(ct, dying=True)))
