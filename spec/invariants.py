"""Invariants over the abstract state, as named conjuncts (catalogue ids and auxiliary ids).

Each predicate is written once with the operators of `nfct_spec.spec.terms`, so it can be
evaluated on a projected model state (the tests compare it with the catalogue's own check) and
turned into a Z3 formula for the induction queries. Auxiliary invariants (`aux-*`) are the
strengthenings the inductive proofs need; each says why the kernel keeps it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from nfct_spec.models.bits import IPCT_DESTROY
from nfct_spec.models.state import (
    CRASH_DEADLOCK_CONNTRACK_LOCK,
    CRASH_DOUBLE_DYING,
    CRASH_DOUBLE_UNLINK,
    CRASH_FREED_LINKED,
    CRASH_TIMER_PENDING,
    CRASH_USE_AFTER_FREE,
    DEADLOCK_DYING_LOCK,
    NO_TIMER,
)
from nfct_spec.spec import smp_invariants as smp
from nfct_spec.spec.params import Params
from nfct_spec.spec.terms import And, If, Implies, Not, Or, Term, clear, count, sel
from nfct_spec.spec.vocab import CRASH_CODES, OTHER_CRASH, AState

Pred = Callable[[AState, Params], Term]


@dataclass(frozen=True)
class Invariant:
    """A named state predicate; `catalogue` is True for catalogue property ids."""

    id: str
    statement: str
    pred: Pred
    catalogue: bool = False


def _slots(s: AState) -> range:
    return range(len(s["alloc"]))


def _table_bound(s: AState, p: Params) -> Term:
    return Or(p.limit == 0, s["apend"] >= 0, s["count"] <= p.limit)


def _count_exact(s: AState, p: Params) -> Term:
    return s["count"] == count(s["alloc"]) + If(s["apend"] >= 0, 1, 0)


def _one_place(s: AState, p: Params) -> Term:
    parts = []
    for u in _slots(s):
        places = [s["inU"][u], s["inH"][u], s["inD"][u]]
        exactly_one = And(Or(*places), *[Not(And(a, b)) for a, b in _pairs(places)])
        parts.append(If(s["alloc"][u], exactly_one, Not(Or(*places))))
    return And(*parts)


def _pairs(items: list[Term]) -> list[tuple[Term, Term]]:
    return [(a, b) for i, a in enumerate(items) for b in items[i + 1 :]]


def _missed_only_undelivered(s: AState, p: Params) -> Term:
    return And(
        *[Implies(s["alloc"][u], clear(s["missed"][u], s["pend"][u]) == 0) for u in _slots(s)]
    )


def _missed_keeps_undelivered(s: AState, p: Params) -> Term:
    return And(
        *[
            Implies(
                And(s["alloc"][u], s["ecache"][u], Not(s["dbit"][u]), Not(s["dead"][u])),
                clear(s["pend"][u], s["cache"][u] | s["missed"][u]) == 0,
            )
            for u in _slots(s)
        ]
    )


def _dying_has_retry(s: AState, p: Params) -> Term:
    """Each dying conntrack has a retry pending: its own timer (2.6.31) or the scheduled ecache
    worker (6.x). Each variant's plan pins the other mechanism down (`aux-worker-idle`,
    `aux-redelivery-untimed`), so the proved invariant is the catalogue's per variant."""
    worker = s["worker"] >= 0
    return Or(
        s["crashed"],
        And(
            *[
                Implies(And(s["alloc"][u], s["inD"][u]), Or(s["timer"][u] != NO_TIMER, worker))
                for u in _slots(s)
            ]
        ),
    )


def _deadlocked(s: AState) -> Term:
    """The crash is a deadlock: one an encoded config can reach, or one it cannot name."""
    deadlocks = _crashed_with(s, CRASH_DEADLOCK_CONNTRACK_LOCK, DEADLOCK_DYING_LOCK)
    return Or(deadlocks, s["crash"] == OTHER_CRASH)


def _no_crash(s: AState, p: Params) -> Term:
    """No fault (a deadlock is judged by deadlock-free)."""
    return Or(Not(s["crashed"]), _deadlocked(s))


def _deadlock_free(s: AState, p: Params) -> Term:
    return Not(And(s["crashed"], _deadlocked(s)))


def _crashed_with(s: AState, *reasons: str) -> Term:
    return Or(*[s["crash"] == CRASH_CODES.index(reason) + 1 for reason in reasons])


def _no_double_unlink(s: AState, p: Params) -> Term:
    return Not(_crashed_with(s, CRASH_DOUBLE_UNLINK))


