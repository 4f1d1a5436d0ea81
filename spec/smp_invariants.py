"""Auxiliary invariants of the smp granularity: who owns a conntrack's deletion, and what its
reference count is made of.

The crash-freedom proofs of the fixed kernel eras (`nfct_spec.proofs.era_plans`) rest on one
idea of the kernel's: a deletion is owned by the one CPU that took `ct->timeout` from pending
(del_timer() returned 1, or the timer expired and death_by_timeout() runs), and while it owns
it the timer stays idle, so nobody else can take it. Each predicate holds in a crashed state
too (the kernel stopped there; no step leaves it), so that the proofs speak of the steps that
lead to a crash, which is what the catalogue's crash entries are about.

A call's program points (`nfct_spec.models.smp`): after the timer was taken it is at
`test_dying`, `report`, `set_dying` or `unlink` with the conntrack still hashed (OWNING), then
at `insert_dying` (unhashed, its DESTROY failed) or `put_base` (unhashed, the hash's reference
still to drop). A call that holds a reference of its own (`cheld`: ctnetlink's lookup, the 3.12
iterator's) drops it at `put`.
"""

from __future__ import annotations

from nfct_spec.models.bits import GROUP_DESTROY
from nfct_spec.models.state import NO_TIMER
from nfct_spec.spec.params import Params
from nfct_spec.spec.terms import And, If, Implies, Not, Or, Term, count, sel
from nfct_spec.spec.vocab import CALL_FNS, CALL_PCS, AState, fn_code, pc_code

OWNING = tuple(pc_code(pc) for pc in ("test_dying", "report", "set_dying", "unlink"))
"""Program points of a deletion body before the unhash."""
INSERT = pc_code("insert_dying")
PUT_BASE = pc_code("put_base")
TEST_DYING = pc_code("test_dying")
PUT = pc_code("put")
DEL_TIMER = pc_code("del_timer")
NEXT = pc_code("next_corpse")
FOUND = pc_code("found")
TIMER = fn_code("death_by_timeout")
CTNETLINK = fn_code("ctnetlink_del_conntrack")
FLUSH = fn_code("nf_conntrack_flush_report")


def _calls(s: AState) -> range:
    return range(len(s["cfn"]))


def _is(value: Term, codes: tuple[int, ...]) -> Term:
    return Or(*[value == code for code in codes])


def _at(s: AState, c: int, u: int, codes: tuple[int, ...]) -> Term:
    """Call `c` is active, on conntrack `u`, at one of `codes`."""
    return And(s["cfn"][c] != 0, s["cslot"][c] == u, _is(s["cpc"][c], codes))


def owns(s: AState, c: int) -> Term:
    """Call `c` owns a deletion (it took the timer and has not yet dropped the hash's
    reference)."""
    return And(s["cfn"][c] != 0, _is(s["cpc"][c], (*OWNING, INSERT, PUT_BASE)))


def owners_placed(s: AState, p: Params) -> Term:
    """An owner before the unhash finds its conntrack hashed with the timer idle; at
    `insert_dying` it is on no list, its timer idle and its DESTROY failed; at `put_base` on
    no list. (Eras whose retry timer is ct->timeout: a deleter can take a dying conntrack's
    retry, so before the unhash it may be on the dying list instead: `owners_placed_dying`.)"""
    return _owners_placed(s, dying_ok=False)


def owners_placed_dying(s: AState, p: Params) -> Term:
    """`owners_placed`, where an owner before the unhash may also find its conntrack on the
    dying list (its del_timer() took the retry timer; the unhash then crashes)."""
    return _owners_placed(s, dying_ok=True)


def _owners_placed(s: AState, dying_ok: bool) -> Term:
    parts = [s["crashed"]]
    rules = []
    for c in _calls(s):
        for u in range(len(s["alloc"])):
            where = Or(s["inH"][u], s["inD"][u]) if dying_ok else s["inH"][u]
            idle = s["timer"][u] == NO_TIMER
            off = And(Not(s["inH"][u]), Not(s["inD"][u]), Not(s["inU"][u]))
            rules += [
                Implies(_at(s, c, u, OWNING), And(s["alloc"][u], where, idle)),
                Implies(_at(s, c, u, (INSERT,)), And(s["alloc"][u], off, idle, s["cfailed"][c])),
                Implies(_at(s, c, u, (PUT_BASE,)), And(s["alloc"][u], off, idle)),
            ]
    parts.append(And(*rules))
    return Or(*parts)


def one_owner(s: AState, p: Params) -> Term:
    """No two calls own the deletion of the same conntrack."""
    rules = []
    for c in _calls(s):
        for d in range(c + 1, len(s["cfn"])):
            same = s["cslot"][c] == s["cslot"][d]
            rules.append(Not(And(owns(s, c), owns(s, d), same)))
    return Or(s["crashed"], And(*rules))


