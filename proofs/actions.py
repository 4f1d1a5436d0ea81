"""One Z3 builder per registry action, and the transition relation built from them.

A builder takes a `Sym` (the pre-state being rewritten), the parameters, the variant flags and
the step's arguments, rewrites the state as the model's action does, and returns the guard
(when the action is enabled with those arguments). `relation` then adds the frame: every field
whose owners are not in the action's registry `modifies` is unchanged, and a builder that
writes such a field is an error (`FrameError`). Arguments are terms: concrete when a model step
is checked, Z3 variables when the relation is used for proofs and BMC (then `symbolic_args`
makes them). Conntracks are named by their memory slot, as in the model's arguments; an
allocation takes the free slot its step names (`slot`), or the one its waiting allocation
reserved (early_drop). Where the model picks something by list order (the hashed conntrack of
a flow), the builder takes the pick as an argument (`hashed`) constrained to a valid choice.
A builder starts from the pre-state with its transient fields empty (the model settles a
state before each step: the previous step's freed records are gone) and notes each free there
(`Sym.note_free`), so that the action properties read how a freed instance ended in the
post-state (`destroy_owed`). The variant's
behaviour is chosen by the flags of `nfct_spec.models.variants.Variant`, as in the model's
actions; the 6.x-only actions are `gc_worker` and `ecache_work`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import z3

from nfct_spec.models.bits import GROUP_DESTROY, IPCT_DESTROY, IPCT_PROTOINFO, IPCT_STATUS
from nfct_spec.models.core import PACKETS
from nfct_spec.models.registry import ACTIONS, BY_NAME, Action, actions_for
from nfct_spec.models.state import CRASH_DEADLOCK_CONNTRACK_LOCK, NO_TIMER
from nfct_spec.proofs import kernel_z3 as k
from nfct_spec.proofs import smp_z3 as smp
from nfct_spec.proofs.params import ATOMIC, Era, Flags, Params
from nfct_spec.proofs.sym import Sym
from nfct_spec.proofs.vocab import BY_FIELD, FIELDS, TRANSIENT_FIELDS, AState, Shape, equal_fields
from nfct_spec.spec.terms import And, If, Implies, Not, Or, Term, count, sel

Builder = Callable[[Sym, Params, Flags, dict[str, Any]], Term]


class FrameError(AssertionError):
    """A builder wrote a field that its action does not declare in `modifies`."""


def _uids(s: Sym) -> range:
    return range(len(s.get("alloc")))


def nf_conntrack_in(s: Sym, p: Params, f: Flags, a: dict[str, Any]) -> Term:
    """A packet of `flow`: `new` allocates in the free memory slot `slot` (or reserves it and
    waits for early_drop); the others (with `slot` -1) refresh the flow's hashed conntrack,
    the pick `hashed`.

    6.x (`gc_expiry`): if the flow's hashed conntrack `hashed` has expired, the lookup reaps it
    (nf_ct_gc_expired() -> nf_ct_delete()) and a `new` packet goes on as for a new flow (and
    may get the reaped conntrack's memory); any other packet of an expired conntrack is not
    enabled."""
    flow, packet, slot, hashed = a["flow"], a["packet"], a["slot"], a["hashed"]
    valid = And(flow >= 0, flow < p.flows)
    expired: Term = False
    if f.gc_expiry:
        expired = And(k.hashed_of_flow(s, hashed, flow), s.at("timer", hashed) == 0)
    if packet == "new":
        with s.when(expired):
            k.nf_ct_delete(s, p, f, hashed, 0, False)
        busy = Or(
            *[
                And(s.at("alloc", u), Or(s.at("inH", u), s.at("inU", u)), s.at("flow", u) == flow)
                for u in _uids(s)
            ]
        )
        free_slot = And(
            slot >= 0, slot < p.slots, slot < len(s.get("alloc")), Not(s.at("alloc", slot))
        )
        guard = And(valid, Not(busy), free_slot)
        c = s.get("count") + 1
        s.put("count", c)
        full = And(p.limit != 0, c > p.limit)
        with s.when(full):
            s.put("apend", flow)
            s.put("aslot", slot)
        with s.when(Not(full)):
            k.allocate(s, p, f, slot, flow)
        return guard
    guard = And(valid, slot == -1, k.hashed_of_flow(s, hashed, flow), Not(expired))
    assured = s.at("assured", hashed)
    if packet == "plain":
        bits: Term = 0
    elif packet == "assure":
        guard = And(guard, p.status_bit, Not(assured))
        bits = IPCT_STATUS
    else:
        guard = And(guard, p.protoinfo_bit)
        bits = IPCT_PROTOINFO
    timer: Term = p.ct_timeout
    if p.era.smp:
        # __nf_ct_refresh_acct()'s mod_timer_pending(): a timer whose handler runs stays idle.
        timer = If(s.at("timer", hashed) != NO_TIMER, p.ct_timeout, NO_TIMER)
    s.put("timer", timer, hashed)
    if packet == "assure":
        s.put("assured", True, hashed)
    k.event_cache(s, hashed, bits)
    k.deliver_cached_events(s, p, f, hashed)
    return guard


def early_drop(s: Sym, p: Params, f: Flags, a: dict[str, Any]) -> Term:
    """Evict `victim` (or drop the packet when it is -1) for the waiting allocation, which then
    gets its reserved slot."""
    victim = a["victim"]
    flow, slot = s.get("apend"), s.get("aslot")
    waiting = flow >= 0
    none = victim == -1
    with s.when(none):
        _drop_packet(s)
    ok_victim = And(
        victim >= 0,
        victim < len(s.get("alloc")),
        s.at("alloc", victim),
        s.at("inH", victim),
        Not(s.at("assured", victim)),
    )
    if p.era.smp:
        # del_timer() fails while the victim's handler runs on another CPU (victim -1 then).
        ok_victim = And(ok_victim, s.at("timer", victim) != NO_TIMER)
    with s.when(Not(none)):
        if f.single_winner_delete:
            _admit_if_freed(s, p, f, victim, flow, slot)
        else:
            k.death_by_timeout_now(s, p, f, victim)
            with s.when(Not(s.get("crashed"))):
                k.allocate(s, p, f, slot, flow)
    return And(waiting, Or(none, ok_victim))


def _drop_packet(s: Sym) -> None:
    """No room: the count taken for the new conntrack is given back and the packet dropped
    ("table full, dropping packet"); nothing waits any more."""
    s.put("count", s.get("count") - 1)
    s.put("apend", -1)
    s.put("aslot", -1)


def _admit_if_freed(s: Sym, p: Params, f: Flags, victim: Term, flow: Term, slot: Term) -> None:
    """6.x early_drop(): the victim counts only if nf_ct_delete() freed it; otherwise the
    packet is dropped ("table full") and the victim waits on the redelivery list."""
    freed = k.nf_ct_delete(s, p, f, victim, 0, False)
    with s.when(freed):
        k.allocate(s, p, f, slot, flow)
    with s.when(Not(freed)):
        _drop_packet(s)


def nf_conntrack_confirm(s: Sym, p: Params, f: Flags, a: dict[str, Any]) -> Term:
    """Hash an unconfirmed conntrack, start its timer, send its cached events; 6.x
    (`confirm_drops_dying`) frees a conntrack that is already dying instead."""
    uid = a["slot"]
    guard = k.on_list(s, uid, "inU")
    dropped: Term = False
    if f.confirm_drops_dying:
        dropped = s.at("dbit", uid)
        with s.when(dropped):
            k.free(s, uid)
    with s.when(Not(dropped)):
        s.put("inU", False, uid)
        s.put("inH", True, uid)
        s.put("timer", p.ct_timeout, uid)
        k.deliver_cached_events(s, p, f, uid)
    return guard


def destroy_conntrack(s: Sym, p: Params, f: Flags, a: dict[str, Any]) -> Term:
    """Free an unconfirmed conntrack whose first packet was dropped."""
    uid = a["slot"]
    guard = k.on_list(s, uid, "inU")
    k.free(s, uid)
    return guard


def death_by_timeout(s: Sym, p: Params, f: Flags, a: dict[str, Any]) -> Term:
    """The timeout timer of a hashed conntrack expires."""
    uid = a["slot"]
    guard = And(k.on_list(s, uid, "inH"), s.at("timer", uid) == 0)
    k.death_by_timeout_now(s, p, f, uid)
    return guard


def death_by_event(s: Sym, p: Params, f: Flags, a: dict[str, Any]) -> Term:
    """The retry timer of a dying-list conntrack fires: DESTROY again."""
    uid = a["slot"]
    guard = And(k.on_list(s, uid, "inD"), s.at("timer", uid) != NO_TIMER)
    failed = k.death_by_event_send(s, p, f, uid)
    with s.when(Not(failed)):
        k.free_dying(s, uid)
    return guard


def ctnetlink_del_conntrack(s: Sym, p: Params, f: Flags, a: dict[str, Any]) -> Term:
    """`conntrack -D`: DESTROY with the requester's port id, then kill or park on dying; 6.x
    calls nf_ct_delete() with the requester's port id."""
    flow, portid, uid = a["flow"], a["requester"], a["hashed"]
    guard = And(k.requester_ok(s, p, portid), k.hashed_of_flow(s, uid, flow))
    echo = portid <= p.nl
    if f.single_winner_delete:
        k.nf_ct_delete(s, p, f, uid, portid, echo)
        return guard
    k.note_death(s, uid)
    failed = k.eventmask_report(s, p, f, uid, IPCT_DESTROY, portid, echo)
    s.put("timer", NO_TIMER, uid)
    keep = failed if f.reliable else False
    with s.when(keep):
        k.delete_from_lists(s, uid)
        k.insert_dying_list(s, uid)
    with s.when(Not(keep)):
        s.put("dbit", True, uid)
        k.free(s, uid)
    return guard


def nf_conntrack_flush_report(s: Sym, p: Params, f: Flags, a: dict[str, Any]) -> Term:
    """`conntrack -F`: kill every hashed conntrack in `order` (a permutation of the hash);
    6.x: one nf_ct_delete() each, unconfirmed conntracks untouched."""
    portid, order = a["requester"], a["order"]
    n = len(s.get("alloc"))
    hashed = [And(s.at("alloc", u), s.at("inH", u)) for u in range(n)]
    nh = count(hashed)
    guard = And(k.requester_ok(s, p, portid), nh > 0)
    if isinstance(order, tuple):
        guard = And(guard, sorted(order) == [u for u in range(n) if hashed[u] is True])
        positions: list[tuple[Term, Term]] = [(u, True) for u in order]
    else:
        positions = []
        for j, u in enumerate(order):
            active = j < nh
            guard = And(guard, Implies(active, And(u >= 0, u < n, sel(hashed, u))))
            guard = And(guard, *[Implies(And(active, j2 < nh), u != order[j2]) for j2 in range(j)])
            positions.append((u, active))
    echo = portid <= p.nl
    if f.single_winner_delete:
        for uid, active in positions:
            with s.when(active):
                k.nf_ct_delete(s, p, f, uid, portid, echo)
        return guard
    for uid, active in positions:
        with s.when(And(active, Not(s.get("crashed")))):
            k.note_death(s, uid)
            if f.reliable:
                failed = k.eventmask_report(s, p, f, uid, IPCT_DESTROY, portid, echo)
                with s.when(Not(failed)):
                    s.put("dbit", True, uid)
            k.death_by_timeout_now(s, p, f, uid)
    if f.flush_marks_unconfirmed:
        with s.when(Not(s.get("crashed"))):
            for u in range(n):
                with s.when(And(s.at("alloc", u), s.at("inU", u))):
                    s.put("dbit", True, u)
    return guard


def nf_ct_expect_related(s: Sym, p: Params, f: Flags, a: dict[str, Any]) -> Term:
    """IPEXP_NEW for the hashed conntrack of `flow`, best effort."""
    uid = a["hashed"]
    guard = And(p.expectations, k.hashed_of_flow(s, uid, a["flow"]))
    k.expect_event(s, p, f, uid)
    return guard


def _listener_guard(p: Params, i: Term) -> Term:
    return And(i >= 0, i < p.nl)


def env_recv(s: Sym, p: Params, f: Flags, a: dict[str, Any]) -> Term:
    """recv() once: the pending error, else one message; an emptied queue is uncongested."""
    i = a["listener"]
    err = s.at("skerr", i)
    qlen = s.at("qlen", i)
    guard = And(_listener_guard(p, i), s.at("open", i), Or(err, qlen > 0))
    for slot in range(len(p.be)):
        with s.when(i == slot):
            with s.when(err):
                s.put("skerr", False, slot)
            with s.when(Not(err)):
                s.put("qlen", qlen - 1, slot)
            with s.when(s.at("qlen", slot) == 0):
                s.put("cong", False, slot)
    return guard


def env_listener_open(s: Sym, p: Params, f: Flags, a: dict[str, Any]) -> Term:
    """A listener (re)opens: empty socket, and its observers start afresh: it is owed nothing
    created before and has no DESTROY of it (`observers.opened`)."""
    i = a["listener"]
    guard = And(p.churn, _listener_guard(p, i), Not(s.at("open", i)))
    for slot in range(len(p.be)):
        with s.when(i == slot):
            s.put("open", True, slot)
            s.put("qlen", 0, slot)
            s.put("cong", False, slot)
            s.put("skerr", False, slot)
            s.put("hasD", False, slot, None)
            s.put("owed", False, slot, None)
    return guard


def env_listener_close(s: Sym, p: Params, f: Flags, a: dict[str, Any]) -> Term:
    """A listener closes: its queue and error go. The observers of live conntracks keep what
    they noted (a DESTROY queued there stays noted until the listener opens again)."""
    i = a["listener"]
    guard = And(p.churn, _listener_guard(p, i), s.at("open", i))
    for slot in range(len(p.be)):
        with s.when(i == slot):
            s.put("open", False, slot)
            s.put("qlen", 0, slot)
            s.put("cong", False, slot)
            s.put("skerr", False, slot)
    return guard


def env_sysctl_write(s: Sym, p: Params, f: Flags, a: dict[str, Any]) -> Term:
    """Root writes an allowed sysctl value (the variant must have the sysctl). The config
    accepts 0..2 for `nf_conntrack_events` in every variant; 2.6.31 reads 2 as on."""
    name, value = a["name"], a["value"]
    if name == "nf_conntrack_events":
        if not f.events_sysctl:
            return False
        old_events = s.get("events")
        s.put("events", value)
        return And(p.sysctl_ok(0, value), value >= 0, value <= 2, old_events != value)
    if not f.retry_sysctl:
        return False
    old = s.get("retry")
    s.put("retry", value)
    return And(p.sysctl_ok(1, value), value >= 0, old != value)


def env_fault_arm(s: Sym, p: Params, f: Flags, a: dict[str, Any]) -> Term:
    """Arm a message build failure."""
    guard = And(p.faults, Not(s.get("bfa")))
    s.put("bfa", True)
    return guard


def env_tick(s: Sym, p: Params, f: Flags, a: dict[str, Any]) -> Term:
    """Every timer above 0 counts down, the 6.x worker too; enabled when something counts
    down and nothing urgent is due: a 2.6.x timer at 0 (its handler runs first) or the 6.x
    worker at 0. A 6.x conntrack timeout at 0 only marks it expired (`gc_expiry`)."""
    worker = s.get("worker")
    running = [And(s.at("alloc", u), s.at("timer", u) > 0) for u in _uids(s)]
    due: Term = worker == 0
    if not f.gc_expiry:
        expired = [And(s.at("alloc", u), s.at("timer", u) == 0) for u in _uids(s)]
        due = Or(due, *expired)
    guard = And(Or(*running, worker > 0), Not(due))
    for u, run in enumerate(running):
        with s.when(run):
            s.put("timer", s.at("timer", u) - 1, u)
    with s.when(worker > 0):
        s.put("worker", worker - 1)
    return guard


def gc_worker(s: Sym, p: Params, f: Flags, a: dict[str, Any]) -> Term:
    """6.x: the garbage collector reaps an expired hashed conntrack through nf_ct_delete()
    (gc_worker() -> nf_ct_gc_expired() -> nf_ct_kill())."""
    uid = a["slot"]
    guard = And(k.on_list(s, uid, "inH"), s.at("timer", uid) == 0)
    k.nf_ct_delete(s, p, f, uid, 0, False)
    return guard


def ecache_work(s: Sym, p: Params, f: Flags, a: dict[str, Any]) -> Term:
    """6.x: the delayed ecache worker is due; it walks the redelivery list from the head
    (ecache_work_evict_list()) and reschedules itself by the walk's outcome."""
    guard = s.get("worker") == 0
    s.put("worker", -1)
    delay = k.ecache_work_evict_list(s, p, f)
    with s.when(delay >= 0):
        s.put("worker", delay)
    return guard


def env_netns_exit(s: Sym, p: Params, f: Flags, a: dict[str, Any]) -> Term:
    """Never enabled: the encoding speaks only for configs without `netns_exit`, where the
    model never enables the namespace exit either (`proofs.guard.encoding_gap` declares the
    configs with it not encoded, and the `exiting` field is not encoded)."""
    return False


def nf_ct_release_dying_list(s: Sym, p: Params, f: Flags, a: dict[str, Any]) -> Term:
    """Another namespace exits (`Config.other_netns_exit`, 2.6.31): nf_ct_release_dying_list()
    walks `init_net`'s dying list from the head under nf_conntrack_lock and nf_ct_kill()s each
    entry whose retry (ct->timeout) is pending: the retry taken, DESTROY again, re-armed on
    failure; the first delivered one sets DYING and its death_by_event() takes the lock this
    CPU holds: the self-deadlock. Not enabled with `release_own_dying_list` (the exiting
    namespace's own list) or `retry_timer_separate` (del_timer() fails), nor while no entry's
    retry is pending."""
    era = p.era
    if not era.other_netns_exit or era.release_own_dying_list or era.retry_timer_separate:
        return False
    n = len(s.get("alloc"))
    pending = [
        And(s.at("alloc", u), s.at("inD", u), s.at("timer", u) != NO_TIMER) for u in range(n)
    ]
    guard = Or(*pending)
    size = count(s.get("inD"))
    for j in range(n):
        here, uid = k.dying_at(s, size - 1 - j)
        visit = And(here, Not(s.get("crashed")), s.at("timer", uid) != NO_TIMER)
        with s.when(visit):
            failed = k.death_by_event_send(s, p, f, uid)
            with s.when(Not(failed)):
                k.crash(s, CRASH_DEADLOCK_CONNTRACK_LOCK)
    return guard


@dataclass(frozen=True)
class Spec:
    """A builder and how to make symbolic arguments for it: each argument's name and kind
    (`int`, the enumerated `packet` and `sysctl`, a flush `order`, or a `pick`: a choice the
    model makes by list order, which no step of the registry names)."""

    build: Builder
    args: tuple[tuple[str, str], ...]

    @property
    def picks(self) -> tuple[str, ...]:
        """The arguments that are picks, not registry arguments."""
        return tuple(name for name, kind in self.args if kind == "pick")


BUILDERS: dict[str, Spec] = {
    "nf_conntrack_in": Spec(
        nf_conntrack_in,
        (("flow", "int"), ("packet", "packet"), ("slot", "int"), ("hashed", "pick")),
    ),
    "early_drop": Spec(early_drop, (("victim", "int"),)),
    "__nf_conntrack_confirm": Spec(nf_conntrack_confirm, (("slot", "int"),)),
    "destroy_conntrack": Spec(destroy_conntrack, (("slot", "int"),)),
    "death_by_timeout": Spec(death_by_timeout, (("slot", "int"),)),
    "death_by_event": Spec(death_by_event, (("slot", "int"),)),
    "nf_ct_release_dying_list": Spec(nf_ct_release_dying_list, ()),
    "gc_worker": Spec(gc_worker, (("slot", "int"),)),
    "ecache_work": Spec(ecache_work, ()),
    "ctnetlink_del_conntrack": Spec(
        ctnetlink_del_conntrack, (("flow", "int"), ("requester", "int"), ("hashed", "pick"))
    ),
    "nf_conntrack_flush_report": Spec(
        nf_conntrack_flush_report, (("requester", "int"), ("order", "order"))
    ),
    "nf_ct_expect_related": Spec(nf_ct_expect_related, (("flow", "int"), ("hashed", "pick"))),
    "env_recv": Spec(env_recv, (("listener", "int"),)),
    "env_listener_open": Spec(env_listener_open, (("listener", "int"),)),
    "env_listener_close": Spec(env_listener_close, (("listener", "int"),)),
    "env_sysctl_write": Spec(env_sysctl_write, (("name", "sysctl"), ("value", "int"))),
    "env_fault_arm": Spec(env_fault_arm, ()),
    "env_tick": Spec(env_tick, ()),
    "env_netns_exit": Spec(env_netns_exit, (("order", "order"),)),
    "ctnetlink_del_conntrack_lookup": Spec(
        smp.ctnetlink_del_lookup, (("flow", "int"), ("requester", "int"), ("hashed", "pick"))
    ),
    "death_by_timeout_expire": Spec(smp.death_by_timeout_expire, (("slot", "int"),)),
    "nf_conntrack_flush_report_start": Spec(smp.flush_start, (("requester", "int"),)),
    "get_next_corpse": Spec(smp.flush_next_corpse, (("call", "int"), ("slot", "int"))),
    "get_next_corpse_found": Spec(smp.flush_found, (("call", "int"),)),
    "nf_conntrack_flush_report_done": Spec(smp.flush_done, (("call", "int"),)),
    "del_timer": Spec(smp.del_timer, (("call", "int"),)),
    "test_bit_dying": Spec(smp.test_dying, (("call", "int"),)),
    "nf_conntrack_event_report": Spec(smp.report_destroy, (("call", "int"),)),
    "set_bit_dying": Spec(smp.set_dying, (("call", "int"),)),
    "nf_ct_delete_from_lists": Spec(smp.unlink, (("call", "int"),)),
    "nf_ct_insert_dying_list": Spec(smp.insert_dying, (("call", "int"),)),
    "nf_ct_put": Spec(smp.put, (("call", "int"),)),
    "ecache_work_evict_list": Spec(smp.ecache_work_evict_list, ()),
}
"""Keyed by registry action name; a test checks the keys against `ACTIONS` one to one."""

ENCODED_VARIANTS = ("2.6.30", "2.6.31", "6.x")
"""Variants with a Z3 transition relation: every modelled variant, 6.x with its redelivery
list (in order), delayed worker, single-winner nf_ct_delete() and gc expiry."""


class NotEncoded(KeyError):
    """The variant has no Z3 transition relation."""


def registry_actions(variant: str, era: Era = ATOMIC) -> tuple[Action, ...]:
    """The registry entries of a variant at the era's granularity, in registry order."""
    if not era.smp:
        return actions_for(variant)
    return tuple(a for a in ACTIONS if variant in a.variants and "smp" in a.granularities)


def builders_for(variant: str, era: Era = ATOMIC) -> dict[str, Spec]:
    """The builders of a variant's registry actions at the era's granularity, in registry
    order."""
    if variant not in ENCODED_VARIANTS:
        raise NotEncoded(
            f"variant {variant!r} has no Z3 encoding (encoded: {', '.join(ENCODED_VARIANTS)})"
        )
    return {a.name: BUILDERS[a.name] for a in registry_actions(variant, era)}


def owned_fields(modifies: frozenset[str]) -> set[str]:
    """The abstract fields an action may change: those with an owner in `modifies`."""
    return {f.name for f in FIELDS if f.owners & modifies}


def settled(pre: AState) -> AState:
    """The pre-state as a step starts from it: the transient fields (the previous step's freed
    records) empty, as `registry.settled` leaves the model's state."""
    out = dict(pre)
    for name in TRANSIENT_FIELDS:
        default = BY_FIELD[name].default
        value = pre[name]
        out[name] = (
            [[default] * len(row) for row in value]
            if value and isinstance(value[0], list)
            else [default] * len(value)
        )
    return out


def execute(
    action: str, flags: Flags, params: Params, pre: AState, args: dict[str, Any]
) -> tuple[Term, AState]:
    """Run a builder: (guard including the registry rules, post-state of written fields).
    FrameError if it writes a field outside the action's declared `modifies` (the transient
    fields, which every step sets, aside)."""
    spec = BUILDERS[action]
    s = Sym(settled(pre))
    guard = spec.build(s, params, flags, args)
    allowed = owned_fields(BY_NAME[action].modifies) | TRANSIENT_FIELDS
    stray = s.written - allowed
    if stray:
        raise FrameError(f"{action} writes {sorted(stray)} outside its declared modifies")
    rules = And(Not(pre["crashed"]), True if action == "early_drop" else pre["apend"] < 0)
    registered = BY_NAME[action]
    if params.era.smp and registered.kind == "kernel" and "atomic" in registered.granularities:
        # registry._waits_for_lock: an atomic kernel step waits while a flush holds the lock.
        rules = And(rules, Not(smp.lock_held(pre)))
    return And(rules, guard), s.v


def relation(
    action: str, flags: Flags, params: Params, pre: AState, post: AState, args: dict[str, Any]
) -> Term:
    """T_action(pre, args, post): enabled, written fields as computed, frame unchanged (the
    transient fields are the step's own: always as computed)."""
    guard, computed = execute(action, flags, params, pre, args)
    changed = owned_fields(BY_NAME[action].modifies) | TRANSIENT_FIELDS
    parts = [guard]
    for fld in FIELDS:
        source = computed if fld.name in changed else pre
        parts.extend(equal_fields(post, source, [fld.name]))
    return And(*parts)


def symbolic_args(action: str, shape: Shape, tag: str) -> list[dict[str, Any]]:
    """Argument dicts covering every step of an action: one per value of its enumerated
    arguments (packet kind, sysctl name), the rest Z3 integers (picks included)."""
    spec = BUILDERS[action]
    variants: list[dict[str, Any]] = [{}]
    for name, kind in spec.args:
        if kind == "packet":
            variants = [{**v, name: pk} for v in variants for pk in PACKETS]
        elif kind == "sysctl":
            variants = [
                {**v, name: nm}
                for v in variants
                for nm in ("nf_conntrack_events", "events_retry_timeout")
            ]
        elif kind == "order":
            order = [z3.Int(f"{action}.{name}[{j}]_{tag}") for j in range(shape.n)]
            variants = [{**v, name: order} for v in variants]
        else:
            var = z3.Int(f"{action}.{name}_{tag}")
            variants = [{**v, name: var} for v in variants]
    return variants


def arg_vars(args: dict[str, Any]) -> list[z3.ExprRef]:
    """The Z3 variables among an argument dict's values."""
    out: list[z3.ExprRef] = []
    for value in args.values():
        if isinstance(value, list):
            out.extend(value)
        elif isinstance(value, z3.ExprRef):
            out.append(value)
    return out


ActionPred = Callable[[Params, AState, AState], Term]
"""A property of one step, over the pre- and post-states."""


def destroy_owed(params: Params, pre: AState, post: AState) -> Term:
    """The destroy-before-free condition on one step: every conntrack the step frees that had
    reported has its DESTROY queued or read at every reliable DESTROY listener that was open
    before and after the step (read in the post-state's freed records)."""
    parts = []
    for u in range(len(post["freed"])):
        gone = And(post["freed"][u], post["freed_rep"][u])
        for i in range(len(params.be)):
            reliable = And(
                i < params.nl,
                params.be[i],
                params.sub_of(GROUP_DESTROY, i),
                pre["open"][i],
                post["open"][i],
            )
            parts.append(Implies(And(gone, reliable), post["freed_hasD"][i][u]))
    return And(*parts)
