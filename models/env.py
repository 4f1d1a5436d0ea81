"""Environment steps: what userspace, the network and time do. None of this is kernel code.

Each is an action of the registry with an `env_` prefix. Reading is netlink_recvmsg() with
skb_recv_datagram() and netlink_rcv_wake() (net/netlink/af_netlink.c, 2.6.31): a pending sk_err
is returned first, and a read that leaves the queue empty clears the congested bit.
"""

from __future__ import annotations

from nfct_spec.models import observers
from nfct_spec.models.config import Config
from nfct_spec.models.core import death_by_timeout_now
from nfct_spec.models.redelivery import nf_ct_delete
from nfct_spec.models.state import (
    CT_TIMER,
    NO_TIMER,
    SOCK_CONGESTED,
    SOCK_QUEUE,
    SOCK_SK_ERR,
    Kernel,
    Socket,
    State,
    evolve,
    new_state,
    set_field,
    with_kernel,
    with_socket,
)
from nfct_spec.models.variants import variant_of


def _listener(config: Config, name: str) -> int | None:
    try:
        return config.listener_index(name)
    except KeyError:
        return None


def env_recv(config: Config, state: State, listener: str) -> State | None:
    """The listener calls recv() once: it gets ENOBUFS if sk_err is set, else one message.

    Enabled when the socket is open and has an error or a message pending. The observers note
    what was read; a freed conntrack whose last queued message this was is forgotten.
    """
    i = _listener(config, listener)
    if i is None:
        return None
    sock = state.kernel.sockets[i]
    if not sock.open or not (sock.sk_err or sock.queue):
        return None
    ghost = state.ghost
    if sock.sk_err:
        sock = set_field(sock, SOCK_SK_ERR, False)
    else:
        msg, rest = sock.queue[0], sock.queue[1:]
        sock = set_field(sock, SOCK_QUEUE, rest)
        if not msg.expect and ghost.level:
            ghost = observers.read(ghost, i, msg.uid, msg.bits)
    if not sock.queue:
        sock = set_field(sock, SOCK_CONGESTED, False)
    kernel = with_socket(state.kernel, i, sock)
    return new_state(kernel, _collect(kernel, ghost))


def _collect(kernel: Kernel, ghost: observers.Ghost) -> observers.Ghost:
    if not ghost.level & observers.RECEIPTS:
        return ghost
    return observers.collect(ghost, observers.referenced_uids([s.queue for s in kernel.sockets]))


def env_listener_close(config: Config, state: State, listener: str) -> State | None:
    """The listener process closes its socket: the queue and its error go with it.

    Enabled when the config allows listener churn and the socket is open.
    """
    i = _listener(config, listener)
    if i is None or not config.listener_churn or not state.kernel.sockets[i].open:
        return None
    kernel = with_socket(state.kernel, i, Socket(open=False))
    return new_state(kernel, _collect(kernel, state.ghost))


def env_listener_open(config: Config, state: State, listener: str) -> State | None:
    """The listener (re)opens its socket with its configured options; its observers start
    afresh (it is owed nothing created before, and has read nothing).

    Enabled when the config allows listener churn and the socket is closed.
    """
    i = _listener(config, listener)
    if i is None or not config.listener_churn or state.kernel.sockets[i].open:
        return None
    kernel = with_socket(state.kernel, i, Socket(open=True))
    return new_state(kernel, observers.opened(state.ghost, i))


def env_sysctl_write(config: Config, state: State, name: str, value: int) -> State | None:
    """Root writes a sysctl: `nf_conntrack_events` (2.6.31 and 6.x; 2 = auto in 6.x) or the
    retry timeout (2.6.31 only).

    Enabled for the (name, value) pairs the config lists, when the variant has the sysctl and
    the value differs, and while the namespace lives (its sysctls go with it; no process is
    left in it to write them). proc_dointvec accepts any int; negative values are left out.
    """
    if (name, value) not in config.sysctl_writes or state.kernel.exiting:
        return None
    variant = variant_of(config.variant)
    kernel = state.kernel
    if name == "nf_conntrack_events" and variant.events_sysctl:
        if kernel.nf_conntrack_events == value:
            return None
        return with_kernel(state, evolve(kernel, nf_conntrack_events=value))
    if name == "events_retry_timeout" and variant.retry_sysctl:
        if kernel.events_retry_timeout == value:
            return None
        return with_kernel(state, evolve(kernel, events_retry_timeout=value))
    return None


def env_fault_arm(config: Config, state: State) -> State | None:
    """The next netlink message allocation will fail (GFP_ATOMIC under memory pressure).

    Enabled when the config lists the `build_failure` fault and none is armed.
    """
    if "build_failure" not in config.faults or state.kernel.build_fail_armed:
        return None
    return with_kernel(state, evolve(state.kernel, build_fail_armed=True))