def calls_shaped(s: AState, p: Params) -> Term:
    """The call entries are well formed (codes in range, empty entries last, as the model sorts
    them; no crash code without a crash), and each kind of call holds what its code takes:
    ctnetlink always its lookup's reference, the timer handler none, the iterator inside
    get_next_corpse() (one at a time: the lock) none, on a hashed conntrack; a flush between
    entries holds nothing and works on no conntrack; a call at del_timer() or at its own put
    holds a reference; a call on a conntrack finds it allocated and not unconfirmed; an empty
    entry is all defaults."""
    rules = [Implies(Not(s["crashed"]), s["crash"] == 0)]
    for c in _calls(s):
        held, slot = s["cheld"][c], s["cslot"][c]
        fn, pc = s["cfn"][c], s["cpc"][c]
        active = fn != 0
        rules += [
            fn >= 0,
            fn <= len(CALL_FNS),
            pc >= 0,
            pc <= len(CALL_PCS),
            active == (pc != 0),
            *[Implies(Not(active), s["cfn"][d] == 0) for d in range(c + 1, len(s["cfn"]))],
            Implies(_is(pc, (NEXT, FOUND)), fn == FLUSH),
            Implies(pc == FOUND, Not(held) if not p.era.iterator_takes_timer else False),
            Implies(fn == TIMER, _is(pc, (*OWNING, INSERT, PUT_BASE))),
            Implies(s["cinline"][c], _inline_possible(p, fn)),
            Implies(fn == CTNETLINK, held),
            Implies(fn == TIMER, Not(held)),
            Implies(And(fn == FLUSH, pc == NEXT), And(Not(held), slot == -1)),
            Implies(And(active, _is(pc, (DEL_TIMER, PUT))), held),
            Implies(And(active, pc != NEXT), And(slot >= 0, slot < len(s["alloc"]))),
            Implies(Not(active), And(slot == -1, pc == 0, Not(held))),
        ]
        for u in range(len(s["alloc"])):
            on_u = And(active, slot == u)
            rules.append(Implies(on_u, And(s["alloc"][u], Not(s["inU"][u]))))
            # Inside get_next_corpse() (nf_conntrack_lock held) nobody unhashes.
            rules.append(Implies(And(on_u, pc == FOUND), s["inH"][u]))
        for d in range(c + 1, len(s["cfn"])):
            rules.append(Not(And(pc == FOUND, s["cpc"][d] == FOUND)))
    return Or(s["crashed"], And(*rules))


def _inline_possible(p: Params, fn: Term) -> Term:
    """Who runs death_by_timeout() inline after a successful del_timer(): ctnetlink's
    nf_ct_kill() unless it takes the timer for its own body (2012), the iterator unless it
    does (3.12)."""
    ctnetlink = And(fn == CTNETLINK, not p.era.delete_takes_timer)
    flush = And(fn == FLUSH, not p.era.iterator_takes_timer)
    return Or(ctnetlink, flush)


def refs_counted(s: AState, p: Params) -> Term:
    """ct_general.use of each conntrack: one for the list that links it (the hash, the
    unconfirmed or the dying list) or the owner that unhashed it and has not yet put it on
    the dying list or dropped the hash's reference; plus one per call that holds its own. A
    free slot has none. (At the atomic granularity the model keeps no counts: vacuous.)"""
    if not s["cfn"]:
        return True
    rules = []
    for u in range(len(s["alloc"])):
        transit = Or(*[_at(s, c, u, (INSERT, PUT_BASE)) for c in _calls(s)])
        linked = Or(s["inH"][u], s["inU"][u], s["inD"][u], transit)
        base = If(And(s["alloc"][u], linked), 1, 0)
        held: Term = 0
        for c in _calls(s):
            held = held + If(And(s["cfn"][c] != 0, s["cslot"][c] == u, s["cheld"][c]), 1, 0)
        rules.append(s["refs"][u] == base + held)
    return Or(s["crashed"], And(*rules))


def places_smp(s: AState, p: Params) -> Term:
    """An allocated conntrack is on at most one list (between an owner's unhash and its
    dying-list insertion, or after the list's reference went while a call still holds its
    own, on none), and then its timer is idle, as it is on the unconfirmed list and, in the
    eras of the ecache work (no retry timer), on the dying list; a free slot is on none."""
    rules = []
    for u in range(len(s["alloc"])):
        places = [s["inU"][u], s["inH"][u], s["inD"][u]]
        at_most_one = And(*[Not(And(a, b)) for i, a in enumerate(places) for b in places[i + 1 :]])
        off = Not(Or(*places))
        rules.append(If(s["alloc"][u], at_most_one, off))
        rules.append(Implies(And(s["alloc"][u], off), s["timer"][u] == NO_TIMER))
        rules.append(Implies(s["inU"][u], s["timer"][u] == NO_TIMER))
        if p.era.retry_by_worker:
            # 3.17 to 4.8: no retry timer, the ecache work re-sends.
            rules.append(Implies(s["inD"][u], s["timer"][u] == NO_TIMER))
    return Or(s["crashed"], And(*rules))