def _no_timer_rearm(s: AState, p: Params) -> Term:
    return Not(_crashed_with(s, CRASH_TIMER_PENDING))


def _no_use_after_free(s: AState, p: Params) -> Term:
    return Not(_crashed_with(s, CRASH_USE_AFTER_FREE, CRASH_FREED_LINKED, CRASH_DOUBLE_DYING))


def _free_clean(s: AState, p: Params) -> Term:
    parts = []
    for u in _slots(s):
        clean = And(
            Not(s["rep"][u]),
            Not(s["dead"][u]),
            s["pend"][u] == 0,
            *[Not(row[u]) for row in s["hasD"]],
            *[Not(row[u]) for row in s["owed"]],
        )
        parts.append(Implies(Not(s["alloc"][u]), clean))
    return And(*parts)


def _alloc_waits(s: AState, p: Params) -> Term:
    slot_free = And(
        s["aslot"] >= 0,
        s["aslot"] < len(s["alloc"]),
        Not(sel(s["alloc"], s["aslot"])),
    )
    return If(s["apend"] >= 0, And(slot_free, p.limit > 0), s["aslot"] == -1)


def _alloc_one_over(s: AState, p: Params) -> Term:
    return Implies(s["apend"] >= 0, s["count"] <= p.limit + 1)


def _apend_range(s: AState, p: Params) -> Term:
    return s["apend"] >= -1


def _cache_unconfirmed(s: AState, p: Params) -> Term:
    return And(
        *[
            Implies(
                And(s["alloc"][u], s["cache"][u] != 0),
                And(s["inU"][u], s["ecache"][u], clear(s["cache"][u], s["pend"][u]) == 0),
            )
            for u in _slots(s)
        ]
    )


def _dead_on_dying(s: AState, p: Params) -> Term:
    return And(*[Implies(s["alloc"][u], s["dead"][u] == s["inD"][u]) for u in _slots(s)])


def _dying_owes_destroy(s: AState, p: Params) -> Term:
    return And(
        *[
            Implies(
                And(s["alloc"][u], s["inD"][u]),
                And(
                    Not(s["dbit"][u]),
                    Implies(s["ecache"][u], (s["pend"][u] & IPCT_DESTROY) != 0),
                ),
            )
            for u in _slots(s)
        ]
    )


def _silent_until_confirmed(s: AState, p: Params) -> Term:
    return And(
        *[
            Implies(
                And(s["alloc"][u], Or(s["inU"][u], Not(s["ecache"][u]), s["dbit"][u])),
                Not(s["rep"][u]),
            )
            for u in _slots(s)
        ]
    )


def _silent_unconfirmed(s: AState, p: Params) -> Term:
    return And(
        *[
            Implies(And(s["alloc"][u], Or(s["inU"][u], Not(s["ecache"][u]))), Not(s["rep"][u]))
            for u in _slots(s)
        ]
    )


def _redelivery_owes_destroy(s: AState, p: Params) -> Term:
    return And(
        *[
            Implies(
                And(s["alloc"][u], s["inD"][u]),
                And(s["dbit"][u], Implies(s["ecache"][u], (s["pend"][u] & IPCT_DESTROY) != 0)),
            )
            for u in _slots(s)
        ]
    )


def _redelivery_untimed(s: AState, p: Params) -> Term:
    return And(
        *[Implies(And(s["alloc"][u], s["inD"][u]), s["timer"][u] == NO_TIMER) for u in _slots(s)]
    )


def _dying_order(s: AState, p: Params) -> Term:
    """Every position 0 .. size-1 of the dying list holds an entry; with as many entries as
    positions, each holds exactly one and no entry is outside."""
    on = [And(s["alloc"][u], s["inD"][u]) for u in _slots(s)]
    size = count(on)
    return And(
        *[
            Implies(k < size, Or(*[And(on[u], s["dpos"][u] == k) for u in _slots(s)]))
            for k in _slots(s)
        ]
    )


def _live_until_deleted(s: AState, p: Params) -> Term:
    return And(
        *[
            Implies(And(s["alloc"][u], Or(s["inU"][u], s["inH"][u])), Not(s["dbit"][u]))
            for u in _slots(s)
        ]
    )


def _worker_idle(s: AState, p: Params) -> Term:
    return And(s["worker"] == -1, Not(s["dwork_pending"]))


def _worker_valid(s: AState, p: Params) -> Term:
    return s["worker"] >= -1


