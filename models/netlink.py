"""Netlink delivery of one conntrack or expectation message to the listening sockets.

This is the part of the model that decides whether an event "was delivered": it abstracts
ctnetlink_conntrack_event() and ctnetlink_expect_event() (net/netfilter/nf_conntrack_netlink.c),
nfnetlink_send() / nlmsg_notify() (net/netlink/af_netlink.c) and netlink_broadcast() with
do_one_broadcast(), netlink_broadcast_deliver() and netlink_overrun(), all as of Linux 2.6.31
(unchanged in what matters since 2.6.30, where NETLINK_BROADCAST_ERROR and NETLINK_NO_ENOBUFS
appeared).

Left out: socket buffer accounting in bytes (a queue holds `capacity` messages), skb clone
failures (`p->failure`), and the nfnetlink_has_listeners() fast path for echo requests.
"""

from __future__ import annotations

from nfct_spec.models import observers
from nfct_spec.models.bits import GROUP_EXPECT, ct_group
from nfct_spec.models.config import Config
from nfct_spec.models.state import (
    DROPS_CAP,
    SOCK_CONGESTED,
    SOCK_DROPS,
    SOCK_QUEUE,
    SOCK_SK_ERR,
    Kernel,
    Message,
    Socket,
    State,
    evolve,
    new_state,
    set_field,
    set_fields,
    with_kernel,
    with_socket,
)
from nfct_spec.models.variants import variant_of

ENOBUFS = -105
EAGAIN = -11


def has_listeners(config: Config, kernel: Kernel, group: str) -> bool:
    """nfnetlink_has_listeners(): some open socket is subscribed to `group`."""
    return any(
        sock.open and group in listener.groups
        for sock, listener in zip(kernel.sockets, config.listeners, strict=True)
    )


def _overrun(config: Config, state: State, i: int, msg: Message) -> State:
    """netlink_overrun(): count a drop; without NO_ENOBUFS also mark congested and set sk_err.

    A congested socket refuses every broadcast until a read leaves its queue empty
    (netlink_rcv_wake()). The observers note which events this socket lost.
    """
    sock = state.kernel.sockets[i]
    listener = config.listeners[i]
    if not listener.no_enobufs and not sock.congested:
        sock = set_fields(sock, SOCK_CONGESTED, True, SOCK_SK_ERR, True)
    sock = set_field(sock, SOCK_DROPS, min(sock.drops + 1, DROPS_CAP))
    kernel = with_socket(state.kernel, i, sock)
    ghost = state.ghost
    if msg.expect:
        if listener.broadcast_error:
            ghost = observers.expectation_lost(ghost)
    else:
        ghost = observers.overrun(ghost, i, msg.uid, msg.bits)
    return new_state(kernel, ghost)


def _accepts(config: Config, sock: Socket, i: int) -> bool:
    """netlink_broadcast_deliver(): room in the buffer and not congested."""
    return len(sock.queue) < config.listeners[i].capacity and not sock.congested


def _queue(state: State, i: int, msg: Message) -> State:
    sock = state.kernel.sockets[i]
    sock = set_field(sock, SOCK_QUEUE, (*sock.queue, msg))
    kernel = with_socket(state.kernel, i, sock)
    ghost = state.ghost
    if not msg.expect:
        ghost = observers.queued(ghost, i, msg.uid, msg.bits)
    return new_state(kernel, ghost)


def _multicast(
    config: Config, state: State, msg: Message, group: str, exclude: int
) -> tuple[State, int]:
    """netlink_broadcast(): offer `msg` to every open socket in `group` but `exclude`.

    Returns 0 if some socket took it, -ENOBUFS if a socket with NETLINK_BROADCAST_ERROR was
    overrun (even if others took it), -ESRCH (here: 1) if nobody took it.
    """
    delivered = False
    failure = False
    for i, listener in enumerate(config.listeners):
        sock = state.kernel.sockets[i]
        if not sock.open or group not in listener.groups or i + 1 == exclude:
            continue
        if _accepts(config, sock, i):
            state = _queue(state, i, msg)
            delivered = True
        else:
            state = _overrun(config, state, i, msg)
            failure = failure or listener.broadcast_error
    if failure:
        return state, ENOBUFS
    return state, 0 if delivered else 1


