"""The kernel helpers shared by the Z3 builders, mirroring `nfct_spec.models` function by function.

Each helper rewrites a `Sym` under its path condition exactly as the model's helper of the same
name rewrites a `State`, on the projected fields (see `nfct_spec.spec.vocab`). Conntracks are
memory slots: an allocation takes the free slot its step names and starts the slot's observers
afresh (`nfct_spec.models.observers.allocated`), and a free clears them (the freed instance's
record leaves the abstract view; what the action properties need of it is noted first, see
`Sym.note_free`). Sends are
modelled with the sockets' queue lengths, congestion and options, so whether a send fails is
decided as in the model (netlink_broadcast_deliver(): room and not congested), not guessed.
Where the variants differ, a helper branches on the same `Variant` flag as the model's helper
(Python `if`, since the variant is fixed when a relation is built). The 6.x helpers (Linux
6.18: nf_ct_delete(), nf_conntrack_ecache_work(), ecache_work_evict_list()) mirror
`nfct_spec.models.redelivery`.
"""

from __future__ import annotations

from nfct_spec.models.bits import (
    GROUP_DESTROY,
    GROUP_EXPECT,
    GROUP_NEW,
    GROUP_UPDATE,
    IPCT_DESTROY,
    IPCT_NEW,
)
from nfct_spec.models.state import (
    CRASH_MOD_ZERO,
    CRASH_USE_AFTER_FREE,
    DEADLOCK_DYING_LOCK,
    NO_TIMER,
)
from nfct_spec.proofs.params import Flags, Params
from nfct_spec.proofs.sym import Sym
from nfct_spec.proofs.vocab import FIELDS
from nfct_spec.spec.terms import And, If, Not, Or, Term, clear, count, has
from nfct_spec.spec.vocab import CRASH_CODES, pc_code

CT_FIELDS = [f for f in FIELDS if f.owners == frozenset({"kernel.cts"})]
PUTS = (pc_code("put"), pc_code("put_base"))


def on_list(s: Sym, uid: Term, place: str) -> Term:
    """`uid` names an allocated conntrack on the list `place` (inU, inH or inD)."""
    return And(uid >= 0, uid < len(s.get("alloc")), s.at("alloc", uid), s.at(place, uid))


def hashed_of_flow(s: Sym, uid: Term, flow: Term) -> Term:
    """`uid` names the hashed conntrack of `flow` (the pick of a lookup by tuple)."""
    return And(on_list(s, uid, "inH"), s.at("flow", uid) == flow)


def some_hashed(s: Sym) -> Term:
    """Some conntrack is hashed."""
    return Or(*[And(a, h) for a, h in zip(s.get("alloc"), s.get("inH"), strict=True)])


def requester_ok(s: Sym, p: Params, portid: Term) -> Term:
    """`ctnetlink.requester_ok`: the port id is an open listener's or a tool's."""
    listener = Or(*[And(portid == i + 1, i < p.nl, s.at("open", i)) for i in range(len(p.be))])
    tool = And(portid > p.nl, portid <= p.nl + p.ntools)
    return Or(listener, tool)


def death_by_event_send(s: Sym, p: Params, f: Flags, uid: Term) -> Term:
    """The body of 2.6.31 death_by_event() up to its unlink, shared by the retry timer, by
    nf_ct_kill() on a dying conntrack and by nf_ct_release_dying_list(): the retry is taken,
    DESTROY sent again (the remembered pid), the retry re-armed on failure (a timeout of 0
    crashes) and DYING set on success. Returns whether the send failed."""
    s.put("timer", NO_TIMER, uid)
    failed = eventmask_report(s, p, f, uid, IPCT_DESTROY, 0, False)
    with s.when(failed):
        arm_retry_timer(s, uid)
    with s.when(Not(failed)):
        s.put("dbit", True, uid)
    return failed