def _timers_valid(s: AState, p: Params) -> Term:
    return And(*[Implies(s["alloc"][u], s["timer"][u] >= NO_TIMER) for u in _slots(s)])


def _no_fault_unarmed(s: AState, p: Params) -> Term:
    return Implies(s["bfa"], p.faults)


def _retry_positive(s: AState, p: Params) -> Term:
    return s["retry"] > 0


def _queues_sane(s: AState, p: Params) -> Term:
    """Queue lengths are non-negative and a congested socket has something queued (a read
    that empties the queue clears the congestion, netlink_rcv_wake())."""
    return And(
        *[
            And(s["qlen"][i] >= 0, Implies(s["cong"][i], s["qlen"][i] > 0))
            for i in range(len(s["qlen"]))
        ]
    )


def _closed_empty(s: AState, p: Params) -> Term:
    """A closed socket has nothing queued, no error and no congestion (closing drops the
    queue; nothing is delivered to a closed socket)."""
    return And(
        *[
            Or(s["open"][i], And(s["qlen"][i] == 0, Not(s["skerr"][i]), Not(s["cong"][i])))
            for i in range(len(s["qlen"]))
        ]
    )


def _timers_placed(s: AState, p: Params) -> Term:
    """A hashed conntrack's timeout is running; an unconfirmed one has none yet."""
    return And(
        *[
            And(
                Implies(And(s["alloc"][u], s["inH"][u]), s["timer"][u] >= 0),
                Implies(And(s["alloc"][u], s["inU"][u]), s["timer"][u] == -1),
            )
            for u in range(len(s["alloc"]))
        ]
    )


