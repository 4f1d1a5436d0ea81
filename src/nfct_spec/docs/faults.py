"""The kernel faults of the history page: the races that broke reliable DESTROY delivery
after it was introduced in 2.6.31, from the kernel code and the upstream commit subjects.

A fault is `searched` when an era flag switches it off (the smp granularity's guards) or on
(the 6.x worker's review era, a version before the released one): the page then runs the
explorer on the era config that has it and on the config that differs only by that flag, for
the catalogue entries that catch it. `scripted` when the model has the fault but no catalogue
entry is about what it breaks: the page replays one run that shows it. Otherwise the fault is
not modelled and the record says what the model lacks; nothing is claimed for it.

The searched faults also say which era config is built to show which finding (`SHOWN_BY`):
`nfct-spec eras` judges those configs by it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    """One row of the history page."""

    title: str
    kernels: str
    symptom: str
    fix: str
    """The upstream fix (empty: none cited)."""
    flag: str = ""
    """The `Config` field whose setting is the fix (empty: not modelled), or with
    `flag_adds_fault` the one whose setting puts the fault in."""
    flag_adds_fault: bool = False
    """The flag is an era before the released code (a version under review): set, the fault is
    there; clear, the code is as released."""
    shipped: str = ""
    """Searched faults: the era config (`configs/NAME.json`) that has the fault."""
    fixed: str = ""
    """Searched faults: the era config that is `shipped` with `flag` set (cleared with
    `flag_adds_fault`)."""
    properties: tuple[str, ...] = ()
    """Searched faults: the catalogue entries that catch it."""
    missing: str = ""
    """Not modelled: what the model lacks to express it."""
    released: str = ""
    """Searched faults that no released kernel had: the era config of the released scheme,
    searched for the same properties (they hold there)."""
    finding: str = ""
    """What the model shows of the fault beyond its symptom (empty: nothing more)."""

    @property
    def fixed_value(self) -> bool:
        """The value of `flag` in the `fixed` config."""
        return not self.flag_adds_fault

    @property
    def kind(self) -> str:
        """`searched`, `scripted` or `not modelled`."""
        if self.properties:
            return "searched"
        return "scripted" if self.flag else "not modelled"


FAULTS: tuple[Fault, ...] = (
    Fault(
        "ctnetlink_del_conntrack() reports DESTROY before taking the timer",
        "2.6.31 until the 2012 fix",
        "`conntrack -D` reports DESTROY without owning `ct->timeout` and sets DYING only after "
        "the send: a second deleter, or a death_by_timeout() already running on another CPU, "
        "sends a second DESTROY in between; a failed DESTROY arms the retry on `ct->timeout` "
        "while it is still pending (timer-list corruption); and the retry can free the "
        "conntrack while the timeout handler still runs on it.",
        '"netfilter: ctnetlink: fix race between delete and timeout expiration" (2012): '
        "ctnetlink_del_conntrack() starts with `if (del_timer(&ct->timeout))` and reports only "
        "then.",
        flag="delete_takes_timer",
        shipped="smp-2.6.31",
        fixed="smp-delete-guard",
        properties=("destroy-once", "no-timer-rearm", "no-use-after-free"),
    ),
    Fault(
        "The dying entry's retry re-uses ct->timeout",
        "2.6.31 until the 2012 fix",
        "nf_ct_insert_dying_list() arms the retry (death_by_event()) on `ct->timeout` itself: "
        "a deleter or the flush iterator that found the conntrack while it was hashed and "
        "whose `del_timer(&ct->timeout)` comes after death_by_timeout() moved it to the dying "
        "list cancels the retry instead, and unhashes the conntrack a second time; the 2.6.31 "
        "iterator then runs death_by_timeout() on it a second time.",
        '"netfilter: nf_conntrack: fix racy timer handling with reliable events" (2012): the '
        "retry runs on a timer of the event cache extension, so `del_timer(&ct->timeout)` "
        "fails on a dying conntrack.",
        flag="retry_timer_separate",
        shipped="smp-delete-guard-flush",
        fixed="smp-ecache-timer-flush",
        properties=("no-double-unlink", "timeout-handler-once"),
    ),
    Fault(
        "The flush iterator's kill_report() delivers DESTROY before del_timer()",
        "2.6.31 to 3.11",
        "`conntrack -F`: get_next_corpse() calls kill_report(), which sends DESTROY under "
        "nf_conntrack_lock, before the iterator's `del_timer(&ct->timeout)`, and sets DYING "
        "only after the send: a death_by_timeout() already running sends a second DESTROY in "
        "between.",
        '"netfilter: nf_conntrack: don\'t send destroy events from iterator" (3.12): the '
        "callback only selects, and the DESTROY is sent after a successful del_timer(), with "
        "the requester's port id.",
        flag="iterator_takes_timer",
        shipped="smp-delete-guard-flush",
        fixed="smp-iterator-guard-flush",
        properties=("destroy-once", "timeout-handler-once"),
    ),
    Fault(
        'The DYING bit used as "DESTROY delivered"',
        "3.17 to 4.8 (the scheme); the fault is in no released kernel",
        "In 3.17 to 4.8 DYING meant both 'being deleted' and 'DESTROY delivered': "
        "nf_ct_delete() sets it only after a delivered DESTROY; the send, "
        "nf_conntrack_eventmask_report(), skips a DYING conntrack "
        "(`nf_ct_is_confirmed(ct) && !nf_ct_is_dying(ct)`) and returns 0; and a conntrack "
        "whose DESTROY failed waits on the per-CPU dying list with DYING clear for the ecache "
        "work, whose ecache_work_evict_list() skips entries with DYING "
        "(`if (nf_ct_is_dying(ct)) continue;`), re-sends DESTROY to the others and sets DYING "
        "once delivered. This is sound as released: every caller of nf_ct_delete() first wins "
        "`del_timer(&ct->timeout)` (__nf_ct_kill_acct(), nf_ct_iterate_cleanup(), "
        "ctnetlink_del_conntrack(), early_drop()) or is the timer's handler "
        "death_by_timeout(), so one CPU reports, and DYING is set only after a delivered "
        "DESTROY. Removing the conntrack timer needed "
        "`test_and_set_bit(IPS_DYING_BIT)` as the guard instead, which sets DYING before the "
        "report: with the send's test the DESTROY would never be sent and the conntrack freed "
        "as if it had been (a missed DESTROY); were that test dropped alone, a failed DESTROY "
        "would be skipped by the work for ever. The fix went in just before that guard, so "
        "no kernel had both.",
        '"netfilter: don\'t rely on DYING bit to detect when destroy event was sent" (4.9), '
        'the commit before "netfilter: conntrack: get rid of conntrack timer" (f330a7fdbe16): '
        "the send tests only `nf_ct_is_confirmed(ct)`, a failed DESTROY sets the event "
        "cache's new `state` to NFCT_ECACHE_DESTROY_FAIL (of NFCT_ECACHE_UNKNOWN, "
        "NFCT_ECACHE_DESTROY_FAIL, NFCT_ECACHE_DESTROY_SENT), and the work re-sends only to "
        "DESTROY_FAIL entries, marking them DESTROY_SENT. The timer removal then made "
        "`if (test_and_set_bit(IPS_DYING_BIT, &ct->status)) return false;` the first line of "
        "nf_ct_delete().",
        flag="ecache_destroy_state",
        shipped="smp-dying-worker-test-and-set",
        fixed="smp-dying-worker-ecache-state",
        properties=("destroy-before-free",),
        released="smp-dying-worker",
    ),
    Fault(
        "The redelivery worker's inverted time_after()",
        "5.19 to today",
        "ecache_work_evict_list() sets `stop = jiffies + ECACHE_MAX_JIFFIES` and then breaks "
        "with STATE_RESTART when `time_after(stop, jiffies)`, which is true while the time "
        "slice is not over: after the first DESTROY it delivers, the worker stops and "
        "ecache_work() queues it again at once (delay 0). Every DESTROY is still delivered, "
        "one per run of the worker.",
        'Introduced by "netfilter: ecache: use dedicated list for event redelivery" (5.19); '
        "the fix swaps the comparison to `time_after(jiffies, stop)` (posted, not in the "
        "kernels the model cites). The 6.x variant has the worker as shipped; "
        "`ecache_work_fixed` models the fix.",
        flag="ecache_work_fixed",
    ),
    Fault(
        "Namespace exit and nf_ct_release_dying_list() in 2.6.31",
        "2.6.31",
        "nf_conntrack_cleanup_net() loops `nf_ct_iterate_cleanup(net, kill_all, NULL); "
        "nf_ct_release_dying_list();` until the namespace's count is 0. "
        "nf_ct_release_dying_list() walks `init_net.ct.dying` whatever namespace exits, and "
        "calls nf_ct_kill() on each entry under spin_lock_bh(&nf_conntrack_lock): the kill "
        "steals the held conntrack's retry timer (`ct->timeout`) and runs death_by_event() "
        "inline, which, once its DESTROY is delivered to a listener of init_net, takes "
        "nf_conntrack_lock again: a self-deadlock on the exit of any other namespace. (On "
        "module unload, where ctnetlink is gone and every send counts as delivered, the same "
        "walk of init_net's own list deadlocks too: 'no listeners at this point'.) The exiting "
        "namespace's own held conntracks are left to their retry timers, and the loop waits "
        "for them (`netns_exit`, atomic: destroy-before-free and destroy-eventually hold).",
        "Later kernels walk the exiting namespace's list (`nf_ct_release_dying_list(net)`, "
        "`&net->ct.dying`), so another namespace's exit leaves init_net's held conntracks "
        "alone; and once the retry moved to a timer of the event cache extension ('netfilter: "
        "nf_conntrack: fix racy timer handling with reliable events', 2012), nf_ct_kill()'s "
        "`del_timer(&ct->timeout)` fails on a held conntrack and death_by_event() no longer "
        "runs under the lock.",
        flag="release_own_dying_list",
        shipped="smp-netns-exit",
        fixed="smp-netns-exit-own-list",
        properties=("deadlock-free",),
    ),
    Fault(
        "The review version of the 5.19 redelivery worker took dying_lock twice",
        "a version under review before 5.19 (never released)",
        'ecache_work_evict_list() of "netfilter: ecache: use dedicated list for event '
        'redelivery" as posted for net-next on 10 May 2022 ended a batch (`if (sent++ > 16)`, '
        "the 18th DESTROY delivered in one hold of `dying_lock`) with `spin_unlock_bh()`, "
        "`cond_resched()`, `spin_lock_bh()` and `goto next`, where `next:` takes "
        "`dying_lock` again: the worker's CPU spins for ever on a lock it holds.",
        "Found in review (sparse flagged the lock imbalance): the second `spin_lock_bh()` was "
        "dropped before the patch was merged for 5.19, so the released worker takes the lock "
        "once per batch.",
        flag="worker_relocks_twice",
        flag_adds_fault=True,
        shipped="worker-review-relock",
        fixed="worker-released-relock",
        properties=("deadlock-free",),
        finding="the batch test comes after the time test of fault 5, which as shipped stops "
        "the walk with STATE_RESTART after its first delivered DESTROY unless the clock has "
        "passed `stop` (ECACHE_MAX_JIFFIES, 10 ms, after the start) by then, and then never "
        "stops it again: with that test inverted the batch end, and so the deadlock, is "
        "reached only by a run whose first delivery takes 10 ms or more (rare, not "
        "impossible: a contended lock, interrupts). A run of the model's worker takes no "
        "time, so the model reaches the batch end only with `ecache_work_fixed` (both era "
        "configs set it, and a batch of one DESTROY, `ecache_batch`, for their one-slot "
        "list); without it `deadlock-free` is not judged "
        "on the review era (n/a).",
    ),
)
"""The faults in the order they entered the kernel."""


def _shown_by() -> dict[str, tuple[str, ...]]:
    shown: dict[str, tuple[str, ...]] = {}
    for fault in FAULTS:
        for prop_id in fault.properties:
            configs = shown.get(prop_id, ())
            if fault.shipped not in configs:
                shown[prop_id] = (*configs, fault.shipped)
    return shown


SHOWN_BY: Mapping[str, tuple[str, ...]] = _shown_by()
"""Per catalogue entry, the era configs built to show its finding: the `shipped` config of each
searched fault the entry catches. The catalogue expects the finding there, and the fault is in
the config by construction, so an exhaustive search without it means the model lost the fault
(`nfct-spec eras` reports a contradiction, as `nfct_spec.engines.suite.SHOWN_BY` does for the
`ci` suite), not that the config is too small for it."""