def smp(s: Sym) -> bool:
    """The state has CPUs (granularity smp: calls in progress and reference counts)."""
    return len(s.get("cfn")) > 0


def frees_in_use(s: Sym, uid: Term) -> Term:
    """smp: freeing `uid` now is a use after free (`lists.nf_conntrack_free`): the reference
    dropped is the last, and a call still works on it without one of its own."""
    if not smp(s):
        return False
    return And(s.at("refs", uid) <= 1, works_on(s, uid))


def crash(s: Sym, reason: str) -> None:
    """The kernel faults with `reason` (a `CRASH_*` of `nfct_spec.models.state`)."""
    s.put("crashed", True)
    s.put("crash", CRASH_CODES.index(reason) + 1)


def works_on(s: Sym, uid: Term) -> Term:
    """smp: a call in progress works on `uid` and is not at a put (so it still reads it)."""
    return Or(
        *[
            And(cfn != 0, cslot == uid, cpc != PUTS[0], cpc != PUTS[1])
            for cfn, cslot, cpc in zip(s.get("cfn"), s.get("cslot"), s.get("cpc"), strict=True)
        ]
    )


def group_of(bits: Term) -> dict[str, Term]:
    """ct_group(): DESTROY, else NEW, else UPDATE (one group per message)."""
    des = has(bits, IPCT_DESTROY)
    new = And(Not(des), has(bits, IPCT_NEW))
    return {GROUP_DESTROY: des, GROUP_NEW: new, GROUP_UPDATE: And(Not(des), Not(new))}


def subscribed(p: Params, i: int, groups: dict[str, Term]) -> Term:
    """Listener slot i is in the message's group."""
    return Or(*[And(cond, p.sub_of(g, i)) for g, cond in groups.items()])


def listening(s: Sym, p: Params, i: int, groups: dict[str, Term]) -> Term:
    """Slot i is a configured, open socket in the group."""
    return And(i < p.nl, s.at("open", i), subscribed(p, i, groups))


def has_listeners(s: Sym, p: Params, groups: dict[str, Term]) -> Term:
    """nfnetlink_has_listeners()."""
    return Or(*[listening(s, p, i, groups) for i in range(len(p.be))])


def accepts(s: Sym, p: Params, i: int) -> Term:
    """netlink_broadcast_deliver(): room in the buffer and not congested."""
    return And(s.at("qlen", i) < p.cap[i], Not(s.at("cong", i)))


def queue(s: Sym, i: int, uid: Term, destroy: Term) -> None:
    """Append a message to socket i (a DESTROY of `uid` is remembered in hasD)."""
    s.put("qlen", s.at("qlen", i) + 1, i)
    with s.when(destroy):
        s.put("hasD", True, i, uid)


def overrun(s: Sym, p: Params, i: int) -> None:
    """netlink_overrun(): without NO_ENOBUFS mark congested and set sk_err."""
    with s.when(And(Not(p.noenob[i]), Not(s.at("cong", i)))):
        s.put("cong", True, i)
        s.put("skerr", True, i)


def multicast(
    s: Sym, p: Params, uid: Term, destroy: Term, groups: dict[str, Term], exclude: Term
) -> tuple[Term, Term]:
    """netlink_broadcast() over the listener slots in order: (some BE socket overran, some
    socket took it). `exclude` is the requester's listener slot or -1."""
    failure: Term = False
    delivered: Term = False
    for i in range(len(p.be)):
        active = And(s.pc, listening(s, p, i, groups), exclude != i)
        ok = accepts(s, p, i)
        with s.when(And(active, ok)):
            queue(s, i, uid, destroy)
        with s.when(And(active, Not(ok))):
            overrun(s, p, i)
        failure = Or(failure, And(active, Not(ok), p.be[i]))
        delivered = Or(delivered, And(active, ok))
    return failure, delivered