def env_tick(config: Config, state: State) -> State | None:
    """One tick passes: every pending timer counts down by one.

    Enabled when something counts down and nothing urgent is due. In 2.6.x an expired timer's
    handler runs before time moves on (timers are urgent), so a retry fires at the latest at
    its bound. In 6.x a conntrack's timeout only marks it expired (it stays at 0 until the gc
    or a lookup reaps it) and the delayed ecache worker is the urgent one. With the
    abstraction `Config.retry_untimed`, what retries a DESTROY is untimed: the retry timers of
    dying-list conntracks (2.6.31) neither count down nor hold the tick back, and neither does
    the 6.x worker, which is then scheduled at 0 (`redelivery.worker_delay`).
    """
    kernel = state.kernel
    gc = variant_of(config.variant).gc_expiry
    untimed = config.retry_untimed
    still = kernel.dying if untimed else ()
    timers = [
        ct.timer
        for slot, ct in enumerate(kernel.cts)
        if ct is not None and ct.timer != NO_TIMER and slot not in still
    ]
    counting = any(t > 0 for t in timers) or (kernel.worker > 0 and not untimed)
    due = (kernel.worker == 0 and not untimed) or (not gc and 0 in timers)
    if not counting or due:
        return None
    cts = tuple(
        set_field(ct, CT_TIMER, ct.timer - 1)
        if ct is not None and ct.timer > 0 and slot not in still
        else ct
        for slot, ct in enumerate(kernel.cts)
    )
    worker = kernel.worker - 1 if kernel.worker > 0 else kernel.worker
    return with_kernel(state, evolve(kernel, cts=cts, worker=worker))


def env_netns_exit(config: Config, state: State, order: tuple[int, ...]) -> State | None:
    """The conntracks' network namespace exits (`ip netns del` drops its last reference):
    cleanup_net() runs the pernet exit methods, and the conntrack part up to the end of the
    first pass of its cleanup loop is this one step; `order` is the hash table's order, in
    which the loop kills.

    Enabled once, when the config allows it (`Config.netns_exit`) and no packet is in flight
    (no unconfirmed conntrack: nf_conntrack_cleanup() first waits in synchronize_net() for the
    packets that are passing netfilter). Afterwards nothing enters the namespace: no packet
    (its devices are gone), no request, no sysctl write. The listeners are in another
    namespace that survives and keep reading.

    2.6.30 and 2.6.31, nf_conntrack_cleanup_net(): `i_see_dead_people:
    nf_ct_iterate_cleanup(net, kill_all, NULL); nf_ct_release_dying_list(); if
    (atomic_read(&net->ct.count) != 0) { schedule(); goto i_see_dead_people; }`. The iterator
    steals each hashed conntrack's timer (del_timer()) and runs death_by_timeout() on it: the
    DESTROY goes through the one global event callback to the listeners of init_net, and in
    2.6.31 a failure puts the conntrack on this namespace's dying list with its retry timer.
    nf_ct_release_dying_list() walks `init_net.ct.dying`, not this namespace's list, so the
    held conntracks keep retrying (`death_by_event`) until their DESTROY is delivered, and the
    loop waits for them: the later passes find an empty table and are not steps of their own.

    6.x: ctnetlink_net_pre_exit() first removes the namespace's event callback
    (nf_conntrack_unregister_notifier()); nf_conntrack_cleanup_net_list() then kills every
    hashed conntrack with nf_ct_iterate_cleanup_net(kill_all) -> nf_ct_delete(), whose DESTROY
    report returns 0 without a callback, so each is freed with no message. The held
    conntracks stay on the redelivery list until the delayed worker runs (`ecache_work`, still
    scheduled: nf_conntrack_ecache_pernet_fini() cancels it only after the count reached 0); it
    "delivers" each to no callback and frees it. No DESTROY of the namespace reaches a
    listener after the exit began.

    Left out: init_net's own conntracks and dying list (the model has one namespace: in
    2.6.31 nf_ct_release_dying_list() calls nf_ct_kill() on init_net's held conntracks while
    holding nf_conntrack_lock, see the history page), expectations and helpers, the namespace's
    memory after the loop ends (6.x: nf_conntrack_ecache_pernet_fini()'s cancel of the worker,
    whose last run finds the list empty anyway), and module unload (which runs the same loop
    on init_net with ctnetlink already gone).
    """
    kernel = state.kernel
    if not config.netns_exit or kernel.exiting or kernel.unconfirmed:
        return None
    if sorted(order) != list(kernel.hash):
        return None
    state = with_kernel(state, evolve(kernel, exiting=True))
    mainline = variant_of(config.variant).single_winner_delete
    for slot in order:
        if mainline:
            state, _ = nf_ct_delete(config, state, slot, 0, False)
        else:
            state = death_by_timeout_now(config, state, slot)
        if state.kernel.crashed:
            break
    return state