def _unicast(config: Config, state: State, msg: Message, portid: int) -> tuple[State, int]:
    """nlmsg_unicast() of the echo to the requesting socket (non-blocking).

    netlink_attachskb() refuses when the queue is full or the socket is congested, calling
    netlink_overrun() because the sender is the kernel, and returns -EAGAIN.
    """
    i = portid - 1
    if not 0 <= i < len(config.listeners) or not state.kernel.sockets[i].open:
        return state, 0
    if _accepts(config, state.kernel.sockets[i], i):
        return _queue(state, i, msg), 0
    return _overrun(config, state, i, msg), EAGAIN


def _build_failure(config: Config, state: State, group: str) -> State:
    """The message could not be allocated: nfnetlink_set_err(group, ENOBUFS), return 0.

    In 2.6.31 ctnetlink_conntrack_event() then reports success, so the event is lost even for
    reliable listeners (fixed by 2.6.35), and every open socket of the group sees ENOBUFS.
    Since 2.6.35 netlink_set_err() skips the sockets with NETLINK_NO_ENOBUFS (do_one_set_err()
    counts them instead, see `_reports_build_failure`).
    """
    skips = variant_of(config.variant).build_failure_reports
    sockets = tuple(
        evolve(sock, sk_err=True)
        if sock.open and group in listener.groups and not (skips and listener.no_enobufs)
        else sock
        for sock, listener in zip(state.kernel.sockets, config.listeners, strict=True)
    )
    return with_kernel(state, evolve(state.kernel, sockets=sockets, build_fail_armed=False))


def ctnetlink_conntrack_event(
    config: Config, state: State, msg: Message, portid: int, report: bool
) -> tuple[State, int]:
    """Send one conntrack event message: the new state and the value ctnetlink returns (0, or
    ENOBUFS < 0, which means "not delivered, keep it").

    No listener in the group and no echo asked: delivered (nothing to do). With `report`
    (NLM_F_ECHO) the multicast skips the requester and the echo is unicast to it; an echo
    failure makes the whole send fail when the multicast itself succeeded (nlmsg_notify()).
    -ENOBUFS and -EAGAIN become -ENOBUFS; anything else is success.
    """
    group = ct_group(msg.bits)
    if not report and not has_listeners(config, state.kernel, group):
        return state, 0
    if state.kernel.build_fail_armed:
        failed = _build_failure(config, state, group)
        return failed, ENOBUFS if _reports_build_failure(config, state, group) else 0
    exclude = portid if report else 0
    state, err = _multicast(config, state, msg, group, exclude)
    if report:
        state, err2 = _unicast(config, state, msg, portid)
        if err in (0, 1):
            err = err2
    return state, ENOBUFS if err in (ENOBUFS, EAGAIN) else 0


def _reports_build_failure(config: Config, state: State, group: str) -> bool:
    """Since 2.6.35, nfnetlink_set_err() returns how many sockets of the group set
    NETLINK_NO_ENOBUFS, and ctnetlink then reports the event as failed if there is one."""
    if not variant_of(config.variant).build_failure_reports:
        return False
    return any(
        sock.open and group in listener.groups and listener.no_enobufs
        for sock, listener in zip(state.kernel.sockets, config.listeners, strict=True)
    )


def ctnetlink_expect_event(config: Config, state: State, msg: Message) -> State:
    """Send a new-expectation message; the result is ignored (best effort, no retry)."""
    if not has_listeners(config, state.kernel, GROUP_EXPECT):
        return state
    if state.kernel.build_fail_armed:
        return _build_failure(config, state, GROUP_EXPECT)
    state, _ = _multicast(config, state, msg, GROUP_EXPECT, 0)
    return state