def unicast(s: Sym, p: Params, uid: Term, destroy: Term, slot: Term) -> Term:
    """nlmsg_unicast() of the echo to listener `slot`: True when it fails (-EAGAIN)."""
    failed: Term = False
    for i in range(len(p.be)):
        here = And(slot == i, i < p.nl, s.at("open", i))
        ok = accepts(s, p, i)
        with s.when(And(here, ok)):
            queue(s, i, uid, destroy)
        with s.when(And(here, Not(ok))):
            overrun(s, p, i)
        failed = Or(failed, And(here, Not(ok)))
    return failed


def build_failure(s: Sym, p: Params, f: Flags, groups: dict[str, Term]) -> None:
    """nfnetlink_set_err(): every open socket of the group gets sk_err (since 2.6.35 except
    those with NETLINK_NO_ENOBUFS); the fault is used up."""
    for i in range(len(p.be)):
        skipped = And(f.build_failure_reports, p.noenob[i])
        with s.when(And(listening(s, p, i, groups), Not(skipped))):
            s.put("skerr", True, i)
    s.put("bfa", False)


def reports_build_failure(s: Sym, p: Params, f: Flags, groups: dict[str, Term]) -> Term:
    """Since 2.6.35 nfnetlink_set_err() counts the group's sockets with NETLINK_NO_ENOBUFS and
    ctnetlink reports the event as failed if there is one; 2.6.31 reports success."""
    if not f.build_failure_reports:
        return False
    return Or(*[And(listening(s, p, i, groups), p.noenob[i]) for i in range(len(p.be))])


def conntrack_event(
    s: Sym, p: Params, f: Flags, uid: Term, bits: Term, portid: Term, report: Term
) -> Term:
    """ctnetlink_conntrack_event(): True when the send fails (ret < 0)."""
    groups = group_of(bits)
    destroy = groups[GROUP_DESTROY]
    go = Or(report, has_listeners(s, p, groups))
    armed = s.get("bfa")
    unbuilt = And(s.pc, go, armed, reports_build_failure(s, p, f, groups))
    with s.when(And(go, armed)):
        build_failure(s, p, f, groups)
    slot = If(report, portid - 1, -1)
    failed: Term = False
    with s.when(And(go, Not(armed))):
        mfail, _ = multicast(s, p, uid, destroy, groups, slot)
        with s.when(report):
            ufail = unicast(s, p, uid, destroy, slot)
        failed = And(s.pc, go, Not(armed), Or(mfail, And(report, ufail)))
    return Or(unbuilt, failed)


def expect_event(s: Sym, p: Params, f: Flags, uid: Term) -> None:
    """ctnetlink_expect_event(): best effort to the expect group."""
    groups = {GROUP_EXPECT: True}
    go = has_listeners(s, p, groups)
    armed = s.get("bfa")
    with s.when(And(go, armed)):
        build_failure(s, p, f, groups)
    with s.when(And(go, Not(armed))):
        multicast(s, p, uid, False, groups, -1)


def send(s: Sym, p: Params, f: Flags, uid: Term, bits: Term, portid: Term, report: Term) -> Term:
    """ecache's _send(): note the reporter, send, and on success mark the bits delivered."""
    s.put("rep", True, uid)
    failed = conntrack_event(s, p, f, uid, bits, portid, report)
    with s.when(Not(failed)):
        s.put("pend", clear(s.at("pend", uid), bits), uid)
    return failed


def confirmed(s: Sym, uid: Term) -> Term:
    """In the hash table or on the dying list; smp: also between a call's unhash and its
    dying-list insertion (IPS_CONFIRMED is never cleared), so every allocated conntrack that
    is not unconfirmed."""
    if smp(s):
        return Not(s.at("inU", uid))
    return Or(s.at("inH", uid), s.at("inD", uid))