def _handler_bodies(state: AState, uid: Term) -> Term:
    """How many calls run the body of death_by_timeout() on `uid` (`smp.in_handler_body`)."""
    return count(
        [
            And(fn != 0, slot == uid, Or(fn == TIMER, inline))
            for fn, slot, inline in zip(state["cfn"], state["cslot"], state["cinline"], strict=True)
        ]
    )


def timeout_handler_once(p: Params, pre: AState, post: AState) -> Term:
    """`properties.timeout_handler_once` on one step: no call starts the body of
    death_by_timeout() on a conntrack whose body already runs or that is on the dying list."""
    parts = []
    for fn, uid, pc, inline in zip(
        post["cfn"], post["cslot"], post["cpc"], post["cinline"], strict=True
    ):
        before = _handler_bodies(pre, uid)
        starts = And(fn != 0, Or(fn == TIMER, inline), pc == TEST_DYING)
        again = Or(before > 0, sel(pre["inD"], uid))
        parts.append(And(starts, _handler_bodies(post, uid) > before, again))
    return Not(Or(*parts))


UNLINK = pc_code("unlink")
SET_DYING = pc_code("set_dying")
REPORT = pc_code("report")


def destroy_delivered(s: AState, p: Params) -> Term:
    """Once a conntrack's DESTROY was delivered and before it is freed, every reliable DESTROY
    listener (BROADCAST_ERROR, subscribed, open) has it queued or read: while its owner goes
    on past a successful report (`set_dying`, `unlink`, `put_base`, its send not failed), and
    while it is on no list and owned by nobody (a free that a held reference put off: the
    DESTROY went with it). Without the test-and-set guard DYING is set only after a delivered
    DESTROY, so it means the same."""
    rules = [Implies(s["cpc"][c] == NEXT, Not(s["cfailed"][c])) for c in _calls(s)]
    for u in range(len(s["alloc"])):
        owner_past = Or(
            *[
                And(_at(s, c, u, (SET_DYING, UNLINK, PUT_BASE)), Not(s["cfailed"][c]))
                for c in _calls(s)
            ]
        )
        transit = Or(*[_at(s, c, u, (INSERT, PUT_BASE)) for c in _calls(s)])
        off = And(Not(s["inH"][u]), Not(s["inU"][u]), Not(s["inD"][u]), Not(transit))
        delivered = Or(owner_past, off)
        # The owner's DYING: set before the report with the test-and-set guard, after a
        # delivered one otherwise (set_dying), so from the unhash on in every era.
        for c in _calls(s):
            unfailed = (DEL_TIMER, TEST_DYING, REPORT, SET_DYING, PUT_BASE)
            rules.append(Implies(_at(s, c, u, unfailed), Not(s["cfailed"][c])))
            if p.era.delete_test_and_set_dying:
                # nf_ct_delete() goes from the report to the unhash: no set_bit() step.
                after = (REPORT, UNLINK, PUT_BASE, INSERT)
                rules.append(Implies(_at(s, c, u, after), s["dbit"][u]))
                rules.append(Not(_at(s, c, u, (SET_DYING,))))
            else:
                done = And(_at(s, c, u, (UNLINK, PUT_BASE)), Not(s["cfailed"][c]))
                rules.append(Implies(done, s["dbit"][u]))
        # DYING on a hashed conntrack whose timer nobody took: the flush marked it while it
        # was unconfirmed, and the confirm hashed it without a word (2.6.31).
        dying_untaken = And(s["inH"][u], s["dbit"][u], s["timer"][u] != NO_TIMER)
        rules.append(Implies(And(s["alloc"][u], dying_untaken), Not(s["rep"][u])))
        # A delivered DESTROY of a conntrack with an event cache was sent: it reported.
        sent = And(owner_past, Not(s["dbit"][u]), s["alloc"][u], s["ecache"][u])
        rules.append(Implies(sent, s["rep"][u]))
        if not p.era.delete_test_and_set_dying:
            delivered = Or(delivered, s["dbit"][u])
        for i in range(len(s["open"])):
            reliable = And(i < p.nl, p.be[i], p.sub_of(GROUP_DESTROY, i), s["open"][i])
            rules.append(
                Implies(And(s["alloc"][u], s["rep"][u], delivered, reliable), s["hasD"][i][u])
            )
    return Or(s["crashed"], And(*rules))
