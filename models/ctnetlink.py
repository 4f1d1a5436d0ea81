"""Deletions requested from userspace over ctnetlink: one conntrack, or all of them.

Abstracts ctnetlink_del_conntrack() (net/netfilter/nf_conntrack_netlink.c) and
nf_conntrack_flush_report() with kill_report(), nf_ct_iterate_cleanup() and get_next_corpse()
(net/netfilter/nf_conntrack_core.c), Linux 2.6.31. The requester is a process with a netlink
port id: the `conntrack` tool, or one of the listeners, which then asks for an echo
(NLM_F_ECHO) and receives the DESTROY on its own socket as part of the send.
"""

from __future__ import annotations

from nfct_spec.models.bits import IPCT_DESTROY
from nfct_spec.models.config import Config
from nfct_spec.models.core import death_by_timeout_now
from nfct_spec.models.ecache import nf_conntrack_eventmask_report
from nfct_spec.models.lists import (
    nf_conntrack_free,
    nf_ct_delete_from_lists,
    nf_ct_insert_dying_list,
    note_death,
    set_dying_bit,
)
from nfct_spec.models.redelivery import nf_ct_delete
from nfct_spec.models.state import (
    CT_TIMER,
    NO_TIMER,
    State,
    set_ct,
    set_field,
)
from nfct_spec.models.variants import variant_of


def requester_ok(config: Config, state: State, requester: str) -> bool:
    """A request comes from the tool or from an open listener socket, and reaches the
    modelled namespace.

    With `Config.netns_exit` the listeners are in another namespace. 6.x: a request acts on
    the namespace of the socket it came by (sock_net()), so only the tool, run inside the
    namespace, reaches it. 2.6.30 and 2.6.31: the namespace is then not init_net, and
    ctnetlink_del_conntrack() looks the tuple up, and flushes, in init_net only
    (nf_conntrack_find_get(&init_net, ...), nf_conntrack_flush_report(&init_net, ...)): no
    request reaches it."""
    if config.netns_exit:
        return variant_of(config.variant).netns_ctnetlink and requester in config.requesters
    if requester in config.requesters:
        return True
    try:
        i = config.listener_index(requester)
    except KeyError:
        return False
    return state.kernel.sockets[i].open


def echo_of(config: Config, requester: str) -> bool:
    """A listener that requests asks for an echo (NLM_F_ECHO); the tool does not."""
    return requester not in config.requesters


def ctnetlink_del_conntrack(
    config: Config, state: State, flow: int, requester: str
) -> State | None:
    """`conntrack -D` for one tuple: report DESTROY with the requester's pid, then kill.

    Enabled when the tuple's conntrack is hashed. 2.6.31: if the DESTROY fails, unlink it, put
    it on the dying list (its pid is remembered for the re-sends) and arm the retry timer; else
    set DYING and kill it through its timer (nf_ct_kill(), freed).

    Left out (KERNEL race of this era): the timeout timer is still pending when the retry timer
    is set up over it; the model replaces it. 2.6.30 reports once and kills. 6.x calls
    nf_ct_delete() with the requester's port id.
    """
    if not requester_ok(config, state, requester):
        return None
    slot = state.hashed_slot_of_flow(flow)
    if slot < 0:
        return None
    portid = config.portid(requester)
    if variant_of(config.variant).single_winner_delete:
        state, _ = nf_ct_delete(config, state, slot, portid, echo_of(config, requester))
        return state
    state = note_death(state, slot)
    state, ret = nf_conntrack_eventmask_report(
        config, state, slot, IPCT_DESTROY, portid, echo_of(config, requester)
    )
    ct = state.ct(slot)
    assert ct is not None
    state = set_ct(state, slot, set_field(ct, CT_TIMER, NO_TIMER))
    if ret < 0 and variant_of(config.variant).reliable:
        state = nf_ct_delete_from_lists(state, slot)
        return nf_ct_insert_dying_list(state, slot)
    state = set_dying_bit(state, slot)
    return nf_conntrack_free(state, slot)


def nf_conntrack_flush_report(
    config: Config, state: State, requester: str, order: tuple[int, ...]
) -> State | None:
    """`conntrack -F`: visit every hashed conntrack in hash order and kill it.

    `order` is the hash order, a permutation of the hashed slots (the kernel's bucket order is
    unrelated to anything the model tracks, so every order is possible). Per conntrack,
    kill_report() sends DESTROY with the requester's pid and sets DYING on success; then its
    timer is stolen and death_by_timeout() runs, which sends DESTROY a second time if the first
    failed and moves it to the dying list if that fails too. get_next_corpse() also sets DYING
    on every unconfirmed conntrack. Entries already on the dying list are not visited.

    6.x (ctnetlink_flush_conntrack()): one nf_ct_delete() per hashed conntrack, with the
    requester's port id; unconfirmed and redelivery-list entries are not visited.

    Enabled when some conntrack is hashed. Left out: conntracks hashed while the iteration runs
    (the flush is one step).
    """
    if not requester_ok(config, state, requester):
        return None
    if not state.kernel.hash or sorted(order) != sorted(state.kernel.hash):
        return None
    portid = config.portid(requester)
    echo = echo_of(config, requester)
    variant = variant_of(config.variant)
    if variant.single_winner_delete:
        for slot in order:
            state, _ = nf_ct_delete(config, state, slot, portid, echo)
        return state
    reliable = variant.reliable
    for slot in order:
        state = note_death(state, slot)
        if reliable:
            state, ret = nf_conntrack_eventmask_report(
                config, state, slot, IPCT_DESTROY, portid, echo
            )
            if ret == 0:
                state = set_dying_bit(state, slot)
        state = death_by_timeout_now(config, state, slot)
        if state.kernel.crashed:
            return state
    if variant.flush_marks_unconfirmed:
        for slot in state.kernel.unconfirmed:
            state = set_dying_bit(state, slot)
    return state