def eventmask_report(
    s: Sym, p: Params, f: Flags, uid: Term, eventmask: int, portid: Term, report: Term
) -> Term:
    """nf_conntrack_eventmask_report(): True when the send failed.

    6.x sends for a dying conntrack too (nf_ct_delete() sets DYING before the DESTROY) and ORs
    every failed event into `missed`, the remembered pid included."""
    live = And(s.at("alloc", uid), s.at("ecache", uid), confirmed(s, uid))
    if not f.single_winner_delete and not p.era.ecache_destroy_state:
        live = And(live, Not(s.at("dbit", uid)))
    failed: Term = False
    with s.when(live):
        if not f.missed_cache:
            failed = And(s.pc, send(s, p, f, uid, eventmask, portid, report))
        else:
            pid = s.at("pid", uid)
            item_pid = If(pid != 0, pid, portid)
            missed = If(pid != 0, 0, s.at("missed", uid))
            sent = eventmask | missed
            ret = send(s, p, f, uid, sent, item_pid, report)
            with s.when(ret):
                keep_pid = (eventmask & IPCT_DESTROY) != 0
                remember = And(keep_pid, pid == 0, portid != 0)
                with s.when(remember):
                    s.put("pid", portid, uid)
                with s.when(Or(f.single_winner_delete, Not(remember))):
                    s.put("missed", s.at("missed", uid) | eventmask, uid)
            with s.when(Not(ret)):
                s.put("missed", clear(s.at("missed", uid), missed), uid)
            failed = And(s.pc, ret)
    return failed


def deliver_cached_events(s: Sym, p: Params, f: Flags, uid: Term) -> None:
    """nf_ct_deliver_cached_events(): send cache (| missed), cache becomes 0. 2.6.31 sends only
    when the cache holds new bits; 6.x whenever `cache | missed` is non-empty."""
    with s.when(And(s.at("alloc", uid), s.at("ecache", uid))):
        events = s.at("cache", uid)
        s.put("cache", 0, uid)
        missed = s.at("missed", uid)
        due = Or(events != 0, And(f.missed_every_packet, missed != 0))
        with s.when(And(confirmed(s, uid), Not(s.at("dbit", uid)), due)):
            if not f.missed_cache:
                send(s, p, f, uid, events, 0, False)
                return
            failed = send(s, p, f, uid, events | missed, 0, False)
            with s.when(failed):
                s.put("missed", s.at("missed", uid) | events, uid)
            with s.when(Not(failed)):
                s.put("missed", clear(s.at("missed", uid), missed), uid)


def event_cache(s: Sym, uid: Term, bits: Term) -> None:
    """nf_conntrack_event_cache(): OR bits into cache; the ghost marks them pending."""
    with s.when(And(s.at("ecache", uid), bits != 0)):
        s.put("cache", s.at("cache", uid) | bits, uid)
        s.put("pend", s.at("pend", uid) | bits, uid)


def note_death(s: Sym, uid: Term) -> None:
    """Ghost: the first death of a conntrack raises DESTROY (if it has an event cache)."""
    with s.when(Not(s.at("dead", uid))):
        s.put("dead", True, uid)
        with s.when(And(s.at("alloc", uid), s.at("ecache", uid))):
            s.put("pend", s.at("pend", uid) | IPCT_DESTROY, uid)


def delete_from_lists(s: Sym, uid: Term) -> None:
    """nf_ct_delete_from_lists(): unhash (and leave the unconfirmed list)."""
    s.put("inH", False, uid)
    s.put("inU", False, uid)


def free(s: Sym, uid: Term) -> None:
    """nf_conntrack_free(): off every list, slot emptied, count decremented; the instance's
    observer record leaves the abstract view (noted first for the action properties), so the
    slot's observer fields are cleared (`observers.freed`).

    smp (`lists.nf_conntrack_free`): this drops the owner's reference; while a call holds one
    of its own the conntrack is only unlinked, and freeing one that a call still works on
    without a reference is a use after free."""
    if not smp(s):
        _free_now(s, uid)
        return
    refs = s.at("refs", uid)
    shared = refs > 1
    in_use = frees_in_use(s, uid)
    with s.when(shared):
        for name in ("inH", "inU", "inD"):
            s.put(name, False, uid)
        s.put("dpos", -1, uid)
        s.put("refs", refs - 1, uid)
    with s.when(in_use):
        crash(s, CRASH_USE_AFTER_FREE)
    with s.when(And(Not(shared), Not(in_use))):
        s.put("refs", 0, uid)
        _free_now(s, uid)