INVARIANTS: tuple[Invariant, ...] = (
    Invariant(
        "table-bound",
        "once no allocation waits, count <= nf_conntrack_max (when set)",
        _table_bound,
        True,
    ),
    Invariant("count-exact", "count = allocated conntracks (+1 while waiting)", _count_exact, True),
    Invariant("one-place", "allocated <=> on exactly one list", _one_place, True),
    Invariant(
        "missed-only-undelivered", "missed is a subset of pending", _missed_only_undelivered, True
    ),
    Invariant(
        "missed-keeps-undelivered",
        "pending is a subset of cache | missed while not dying",
        _missed_keeps_undelivered,
        True,
    ),
    Invariant("dying-has-retry", "dying => retry timer pending", _dying_has_retry, True),
    Invariant("no-crash", "the kernel has not faulted", _no_crash, True),
    Invariant("deadlock-free", "no CPU waits for ever on a lock", _deadlock_free, True),
    Invariant("no-double-unlink", "no conntrack was unhashed twice (smp)", _no_double_unlink, True),
    Invariant("no-timer-rearm", "no pending timer was set up again (smp)", _no_timer_rearm, True),
    Invariant(
        "no-use-after-free",
        "no reference dropped that nobody held, no conntrack freed while linked or linked "
        "twice into the dying list (smp)",
        _no_use_after_free,
        True,
    ),
    Invariant(
        "aux-free-clean",
        "a free slot has no observer state: nothing pending, not reporting, not dying, owed to "
        "no listener and no DESTROY seen (a slot's observers start afresh at each allocation)",
        _free_clean,
    ),
    Invariant(
        "aux-alloc-waits",
        "a waiting allocation has a free slot reserved and a non-zero limit "
        "(nf_conntrack_alloc() only calls early_drop when a limit is set); otherwise no slot "
        "is reserved",
        _alloc_waits,
    ),
    Invariant(
        "aux-alloc-one-over",
        "a waiting allocation exceeds the limit by exactly the one it counted",
        _alloc_one_over,
    ),
    Invariant("aux-apend-range", "alloc_pending is -1 or a flow", _apend_range),
    Invariant(
        "aux-cache-unconfirmed",
        "a non-empty event cache belongs to an unconfirmed conntrack with an event cache "
        "extension, and its bits are pending "
        "(nf_ct_deliver_cached_events() empties it at the confirm hook and after each packet)",
        _cache_unconfirmed,
    ),
    Invariant(
        "aux-dead-on-dying",
        "an allocated conntrack has started to die iff it is on the dying list (a death that "
        "does not free it parks it there)",
        _dead_on_dying,
    ),
    Invariant(
        "aux-dying-owes-destroy",
        "a dying-list conntrack has no DYING bit and, with an event cache, its DESTROY pending",
        _dying_owes_destroy,
    ),
    Invariant(
        "aux-silent-until-confirmed",
        "a conntrack that is unconfirmed, has no event cache, or has the DYING bit has never "
        "handed an event to ctnetlink (only the flush marks live conntracks DYING, and only "
        "unconfirmed ones)",
        _silent_until_confirmed,
    ),
    Invariant("aux-timers-valid", "timers are -1 or counting down", _timers_valid),
    Invariant(
        "aux-no-fault-unarmed",
        "no build failure is armed unless the config has the fault",
        _no_fault_unarmed,
    ),
    Invariant(
        "aux-queues-sane",
        "queue lengths are non-negative and a congested socket has something queued "
        "(netlink_rcv_wake() clears congestion when a read empties the queue)",
        _queues_sane,
    ),
    Invariant(
        "aux-closed-empty",
        "a closed socket has nothing queued, no error and no congestion",
        _closed_empty,
    ),
    Invariant(
        "aux-timers-placed",
        "a hashed conntrack's timeout runs; an unconfirmed one has no timer yet",
        _timers_placed,
    ),
    Invariant(
        "aux-retry-positive",
        "the retry timeout is positive (assumption retry-timeout-positive)",
        _retry_positive,
    ),
    Invariant(
        "aux-worker-idle",
        "no ecache worker is scheduled and ecache_dwork_pending is clear (2.6.x has neither: no "
        "step of it schedules the 6.x worker)",
        _worker_idle,
    ),
    Invariant(
        "aux-worker-valid",
        "the 6.x ecache worker is idle (-1) or counting down to its run",
        _worker_valid,
    ),
    Invariant(
        "aux-live-until-deleted",
        "an unconfirmed or hashed conntrack has no DYING bit (6.x sets it only in nf_ct_delete(), "
        "which takes the conntrack out of the table in the same step)",
        _live_until_deleted,
    ),
    Invariant(
        "aux-silent-unconfirmed",
        "a conntrack that is unconfirmed or has no event cache has never handed an event to "
        "ctnetlink (6.x: nf_conntrack_eventmask_report() and nf_ct_deliver_cached_events() "
        "return early for them; DYING no longer silences the DESTROY)",
        _silent_unconfirmed,
    ),
    Invariant(
        "aux-redelivery-owes-destroy",
        "a conntrack on the 6.x redelivery list has the DYING bit (nf_ct_delete() set it first) "
        "and, with an event cache, its DESTROY pending",
        _redelivery_owes_destroy,
    ),
    Invariant(
        "aux-redelivery-untimed",
        "a conntrack on the 6.x redelivery list has no timer of its own (nf_ct_delete() took it "
        "out of the table; only the worker re-sends)",
        _redelivery_untimed,
    ),
    Invariant(
        "aux-dying-order",
        "every position 0 .. size - 1 of the dying list (counted from the tail) holds an entry, "
        "so each holds exactly one (additions go to the head, removals close the gap) and "
        "ecache_work() walks every entry",
        _dying_order,
    ),
)
SMP_AUX: tuple[Invariant, ...] = (
    Invariant(
        "aux-smp-owners-placed",
        "the call that owns a deletion (it took the timer) finds the conntrack hashed with the "
        "timer idle until it unhashes it, then on no list until the dying list or the put",
        smp.owners_placed,
    ),
    Invariant(
        "aux-smp-owners-placed-dying",
        "as aux-smp-owners-placed, where the owner may also have taken a dying conntrack's "
        "retry timer (the retry re-uses ct->timeout)",
        smp.owners_placed_dying,
    ),
    Invariant("aux-smp-one-owner", "no two calls own one conntrack's deletion", smp.one_owner),
    Invariant(
        "aux-smp-calls-shaped",
        "each kind of call holds the references its code takes, on an allocated conntrack",
        smp.calls_shaped,
    ),
    Invariant(
        "aux-smp-refs",
        "each reference count is the list's (or the unhashing owner's) plus the calls' own",
        smp.refs_counted,
    ),
    Invariant(
        "aux-smp-destroy-delivered",
        "after a delivered DESTROY and before the free, every reliable listener has it",
        smp.destroy_delivered,
    ),
    Invariant(
        "aux-smp-places",
        "an allocated conntrack is on at most one list, and on none only with its timer idle",
        smp.places_smp,
    ),
)
"""The auxiliary conjuncts of the smp era proofs (`nfct_spec.proofs.era_plans`). They are not
catalogue entries (the catalogue judges configs of every granularity, and these speak of the
calls of an smp era only); the tests check each on every reachable state of the era configs
whose proofs use it."""

BY_ID = {inv.id: inv for inv in (*INVARIANTS, *SMP_AUX)}
