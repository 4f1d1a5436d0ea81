"""The property catalogue: one record per property, with its expected verdict per variant.

The record types and the verdict vocabulary are in `nfct_spec.spec.records`. The catalogue's
own properties come first; the auxiliary invariants that the inductive proofs need follow
(`nfct_spec.spec.auxiliary`), so every engine checks them too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from nfct_spec.spec import properties as p
from nfct_spec.spec.auxiliary import AUXILIARY
from nfct_spec.spec.fairness import (
    LISTENERS_READ,
    PACKETS_COMPLETE,
    RETRY_POSITIVE,
    TIMERS_FIRE,
    TRAFFIC_STOPS,
)
from nfct_spec.spec.records import (
    FEATURES,
    KINDS,
    VERDICTS,
    Override,
    Property,
    prop,
)

__all__ = ["BY_ID", "CATALOGUE", "FEATURES", "KINDS", "VERDICTS", "Override", "Property", "lookup"]

SEED = "seed"

_SMP_ONLY = (
    "judged only at granularity smp: with every kernel function one step no other CPU can "
    "come between its DESTROY and its DYING bit, its timer and its unhash."
)
_ATOMIC_NA = (("n/a", _SMP_ONLY),) * 3
_GUARD_FIX = (
    "the retry re-uses ct->timeout: a deleter that looked the conntrack up while it was hashed "
    "and whose del_timer(&ct->timeout) comes after death_by_timeout() moved it to the dying "
    "list cancels the retry instead"
)


def _smp(verdict: str, reason: str, feature: str = "smp") -> Override:
    return Override(feature, "2.6.31", verdict, reason)


_EVENTUALLY_FAIR = (
    LISTENERS_READ.id,
    TIMERS_FIRE.id,
    PACKETS_COMPLETE.id,
    TRAFFIC_STOPS.id,
    RETRY_POSITIVE.id,
)
"""The fairness of the liveness entries (`nfct_spec.spec.fairness`)."""

_WORKER_RELOCK_NOT_JUDGED = (
    "not judged: with the inverted time_after() the walk stops after its first delivered "
    "DESTROY unless the clock passed `stop` before that entry's time test (ECACHE_MAX_JIFFIES, "
    "10 ms, after the run started), so the kernel reaches the batch end that deadlocks only on "
    "a run whose first delivery is that slow; a run of the model's worker takes no time, so it "
    "never does (set ecache_work_fixed to search the batch end)"
)


_NETNS_EXIT_6X = (
    "the namespace exit removes its event callback first (ctnetlink_net_pre_exit() -> "
    "nf_conntrack_unregister_notifier()); nf_conntrack_cleanup_net_list() then kills every "
    "conntrack through nf_ct_delete(), whose DESTROY report returns 0 without a callback, and "
    "the redelivery worker frees the held ones the same way: each is freed with no DESTROY "
    "sent (observed on Linux 6.18: a reliable listener in another namespace lost every held "
    "DESTROY when the namespace was deleted)"
)
_NETNS_EXIT_2_6_31 = (
    "the exit loop kills through death_by_timeout(), and nf_ct_release_dying_list() walks "
    "init_net's dying list, not the exiting namespace's: its held conntracks keep retrying "
    "through the global event callback, which still reaches the listeners of init_net, and the "
    "loop waits until the count is 0"
)


_RELEASE_DEADLOCK = (
    "another namespace's exit runs nf_ct_release_dying_list(), which walks init_net's dying "
    "list under spin_lock_bh(&nf_conntrack_lock) and calls nf_ct_kill() on each held "
    "conntrack: del_timer(&ct->timeout) steals its retry timer and death_by_event() runs "
    "inline; once its DESTROY is delivered it takes nf_conntrack_lock again (a self-deadlock)"
)


def _netns_exit_6x(verdict: str = "violated") -> Override:
    return Override("netns-exit", "6.x", verdict, _NETNS_EXIT_6X)


_EVENTUALLY_OVERRIDES = (
    _netns_exit_6x(),
    Override(
        "worker-relocks-twice",
        "6.x",
        "violated",
        "the worker under review spins for ever on dying_lock at the end of a batch: the "
        "conntracks still on the redelivery list, and those of the batch on its local list, "
        "are never freed (the model stops with them on the list)",
    ),
    Override("worker-relocks-twice-inverted", "6.x", "n/a", _WORKER_RELOCK_NOT_JUDGED),
    Override(
        "build-failure",
        "2.6.31",
        "violated",
        "a DESTROY whose message cannot be built counts as delivered and is never sent",
    ),
    Override(
        "build-failure-without-no-enobufs",
        "6.x",
        "violated",
        "an unbuilt DESTROY counts as delivered unless some socket of the group set "
        "NETLINK_NO_ENOBUFS, so a reliable listener without it never gets it",
    ),
    *(
        Override(
            "reliable-listeners-2",
            variant,
            "violated",
            "netlink_broadcast() delivers to every socket with room and fails if one "
            "BE socket overran: with two reliable listeners each retry can fail on the "
            "one that has not read yet while it refills the other, forever, although "
            "both keep reading",
        )
        for variant in ("2.6.31", "6.x")
    ),
    Override(
        "netns-exit",
        "2.6.31",
        "holds",
        f"{_NETNS_EXIT_2_6_31}, so under the same fairness every held DESTROY is delivered",
    ),
)
"""What breaks the liveness entries in configs with a feature of their own (and, last, what
keeps them under namespace exit: an override applies only if none before it does)."""


SMP_PROPERTIES: tuple[Property, ...] = (
    prop(
        "destroy-once",
        "action",
        "A reliable listener reads at most one DESTROY per conntrack death.",
        "kernel: 2.6.31 death_by_timeout() skips its DESTROY when IPS_DYING_BIT is set, which "
        "a deleter sets after delivering one ('Avoid the delivery of the destroy event in "
        "death_by_timeout()', kill_report()).",
        p.destroy_once,
        _ATOMIC_NA,
        overrides=(
            _smp(
                "violated",
                "by design: netlink_broadcast() fails when one BE socket overran while the "
                "other took the message, and the re-send reaches both (may-duplicate)",
                "smp-reliable-listeners-2",
            ),
            _smp(
                "violated",
                "ctnetlink_del_conntrack() reports DESTROY without owning ct->timeout and sets "
                "DYING only after the send returns: a death_by_timeout() already running on "
                "another CPU passes its DYING test and the send's own check in between and "
                "sends a second DESTROY (fixed by 'netfilter: ctnetlink: fix race between "
                "delete and timeout expiration', 2012)",
                "smp-delete-unguarded",
            ),
            _smp(
                "violated",
                "kill_report() sends DESTROY under nf_conntrack_lock, which death_by_timeout() "
                "does not take before its send, and sets DYING after it: a handler already "
                "running sends a second DESTROY in between (fixed in 3.12 by 'netfilter: "
                "nf_conntrack: don't send destroy events from iterator')",
                "smp-flush-unguarded",
            ),
            _smp(
                "violated",
                "death_by_timeout() ORs a failed DESTROY into e->missed (port id 0) and "
                "unhashes the conntrack only in a later step: a packet of it on another CPU "
                "in between caches an update, and nf_ct_deliver_cached_events() sends it with "
                "the missed DESTROY (a DELETE message) before the retry sends DESTROY again; "
                "no guard of the eras modelled closes this",
                "smp-update-events",
            ),
            _smp(
                "holds",
                "with both guards only the owner of ct->timeout sends first (the handler, or "
                "the deleter whose del_timer() succeeded); a later sender finds DYING set; a "
                "retry follows only a failed DESTROY, which the one reliable listener did not "
                "take; where the retry is cancelled the model crashes first (no-double-unlink)",
            ),
        ),
    ),
    prop(
        "timeout-handler-once",
        "action",
        "death_by_timeout() runs at most once per conntrack death, from its timer or called "
        "by name after a successful del_timer().",
        "kernel: 2.6.31 nf_ct_iterate_cleanup() and early_drop() call death_by_timeout() by "
        "name after del_timer(&ct->timeout); nf_ct_kill() calls ct->timeout.function.",
        p.timeout_handler_once,
        _ATOMIC_NA,
        overrides=(
            _smp(
                "violated",
                "the 2.6.31 iterator calls death_by_timeout() by name once del_timer("
                "&ct->timeout) succeeded; if the handler ran meanwhile, failed and moved the "
                "conntrack to the dying list, the timer it cancelled was the retry and the "
                "handler body runs a second time (the iterator stopped calling it in 3.12)",
                "smp-flush-cancels-retry",
            ),
            _smp(
                "holds",
                "nf_ct_kill() runs ct->timeout.function, which on the dying list is "
                "death_by_event(); guarded deleters run their own body; early_drop() takes "
                "the timer of a hashed conntrack whose handler is not running; with a "
                "separate retry timer del_timer(&ct->timeout) fails on a dying conntrack",
            ),
        ),
    ),
    prop(
        "no-double-unlink",
        "invariant",
        "No conntrack is unhashed twice (nf_ct_delete_from_lists() of an unhashed node).",
        "kernel: 2.6.31 clean_from_lists() deletes both tuple nodes with "
        "hlist_nulls_del_rcu(), which leaves a poisoned pprev behind.",
        p.no_double_unlink,
        _ATOMIC_NA,
        overrides=(
            _smp(
                "violated",
                "as released, ctnetlink_del_conntrack() and death_by_timeout() both unhash "
                "when both their DESTROYs fail",
                "smp-delete-unguarded",
            ),
            _smp(
                "violated",
                _GUARD_FIX + ", sends and unhashes it a second time (fixed by a separate "
                "ecache timer: 'netfilter: nf_conntrack: fix racy timer handling with "
                "reliable events', 2012)",
                "smp-retry-reuses-timeout",
            ),
            _smp(
                "holds",
                "with the delete guard and a separate retry timer, a body that unhashes runs "
                "only for the owner of ct->timeout, which is taken once per conntrack and "
                "never re-armed (mod_timer_pending() finds it idle, the retry has its own)",
            ),
        ),
    ),
    prop(
        "no-timer-rearm",
        "invariant",
        "No timer is set up and added while it is pending (timer-list corruption).",
        "kernel: 2.6.31 nf_ct_insert_dying_list() runs setup_timer() and add_timer() on "
        "ct->timeout; setup_timer() clears the node that the timer wheel still links.",
        p.no_timer_rearm,
        _ATOMIC_NA,
        overrides=(
            _smp(
                "violated",
                "a failed DESTROY in ctnetlink_del_conntrack() arms the retry on ct->timeout "
                "while it is still pending as the conntrack's timeout: one CPU suffices",
                "smp-delete-unguarded",
            ),
            _smp(
                "holds",
                "every path to nf_ct_insert_dying_list() owns ct->timeout first: the handler "
                "by its expiry, a guarded deleter and the iterator by del_timer()",
            ),
        ),
    ),
    prop(
        "no-use-after-free",
        "invariant",
        "No reference is dropped that nobody held, no conntrack is freed while a list links "
        "it, and none is added to the dying list twice.",
        "kernel: 2.6.31 nf_ct_put() frees at the last reference (destroy_conntrack(), "
        "nf_conntrack_free()).",
        p.no_use_after_free,
        _ATOMIC_NA,
        overrides=(
            _smp(
                "violated",
                "death_by_timeout() runs on the hash's reference; as released, a "
                "ctnetlink_del_conntrack() whose DESTROY failed unhashes the conntrack and, "
                "once the handler has taken the timer, arms the retry on it; the retry "
                "(death_by_event()) delivers and drops that reference while the handler "
                "still runs on the freed conntrack",
                "smp-delete-unguarded",
            ),
            _smp(
                "holds",
                "every reference is put once by its taker; with the guard no deleter "
                "proceeds while the handler runs, and the interleavings that would put the "
                "hash's reference twice (two deleters, or a deleter and the retry) unhash "
                "the conntrack twice first, where the model stops (no-double-unlink)",
            ),
        ),
    ),
)
_PRIMARY: tuple[Property, ...] = (
    prop(
        "table-bound",
        "invariant",
        "After a completed allocation, nf_conntrack_count never exceeds nf_conntrack_max "
        "(when a limit is set).",
        "seed: 'The maximum number of conntrack entries (active or inactive) is still handled "
        "by nf_conntrack_max.'",
        p.table_bound,
        (
            ("holds", "early_drop frees its victim at once: nothing outlives its deletion."),
            (
                "violated",
                "early_drop() returns 1 after death_by_timeout() even when the victim's "
                "DESTROY failed and it only moved to the dying list, still counted; the new "
                "conntrack is allocated on top.",
            ),
            ("holds", "early_drop counts a victim only if nf_ct_delete() really freed it."),
        ),
    ),
    prop(
        "count-exact",
        "invariant",
        "nf_conntrack_count equals the number of allocated conntracks (plus the one being "
        "allocated).",
        "kernel: count is incremented in nf_conntrack_alloc() and decremented in "
        "nf_conntrack_free(), dying entries included.",
        p.count_exact,
        (
            ("holds", "alloc/free pair up."),
            ("holds", "dying entries stay allocated and counted."),
            ("holds", "same accounting."),
        ),
        overrides=(
            Override(
                "smp",
                "2.6.31",
                "holds",
                "a conntrack that an in-progress call holds after its unhash is still "
                "allocated and counted; the last nf_ct_put() frees and uncounts it",
            ),
        ),
    ),
    prop(
        "one-place",
        "invariant",
        "Every allocated conntrack is on exactly one of the unconfirmed list, the hash table "
        "and the dying list.",
        "seed: 'we remove the conntrack entry from the hashes and we insert them in the dying "
        "list, which contains inactive entries.'",
        p.one_place,
        (
            ("holds", "no dying list; unlink and free are one step."),
            ("holds", "nf_ct_delete_from_lists() precedes nf_ct_insert_dying_list()."),
            ("holds", "the redelivery list replaces the hash entry."),
        ),
    ),
    prop(
        "dying-has-retry",
        "invariant",
        "Every conntrack on the dying list has a pending retry (unless the kernel crashed).",
        "seed: 'the conntrack timer is added with an extra grace timeout ... to trigger the "
        "event again'",
        p.dying_has_retry,
        (
            ("n/a", "2.6.30 has no dying list for events."),
            (
                "holds",
                "nf_ct_insert_dying_list() and death_by_event() always add_timer() after a "
                "failure; a retry timeout of 0 crashes first (see no-crash).",
            ),
            ("holds", "the delayed ecache worker is scheduled whenever the list is non-empty."),
        ),
    ),
    prop(
        "destroy-before-free",
        "action",
        "With a BE listener subscribed to DESTROY, a conntrack that reported events is freed "
        "only after that listener has its DESTROY queued.",
        "seed: 'At worst case, if no events were delivered to userspace, we make sure that "
        "destroy events are successfully delivered.'",
        p.destroy_before_free,
        (
            ("violated", "destroy_conntrack() ignores the send result and frees."),
            (
                "holds",
                "death_by_timeout()/death_by_event() free only after a successful send, "
                "and success means every BE socket took the message.",
            ),
            ("holds", "nf_ct_delete() frees only after the DESTROY was delivered."),
        ),
        overrides=(
            _netns_exit_6x(),
            Override(
                "build-failure",
                "2.6.31",
                "violated",
                "a message that fails to be built counts as delivered in 2.6.31 "
                "(ctnetlink_conntrack_event() returns 0 after nfnetlink_set_err())",
            ),
            Override(
                "build-failure-without-no-enobufs",
                "6.x",
                "violated",
                "an unbuilt message counts as delivered unless some socket of the group set "
                "NETLINK_NO_ENOBUFS (nfnetlink_set_err() returns how many did): a reliable "
                "listener without it loses the DESTROY and the conntrack is freed",
            ),
            _smp(
                "violated",
                "nf_ct_delete() guarded by test_and_set_bit(IPS_DYING_BIT) sets DYING before "
                "its report, and the send of 3.17 to 4.8 still skips a DYING conntrack "
                "(`nf_ct_is_confirmed(ct) && !nf_ct_is_dying(ct)`) and returns 0: the DESTROY "
                "is never sent and the conntrack is freed as if it had been delivered (the "
                "combination that 'netfilter: don't rely on DYING bit to detect when destroy "
                "event was sent', 4.9, was written to avoid; no kernel had it)",
                "smp-dying-skips-send",
            ),
            _smp(
                "holds",
                "3.17 to 4.8: a conntrack is freed by nf_ct_delete() or by the ecache worker "
                "only after a send that succeeded, and DYING, which makes the send a no-op, "
                "is set only after one; with the 4.9 three-state the send no longer tests "
                "DYING and the worker re-sends every DESTROY_FAIL entry",
                "smp-retry-by-worker",
            ),
            Override(
                "netns-exit",
                "2.6.31",
                "holds",
                f"{_NETNS_EXIT_2_6_31}; a conntrack is still freed only after a successful send",
            ),
        ),
    ),
    prop(
        "nothing-after-destroy",
        "action",
        "No NEW or update message of a conntrack reaches a listener after its DESTROY did.",
        "observed on Linux 6.18: no event for a conntrack instance ever arrives after its DESTROY.",
        p.nothing_after_destroy,
        (
            (
                "holds",
                "after deletion the conntrack is unhashed, so no packet caches events for "
                "it; the model processes a packet of an existing conntrack atomically.",
            ),
            (
                "holds",
                "re-sends after a failed DESTROY carry DESTROY; no packet reaches an "
                "unhashed conntrack (atomic-packet abstraction: the in-flight race of this era is "
                "left out).",
            ),
            (
                "holds",
                "nf_ct_delete() sets DYING first and events are not sent for dying conntracks.",
            ),
        ),
    ),
    prop(
        "missed-only-undelivered",
        "invariant",
        "`missed` holds only bits generated for this conntrack and not delivered since.",
        "seed: 'if an event delivery fails, we keep the undelivered events in the missed "
        "event cache.'",
        p.missed_only_undelivered,
        (
            ("n/a", "2.6.30 has no missed cache."),
            (
                "holds",
                "failures OR the sent new bits into missed; successes clear the sent missed bits.",
            ),
            ("holds", "same, with cmpxchg."),
        ),
    ),
    prop(
        "missed-keeps-undelivered",
        "invariant",
        "Every event bit raised for a live conntrack with an event cache and not sent "
        "successfully since is still in its event cache or its missed cache, until the "
        "conntrack starts dying.",
        "seed: 'if an event delivery fails, we keep the undelivered events in the missed "
        "event cache.' (the direction `missed-only-undelivered` leaves open)",
        p.missed_keeps_undelivered,
        (
            (
                "violated",
                "nf_ct_deliver_cached_events() clears ecache->events whatever the notifier "
                "chain returns: an event a BE listener could not queue is gone.",
            ),
            (
                "holds",
                "nf_ct_deliver_cached_events() ORs the events of a failed send into "
                "e->missed and clears only the missed bits of a successful one; a dying "
                "conntrack's bits go with its DESTROY.",
            ),
            (
                "holds",
                "same: __nf_conntrack_eventmask_report() ORs a failed send's events into "
                "e->missed (a cmpxchg loop) and clears the sent missed bits after a success.",
            ),
        ),
    ),
    prop(
        "no-crash",
        "invariant",
        "No step divides by zero or otherwise faults.",
        "kernel code: random32() % sysctl_events_retry_timeout with the sysctl at 0.",
        p.no_crash,
        (
            ("holds", "no retry timer."),
            ("holds", "with a positive retry timeout nothing faults."),
            ("holds", "the retry delay is a constant."),
        ),
        overrides=(
            Override(
                "retry-timeout-0",
                "2.6.31",
                "violated",
                "the sysctl accepts 0 and the next failed DESTROY computes random32() % 0 in "
                "nf_ct_insert_dying_list() or death_by_event()",
            ),
        ),
    ),
    prop(
        "deadlock-free",
        "invariant",
        "No CPU waits for ever on a lock: neither on one it holds itself nor on one held by a "
        "CPU that waits on one it holds.",
        "kernel: a spinlock is not recursive; spin_lock_bh() on a lock the CPU holds spins for "
        "ever (6.x: cnet->ecache.dying_lock in ecache_work_evict_list()).",
        p.deadlock_free,
        (
            (
                "holds",
                "each modelled function takes nf_conntrack_lock only while it does not hold it: "
                "get_next_corpse() releases it before the iterator calls death_by_timeout(), "
                "which takes it to unhash.",
            ),
            (
                "holds",
                "the modelled functions take nf_conntrack_lock and release it within one step "
                "(nf_ct_release_dying_list() takes it again when another namespace exits: "
                "configs with other_netns_exit, below).",
            ),
            (
                "holds",
                "ecache_work_evict_list() drops dying_lock at the end of a batch (`if "
                "(sent++ > 16)`) and `next:` takes it again: one hold at a time.",
            ),
        ),
        overrides=(
            Override("release-dying-list-deadlocks", "2.6.31", "violated", _RELEASE_DEADLOCK),
            Override(
                "other-netns-exit",
                "2.6.31",
                "holds",
                "fixed: nf_ct_release_dying_list(net) walks the exiting namespace's own list, "
                "or the retry is off ct->timeout (retry_timer_separate), so nf_ct_kill()'s "
                "del_timer() fails on a held conntrack and death_by_event() never runs under "
                "nf_conntrack_lock",
            ),
            Override(
                "worker-relocks-twice",
                "6.x",
                "violated",
                "the worker under review took dying_lock again after cond_resched() and then "
                "jumped to `next:`, which takes it once more: the walk that delivers "
                "`ecache_batch` DESTROYs (18 in the kernel) in one hold spins for ever on the "
                "lock it holds (fixed in review before 5.19)",
            ),
            Override("worker-relocks-twice-inverted", "6.x", "n/a", _WORKER_RELOCK_NOT_JUDGED),
            _smp(
                "holds",
                "nf_conntrack_lock is held only by the flush between get_next_corpse() and its "
                "next step, and what kill_report() calls under it (the DESTROY send) takes no "
                "lock the CPU holds; the other steps that take it wait while it is held",
            ),
        ),
    ),
    prop(
        "destroy-eventually",
        "liveness",
        "Every dying conntrack is eventually freed, with its DESTROY read by every BE listener "
        "subscribed to DESTROY that was open since before it was created.",
        "seed: 'we make sure that destroy events are successfully delivered' and 'the "
        "userspace process gets in sync at some point'",
        None,
        (
            ("violated", "the DESTROY is dropped for a full BE listener and never re-sent."),
            (
                "holds",
                "under listeners-read, timers-fire, packets-complete, traffic-stops and "
                "retry-timeout-positive: once traffic stops only finitely many messages reach "
                "the reliable listener, so its queue drains and a later retry succeeds.",
            ),
            (
                "holds",
                "the worker re-runs until the list is empty once traffic stops and the "
                "reliable listener drains.",
            ),
        ),
        fairness=_EVENTUALLY_FAIR,
        overrides=_EVENTUALLY_OVERRIDES,
    ),
    prop(
        "expiry-eventually",
        "liveness",
        "Once traffic stops, every conntrack is eventually freed (its timeout runs out and the "
        "conntrack is destroyed), with its DESTROY read by every BE listener subscribed to "
        "DESTROY that was open since before it was created.",
        "kernel: death_by_timeout() runs when ct->timeout expires (2.6.x); gc_worker() kills "
        "an expired conntrack at a later scan of the table (nf_ct_gc_expired(), 6.x)",
        None,
        (
            (
                "violated",
                "the conntrack expires and is freed, but its DESTROY can be dropped for a full "
                "BE listener and is never re-sent.",
            ),
            (
                "holds",
                "under the fairness of destroy-eventually: once traffic stops every timer "
                "runs out, death_by_timeout() moves the conntrack to the dying list, and "
                "destroy-eventually applies.",
            ),
            (
                "holds",
                "under the fairness of destroy-eventually, which includes the gc worker "
                "(timers-fire): it reaps every expired conntrack at some later scan; the "
                "model does not bound how late (on a live 6.18 an idle expired conntrack's "
                "DESTROY came about a minute after its expiry, its stop timestamp saying "
                "when it expired).",
            ),
        ),
        fairness=_EVENTUALLY_FAIR,
        overrides=_EVENTUALLY_OVERRIDES,
    ),
    prop(
        "may-lose-without-be",
        "non-guarantee",
        "Without NETLINK_BROADCAST_ERROR a listener can lose a DESTROY for good.",
        "kernel: a failed delivery is reported back only for sockets with BE set.",
        p.lost_without_be,
        (
            ("witness", "overrun sockets drop the message; nothing is re-sent."),
            ("witness", "success needs only the BE sockets; others may have dropped it."),
            ("witness", "same."),
        ),
    ),
    prop(
        "may-coalesce",
        "non-guarantee",
        "A listener can miss an intermediate state transition (merged into a later message, or "
        "never sent on its own).",
        "seed: 'we may lose state transitions but the userspace process gets in sync at some "
        "point.'",
        p.coalesced,
        (
            ("witness", "a dropped update is simply lost."),
            ("witness", "missed bits are merged into the next message."),
            ("witness", "same; observed on 6.18."),
        ),
    ),
    prop(
        "may-reorder",
        "non-guarantee",
        "DESTROY messages can reach a listener in a different order than the deaths.",
        "seed: 'Event delivery may re-order but we can identify them by means of the tuple plus "
        "the conntrack ID.'",
        p.reordered,
        (
            ("no-witness", "each DESTROY is sent once, at the death, into FIFO socket queues."),
            (
                "witness",
                "a failed DESTROY is re-sent later by a random timer while later deaths "
                "are delivered at once.",
            ),
            ("witness", "the redelivery list is walked newest first; observed on 6.18."),
        ),
    ),
    prop(
        "may-duplicate",
        "non-guarantee",
        "A listener can receive the same NEW or DESTROY of a conntrack twice.",
        "kernel: other sockets see the same message again when the kernel re-sends it.",
        p.duplicated,
        (
            ("no-witness", "every event is sent once."),
            ("witness", "a re-send reaches the sockets that had taken the failed one."),
            ("witness", "observed on 6.18 at a fast unreliable listener."),
        ),
    ),
    prop(
        "may-drop-when-full",
        "non-guarantee",
        "A new flow can be dropped while entries waiting on the dying list fill the table.",
        "seed: 'we may start dropping packets at some point if we accumulate a lot of inactive "
        "conntrack entries'",
        p.dropped_when_full,
        (
            ("n/a", "no dying list."),
            ("witness", "dying entries count and cannot be early-dropped."),
            ("witness", "observed on 6.18 (EPERM, 'table full')."),
        ),
    ),
    prop(
        "expectation-unreliable",
        "non-guarantee",
        "An expectation event can be lost even for a listener with BE set.",
        "seed: 'For expectations, no changes are introduced in this patch.'",
        p.expectation_lost,
        (
            ("witness", "best effort."),
            ("witness", "nf_ct_expect_event_report() ignores the send result."),
            ("witness", "still best effort."),
        ),
    ),
    prop(
        "missed-waits-for-traffic",
        "non-guarantee",
        "A missed event stays undelivered while the flow sends only packets that cache nothing, "
        "even when the listeners have room.",
        "seed: 'Once the next packet arrives, we add the new events (if any) to the missed "
        "events in the cache and we try a new delivery'",
        p.missed_waits,
        (
            ("no-witness", "there is no missed cache to wait in."),
            ("witness", "nf_ct_deliver_cached_events() returns early when the cache is empty."),
            ("no-witness", "cache | missed is sent whenever the union is non-empty."),
        ),
    ),
    prop(
        "identity-unique",
        "action",
        "Tuple plus conntrack id identify one conntrack among the events a listener receives: "
        "no event of an older conntrack arrives after one of a newer conntrack with the same "
        "tuple and id.",
        "seed: 'we can identify them by means of the tuple plus the conntrack ID.'",
        p.identity_unique,
        (
            (
                "holds",
                "the id is the object address (ctnetlink_dump_id()); it is reused only after "
                "the free, after every message of the old conntrack was sent.",
            ),
            (
                "holds",
                "a conntrack on the dying list keeps its memory, so a new conntrack of the "
                "same tuple gets another address until the old DESTROY was sent.",
            ),
            (
                "holds",
                "nf_ct_get_id() hashes the object's address with its tuple; a conntrack on "
                "the redelivery list holds its reference (and so its memory) until its DESTROY "
                "was sent, so a newer conntrack of the same tuple gets another id while any "
                "message of the old one can still be sent.",
            ),
        ),
    ),
    prop(
        "id-reuse",
        "non-guarantee",
        "A listener can receive messages of two conntracks with the same tuple and the same id "
        "(one freed, the next allocated in its memory).",
        "ctnetlink reports the object's address as the id (2.6.30, 2.6.31) or a hash of the "
        "address and the tuple (nf_ct_get_id(), since 5.x); the conntrack slab reuses a freed "
        "object at once (SLAB_TYPESAFE_BY_RCU).",
        p.id_reused,
        (
            ("witness", "the freed object's address is the next conntrack's id."),
            ("witness", "same: the address is the id once the old conntrack is freed."),
            (
                "witness",
                "the same object and the same tuple give the same hash; observed on 6.18, "
                "where the next conntrack of a tuple often gets the id of the previous one.",
            ),
        ),
    ),
    prop(
        "new-before-destroy",
        "action",
        "A reliable listener that receives a conntrack's DESTROY has received its NEW before.",
        "seed: 'Thus, if ctnetlink fails to deliver an event, we try to deliver them once we "
        "see a new packet.'",
        p.new_before_destroy,
        (
            ("violated", "a NEW dropped for a full socket is never re-sent."),
            ("violated", "a missed NEW travels inside the DESTROY message (a DELETE message)."),
            ("violated", "observed on 6.18: NEW absorbed into DESTROY."),
        ),
    ),
    prop(
        "no-destroy-before-listener",
        "non-guarantee",
        "A conntrack created while events were off never emits a DESTROY, even to a reliable "
        "listener.",
        "kernel: the event extension is added at creation only if nf_conntrack_events is on.",
        p.silent_destroy,
        (
            ("no-witness", "no per-conntrack switch: every conntrack reports."),
            ("witness", "nf_ct_ecache_ext_add() is skipped while the sysctl is 0."),
            ("witness", "auto mode: no extension without a listener at creation."),
        ),
    ),
    prop(
        "auto-mode-late-listener",
        "non-guarantee",
        "In auto mode (nf_conntrack_events=2, the default of current kernels), a conntrack "
        "created while no listener was subscribed never emits a DESTROY, even to a reliable "
        "listener that subscribed before it died.",
        "kernel: nf_ct_ecache_ext_add() in auto mode adds no event extension while no "
        'ctnetlink listener is subscribed ("netfilter: conntrack: add nf_conntrack_events '
        'autodetect mode", Linux 5.19; the listener flag global since "netfilter: '
        'ctnetlink: make event listener tracking global", 6.3).',
        p.auto_mode_late_listener,
        (
            ("n/a", "no auto mode: the sysctl is 0 or 1."),
            ("n/a", "no auto mode: the sysctl is 0 or 1."),
            (
                "witness",
                "a conntrack created before the first listener has no extension, so it "
                "never reports, whoever listens later.",
            ),
        ),
        overrides=(
            Override(
                "events-mode-varies",
                "6.x",
                "n/a",
                "judged only where nf_conntrack_events stays 2: the model does not record the "
                "mode a conntrack was created in, so where the sysctl is written a silent "
                "conntrack may come from mode 0 (no-destroy-before-listener)",
            ),
        ),
    ),
    prop(
        "early-drop-spares-assured",
        "action",
        "A full table never evicts an ASSURED conntrack to make room for a new one.",
        "kernel: early_drop() skips entries with IPS_ASSURED_BIT set (2.6.x: the "
        "hash-chain scan; 6.x: early_drop_list()).",
        p.early_drop_spares_assured,
        (
            ("holds", "early_drop() picks only a conntrack without IPS_ASSURED_BIT."),
            ("holds", "same; the reliable-events patch does not change the choice."),
            ("holds", "early_drop_list() skips ASSURED entries (and dying ones)."),
        ),
    ),
    prop(
        "flush-confirm-race",
        "non-guarantee",
        "A conntrack that is still unconfirmed while a flush runs is hashed with DYING set and "
        "never reports NEW nor DESTROY.",
        "kernel: get_next_corpse() sets DYING on unconfirmed entries; 2.6.31 "
        "__nf_conntrack_confirm() does not check it (fixed in 2014).",
        p.flush_confirm_race,
        (
            ("n/a", "the 2.6.30 model does not model the marking of unconfirmed entries."),
            ("witness", "the DYING bit set by the flush suppresses every later event."),
            ("no-witness", "__nf_conntrack_confirm() drops dying conntracks."),
        ),
    ),
    *SMP_PROPERTIES,
)

PRIMARY: tuple[Property, ...] = tuple(
    replace(entry, observes=p.observes(entry.id)) for entry in _PRIMARY
)
"""The catalogue's own properties, each with the observers its check reads."""

CATALOGUE: tuple[Property, ...] = PRIMARY + AUXILIARY

BY_ID: Mapping[str, Property] = {entry.id: entry for entry in CATALOGUE}


def lookup(prop_id: str) -> Property:
    """The property with this id; KeyError with the known ids otherwise."""
    try:
        return BY_ID[prop_id]
    except KeyError:
        raise KeyError(f"unknown property id {prop_id!r} (known: {', '.join(BY_ID)})") from None