def _free_now(s: Sym, uid: Term) -> None:
    s.note_free(uid)
    for fld in CT_FIELDS:
        s.put(fld.name, fld.default, uid)
    for name in ("inH", "inU", "inD"):
        s.put(name, False, uid)
    s.put("dpos", -1, uid)
    s.put("count", s.get("count") - 1)
    fresh_observers(s, uid, [False] * len(s.get("owed")))


def fresh_observers(s: Sym, uid: Term, owed: list[Term]) -> None:
    """The slot's observer fields of a fresh record (`owed` per listener), or of none."""
    s.put("pend", 0, uid)
    s.put("rep", False, uid)
    s.put("dead", False, uid)
    for i, owed_i in enumerate(owed):
        s.put("hasD", False, i, uid)
        s.put("owed", owed_i, i, uid)


def free_dying(s: Sym, uid: Term) -> None:
    """nf_conntrack_free() of a conntrack on the dying list (2.6.31 death_by_event(), 6.x
    ecache_work()): leaving the list closes the gap, the entries nearer the head move one
    position towards the tail. Every other free is of a hashed or unconfirmed conntrack.
    smp: unless the free is a use after free (the model then stops with the lists as they
    were)."""
    pos = s.at("dpos", uid)
    with s.when(Not(frees_in_use(s, uid))):
        for v in range(len(s.get("alloc"))):
            with s.when(And(s.at("inD", v), s.at("dpos", v) > pos)):
                s.put("dpos", s.at("dpos", v) - 1, v)
    free(s, uid)


def add_head_dying(s: Sym, uid: Term) -> None:
    """hlist_nulls_add_head_rcu() onto the dying list: the newcomer is the head, one position
    above the entries already there (nf_ct_insert_dying_list() in 2.6.31,
    nf_ct_add_to_ecache_list() in 6.x)."""
    s.put("dpos", count(s.get("inD")), uid)
    s.put("inD", True, uid)


def arm_retry_timer(s: Sym, uid: Term) -> None:
    """Retry timer at its bound, or the crash of random32() % 0."""
    retry = s.get("retry")
    with s.when(retry <= 0):
        s.put("timer", NO_TIMER, uid)
        crash(s, CRASH_MOD_ZERO)
    with s.when(retry > 0):
        s.put("timer", retry - 1, uid)


def insert_dying_list(s: Sym, uid: Term) -> None:
    """nf_ct_insert_dying_list(): at the head of the dying list, with the retry timer armed."""
    add_head_dying(s, uid)
    arm_retry_timer(s, uid)


def death_by_timeout_now(s: Sym, p: Params, f: Flags, uid: Term) -> None:
    """death_by_timeout() on a hashed conntrack whose timer was stolen (in the smp eras of 3.17
    and later nf_ct_delete(): `dying_list_add`, the ecache work kicked after a delivered
    DESTROY, and with `delete_test_and_set_dying` DYING set first)."""
    already = s.at("dbit", uid)
    note_death(s, uid)
    s.put("timer", NO_TIMER, uid)
    if p.era.delete_test_and_set_dying:
        s.put("dbit", True, uid)
    failed: Term = False
    with s.when(Not(already)):
        failed = And(Not(already), eventmask_report(s, p, f, uid, IPCT_DESTROY, 0, False))
        if f.reliable:
            with s.when(failed):
                delete_from_lists(s, uid)
                dying_list_add(s, p, uid)
        with s.when(Not(failed)):
            ecache_work_kick(s, p)
    keep = failed if f.reliable else False
    with s.when(Not(keep)):
        s.put("dbit", True, uid)
        free(s, uid)


def dying_list_add(s: Sym, p: Params, uid: Term) -> None:
    """`lists.nf_ct_dying_list_add`: the retry timer of 2.6.31, or with `retry_by_worker` (3.17
    to 4.8) the head of the dying list and the ecache work scheduled unless it is pending."""
    if not p.era.retry_by_worker:
        insert_dying_list(s, uid)
        return
    add_head_dying(s, uid)
    schedule_on_failure(s, p)


def ecache_work_kick(s: Sym, p: Params) -> None:
    """`lists.nf_conntrack_ecache_work` (`retry_by_worker`): after a delivered DESTROY a pending
    work runs at once and ecache_dwork_pending is cleared."""
    if not p.era.retry_by_worker:
        return
    with s.when(s.get("dwork_pending")):
        s.put("worker", 0)
        s.put("dwork_pending", False)


def wants_ecache(s: Sym, p: Params, f: Flags) -> Term:
    """nf_ct_ecache_ext_add(): 2.6.30 always; 2.6.31 if `nf_conntrack_events` is on; 6.x also
    in auto mode (2) if some open socket listens to a ctnetlink conntrack group."""
    events = s.get("events")
    if not f.events_sysctl:
        return True
    if not f.events_auto:
        return events != 0
    groups = (GROUP_NEW, GROUP_UPDATE, GROUP_DESTROY)
    listener = Or(
        *[
            And(i < p.nl, s.at("open", i), Or(*[p.sub_of(g, i) for g in groups]))
            for i in range(len(p.be))
        ]
    )
    return If(events == 2, listener, events != 0)


def allocate(s: Sym, p: Params, f: Flags, slot: Term, flow: Term) -> None:
    """init_conntrack() after the limit check: a new unconfirmed conntrack in the free memory
    slot `slot`, with NEW cached; no allocation waits any more. The slot's observers start
    afresh (`observers.allocated`): nothing pending or reported, not dying, no DESTROY seen,
    and owed to every listener open now."""
    ecache = wants_ecache(s, p, f)
    for fld in CT_FIELDS:
        s.put(fld.name, fld.default, slot)
    s.put("alloc", True, slot)
    s.put("flow", flow, slot)
    s.put("ecache", ecache, slot)
    s.put("inU", True, slot)
    if smp(s):
        s.put("refs", 1, slot)
    s.put("apend", -1)
    s.put("aslot", -1)
    fresh_observers(s, slot, [And(i < p.nl, s.at("open", i)) for i in range(len(p.be))])
    event_cache(s, slot, IPCT_NEW)


def schedule_on_failure(s: Sym, p: Params) -> None:
    """nf_conntrack_ecache_work(NFCT_ECACHE_DESTROY_FAIL): unless the work is already pending,
    schedule it in `worker_first_delay` ticks (HZ) and set ecache_dwork_pending."""
    with s.when(s.get("worker") < 0):
        s.put("worker", p.worker_first_delay)
        s.put("dwork_pending", True)


def kick_on_success(s: Sym) -> None:
    """nf_conntrack_ecache_work(NFCT_ECACHE_DESTROY_SENT): run the worker at once if the
    redelivery list is not empty (mod_delayed_work(..., 0)), else clear ecache_dwork_pending."""
    waiting = Or(*s.get("inD"))
    with s.when(waiting):
        s.put("worker", 0)
    with s.when(Not(waiting)):
        s.put("dwork_pending", False)


def nf_ct_delete(s: Sym, p: Params, f: Flags, uid: Term, portid: Term, report: Term) -> Term:
    """6.x nf_ct_delete(): True when the conntrack was freed with its DESTROY delivered.

    test_and_set_bit(IPS_DYING_BIT) first (a second deleter does nothing); one DESTROY; on
    failure unhash, add at the head of the redelivery list and schedule the worker; on success
    kick a pending worker, unhash and free."""
    winner = Not(s.at("dbit", uid))
    freed: Term = False
    with s.when(winner):
        note_death(s, uid)
        s.put("dbit", True, uid)
        s.put("timer", NO_TIMER, uid)
        failed = eventmask_report(s, p, f, uid, IPCT_DESTROY, portid, report)
        with s.when(failed):
            delete_from_lists(s, uid)
            add_head_dying(s, uid)
            schedule_on_failure(s, p)
        with s.when(Not(failed)):
            with s.when(s.get("dwork_pending")):
                kick_on_success(s)
            free(s, uid)
        freed = And(s.pc, Not(failed))
    return freed


def dying_at(s: Sym, pos: Term) -> tuple[Term, Term]:
    """(some conntrack is at position `pos` of the dying list, its slot)."""
    n = len(s.get("alloc"))
    here = [And(s.at("inD", u), s.at("dpos", u) == pos) for u in range(n)]
    slot: Term = n - 1
    for u in range(n - 2, -1, -1):
        slot = If(here[u], u, slot)
    return Or(*here), slot


def ecache_work_evict_list(s: Sym, p: Params, f: Flags) -> Term:
    """ecache_work_evict_list(): re-send DESTROY from the head of the redelivery list; returns
    the worker's next delay (-1: done).

    A failure stops the walk (STATE_CONGESTED: ECACHE_RETRY_JIFFIES). As shipped, the inverted
    time_after(stop, jiffies) test stops it after the first success too (STATE_RESTART: 0);
    with `ecache_work_fixed` it goes on to the end of the list (STATE_DONE). The delivered
    entries are put (freed) after the walk. The batch end (`Config.ecache_batch`) needs no
    term as released: the worker drops dying_lock there and takes it again, and the walk goes
    on from the head of the list, which is its next entry. The version under review
    (`worker_relocks_twice`, `Era.ecache_batch`) takes the lock twice there: the walk stops in
    the state it started from, deadlocked (`redelivery.ecache_work`)."""
    n = len(s.get("alloc"))
    size = count(s.get("inD"))
    walking: Term = True
    delay: Term = -1
    delivered: list[tuple[Term, Term]] = []
    start = dict(s.v)
    relocked: Term = False
    for j in range(n):
        here, uid = dying_at(s, size - 1 - j)
        step = And(walking, here)
        failed: Term = False
        with s.when(step):
            failed = eventmask_report(s, p, f, uid, IPCT_DESTROY, 0, False)
        ok = And(step, Not(failed))
        delay = If(And(step, failed), p.worker_retry_delay, delay)
        delay = If(And(ok, Not(p.ecache_work_fixed)), 0, delay)
        delivered.append((ok, uid))
        walking = And(ok, p.ecache_work_fixed)
        if p.era.worker_relocks_twice and (j + 1) % p.era.ecache_batch == 0:
            # The review version takes dying_lock again at the batch end: it spins for ever.
            relocked = Or(relocked, walking)
            walking = And(walking, Not(relocked))
    for ok, uid in delivered:
        with s.when(ok):
            free_dying(s, uid)
    if p.era.worker_relocks_twice:
        _deadlock_at_start(s, relocked, start)
    return If(relocked, -1, delay)


def _deadlock_at_start(s: Sym, relocked: Term, start: dict[str, object]) -> None:
    """`redelivery.ecache_work` with `worker_relocks_twice`: the model stops in the state the
    run started from (the worker taken off), with the dying-lock deadlock."""
    for name in sorted(s.written):
        s.v[name] = _merge(relocked, start[name], s.v[name])
    with s.when(relocked):
        crash(s, DEADLOCK_DYING_LOCK)


def _merge(cond: Term, old: object, new: object) -> object:
    if isinstance(old, list):
        assert isinstance(new, list)
        return [_merge(cond, a, b) for a, b in zip(old, new, strict=True)]
    return If(cond, old, new)
