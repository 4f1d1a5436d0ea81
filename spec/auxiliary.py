"""The auxiliary invariants of the inductive proofs, as catalogue entries (`aux-*`).

The Z3 proofs need stronger invariants than the catalogue states (`nfct_spec.proofs.plans`):
each auxiliary conjunct is written once, in the term language, in `nfct_spec.spec.invariants`.
Here each gets a catalogue entry of its own, so that the Hypothesis engine and the explorer
check it on the model states they reach (through the same projection the agreement tests use)
and the Z3 engine reports it proved as a conjunct of the invariant that needs it. A conjunct
that reads an observer field needs the OBLIGATIONS observers (found by reading which fields the
predicate looks at).

Expected verdicts come from the kernel code, like every other entry. Where a conjunct is a
strengthening for one variant only, the other variants either break it (`violated`, with the
mechanism that does) or lack what it speaks of (`n/a`): the 6.x redelivery list does not exist
before 6.x, and 6.x has no 2.6.31 dying list with retry timers.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from nfct_spec.models.config import Config, ListenerConfig
from nfct_spec.models.observers import KERNEL, OBLIGATIONS
from nfct_spec.models.state import State, initial_state
from nfct_spec.spec.invariants import BY_ID as TERMS
from nfct_spec.spec.invariants import Pred
from nfct_spec.spec.lazy import LazyProjection
from nfct_spec.spec.params import Params, concrete_params
from nfct_spec.spec.records import Override, Property, prop
from nfct_spec.spec.terms import truth
from nfct_spec.spec.vocab import (
    OBSERVER_FIELDS,
    AState,
    Shape,
    project,
    shape_for,
)

Verdicts = tuple[tuple[str, str], tuple[str, str], tuple[str, str]]


@cache
def _params(config: Config) -> tuple[Shape, Params]:
    shape = shape_for(config)
    return shape, concrete_params(config, shape)


Memo = dict[tuple[Any, ...], bool]
"""Verdicts of one invariant by the values of the fields it reads."""


class _LastProjection:
    """The abstract state of the last model state asked for, computed lazily: the engines
    evaluate every invariant on one state before the next. The config is compared by identity
    (hashing a config costs more than a check)."""

    def __init__(self) -> None:
        self.config: Config | None = None
        self.shape = Shape(0, 0)
        self.params: Params | None = None
        self.memo: dict[str, Memo] = {}
        self.state: State | None = None
        self.abstract: AState = {}

    def __call__(self, config: Config, state: State) -> tuple[AState, Params, dict[str, Memo]]:
        if config is not self.config or self.params is None:
            self.config, self.state = config, None
            self.shape, self.params = _params(config)
            self.memo = _memos(config)
        if state is not self.state:
            self.state = state
            self.abstract = LazyProjection(state, self.shape)
        return self.abstract, self.params, self.memo


@cache
def _memos(config: Config) -> dict[str, Memo]:
    """Per invariant, the verdicts already known for this config by the fields it reads."""
    return {inv_id: {} for inv_id in TERMS}


_LAST = _LastProjection()


class _Reads(dict[str, Any]):
    """An abstract state that notes which fields a predicate reads."""

    def __init__(self, state: AState) -> None:
        super().__init__(state)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)


@cache
def fields_read(pred: Pred) -> tuple[str, ...]:
    """The abstract fields a term predicate reads (on a sample state of a small config): all
    of them whatever the state, since a term evaluates every operand."""
    config = Config(
        listeners=(ListenerConfig("sample", ("new", "destroy")),),
        nf_conntrack_max=1,
        flows=1,
        slots=2,
    )
    shape, params = _params(config)
    reads = _Reads(project(config, initial_state(config), shape))
    pred(reads, params)
    return tuple(sorted(reads.read))


def level_of(pred: Pred) -> int:
    """The observers a term predicate needs: OBLIGATIONS if it reads an observer field."""
    return OBLIGATIONS if set(fields_read(pred)) & OBSERVER_FIELDS else KERNEL


def _key_of(names: tuple[str, ...]) -> Callable[[AState], tuple[Any, ...]]:
    """The memo key of a state for a predicate reading `names`: their values, in order (an
    itemgetter reads them in C; with one name it returns the value itself, so that is wrapped
    into a tuple)."""
    if not names:
        return lambda abstract: ()
    getter = operator.itemgetter(*names)
    if len(names) == 1:
        return lambda abstract: (getter(abstract),)
    return getter


def _verdict(
    pred: Pred, memo: Memo, key: tuple[Any, ...], abstract: AState, params: Params
) -> bool:
    """The verdict of `pred` on a state whose read fields are `key`, remembered in `memo`."""
    found = memo.get(key)
    if found is None:
        found = memo[key] = bool(truth(pred(abstract, params)))
    return found


def _check_of(inv_id: str) -> Callable[[Config, State], bool]:
    """The check of one auxiliary invariant. Its verdict depends only on the fields it reads
    (and the config), so verdicts are remembered per config by the values of those fields:
    states that differ elsewhere share them."""
    pred = TERMS[inv_id].pred
    key_of = _key_of(fields_read(pred))

    def check(config: Config, state: State) -> bool:
        abstract, params, memos = _LAST(config, state)
        memo = memos[inv_id]
        return _verdict(pred, memo, key_of(abstract), abstract, params)

    check.__name__ = check.__qualname__ = "aux_" + inv_id.removeprefix("aux-").replace("-", "_")
    check.__doc__ = f"`{inv_id}` on the projected state: {TERMS[inv_id].statement}."
    _CHECKED[check] = inv_id
    return check


_CHECKED: dict[Callable[..., object], str] = {}
"""The auxiliary invariant each check function of `_check_of` judges (for `Batch`)."""


def batchable(check: Callable[..., object] | None) -> str | None:
    """The auxiliary invariant `check` judges, if it is one of theirs (None otherwise)."""
    return None if check is None else _CHECKED.get(check)


class Batch:
    """Several auxiliary invariants judged on one state at once.

    The explorer judges every invariant of its search on every new state, and these are most
    of them: one by one, each check pays a call, the test of which state the shared projection
    holds, and a key built field by field. A batch projects the state once and reads each
    invariant's memo key with one C call. The memos and keys are those of the checks
    themselves (`_check_of`), so every verdict is theirs.
    """

    def __init__(self, inv_ids: Sequence[str]) -> None:
        self.inv_ids = tuple(inv_ids)
        self._keys = [_key_of(fields_read(TERMS[i].pred)) for i in self.inv_ids]
        self._config: Config | None = None
        self._shape = Shape(0, 0)
        self._bound: list[tuple[str, Callable[[AState], tuple[Any, ...]], Pred, Memo]] = []
        self._params: Params | None = None

    def failing(self, config: Config, state: State) -> list[str]:
        """The invariants of the batch that `state` breaks (in the batch's order)."""
        if config is not self._config:
            self._config = config
            self._shape, self._params = _params(config)
            memos = _memos(config)
            self._bound = [
                (i, key, TERMS[i].pred, memos[i])
                for i, key in zip(self.inv_ids, self._keys, strict=True)
            ]
        abstract = LazyProjection(state, self._shape)
        params = self._params
        assert params is not None
        broken = []
        for inv_id, key_of, pred, memo in self._bound:
            if not _verdict(pred, memo, key_of(abstract), abstract, params):
                broken.append(inv_id)
        return broken


def _aux(inv_id: str, source: str, verdicts: Verdicts, *overrides: Override) -> Property:
    statement = TERMS[inv_id].statement
    return prop(
        inv_id,
        "invariant",
        statement[0].upper() + statement[1:] + ".",
        source,
        _check_of(inv_id),
        verdicts,
        overrides=overrides,
        observes=level_of(TERMS[inv_id].pred),
    )


MODEL = "model bookkeeping"
HOLDS_ALL: Verdicts = (("holds", MODEL), ("holds", MODEL), ("holds", MODEL))
NO_DYING_LIST = "2.6.30 has no dying list for events."
NO_REDELIVERY = "the redelivery list of nf_ct_delete() exists only since 5.x (6.x here)."

AUXILIARY: tuple[Property, ...] = (
    _aux(
        "aux-free-clean",
        "model: a slot's observers are cleared when its conntrack is freed and start afresh "
        "when the slot is allocated again.",
        HOLDS_ALL,
    ),
    _aux(
        "aux-alloc-waits",
        "kernel: __nf_conntrack_alloc() calls early_drop() only when nf_conntrack_max is set "
        "and the incremented count exceeds it.",
        (
            ("holds", "the check precedes early_drop()."),
            ("holds", "the check precedes early_drop()."),
            ("holds", "the check precedes early_drop()."),
        ),
    ),
    _aux(
        "aux-alloc-one-over",
        "kernel: __nf_conntrack_alloc() increments nf_conntrack_count before it compares it "
        "with nf_conntrack_max.",
        (
            ("holds", "early_drop() frees its victim at once, so count never exceeds the limit."),
            (
                "violated",
                "early_drop() counts a victim that only moved to the dying list, still counted; "
                "the table can already be over the limit when the next allocation adds one.",
            ),
            ("holds", "early_drop() counts only a victim that nf_ct_delete() really freed."),
        ),
    ),
    _aux("aux-apend-range", MODEL, HOLDS_ALL),
    _aux(
        "aux-cache-unconfirmed",
        "kernel: nf_ct_deliver_cached_events() runs at the confirm hook and after each packet, "
        "and empties the cache whether or not the send succeeds (missed keeps what failed).",
        (
            ("holds", "the per-packet cache is delivered before the packet ends."),
            ("holds", "the per-conntrack cache is delivered before the packet ends."),
            ("holds", "same delivery points."),
        ),
    ),
    _aux(
        "aux-dead-on-dying",
        "kernel: death_by_timeout() and nf_ct_delete() either free the conntrack or park it "
        "on the dying (redelivery) list in the same step.",
        (
            ("holds", "a death frees at once: no allocated conntrack has started to die."),
            ("holds", "a failed DESTROY parks it on the dying list."),
            ("holds", "a failed DESTROY parks it on the redelivery list."),
        ),
    ),
    _aux(
        "aux-dying-owes-destroy",
        "Linux 2.6.31: nf_ct_insert_dying_list() is called only after a DESTROY that failed; "
        "DYING is set only by a flush on live conntracks.",
        (
            ("n/a", NO_DYING_LIST),
            ("holds", "only a failed DESTROY leads to the dying list, and it stays pending."),
            (
                "n/a",
                "6.x has no 2.6.31 dying list: its redelivery list holds DYING conntracks "
                "(aux-redelivery-owes-destroy).",
            ),
        ),
    ),
    _aux(
        "aux-silent-until-confirmed",
        "Linux 2.6.31: nf_ct_deliver_cached_events() and nf_conntrack_event_report() skip "
        "unconfirmed and DYING conntracks.",
        (
            ("holds", "events are delivered only for confirmed conntracks; no DYING marking."),
            ("holds", "the DYING bit silences a conntrack before it ever reports."),
            (
                "violated",
                "nf_ct_delete() sets DYING and then reports DESTROY, so a conntrack waiting "
                "on the redelivery list has DYING set and has reported.",
            ),
        ),
    ),
    _aux("aux-timers-valid", MODEL, HOLDS_ALL),
    _aux(
        "aux-no-fault-unarmed",
        "model: the build-failure fault is injected only when set.",
        HOLDS_ALL,
    ),
    _aux(
        "aux-queues-sane",
        "kernel: netlink_rcv_wake() clears NETLINK_CONGESTED when a read empties the queue.",
        (
            ("holds", "same netlink core."),
            ("holds", "same netlink core."),
            ("holds", "same netlink core."),
        ),
    ),
    _aux(
        "aux-closed-empty",
        "kernel: netlink_release() purges the receive queue; nothing is delivered to a "
        "closed socket.",
        (
            ("holds", "same netlink core."),
            ("holds", "same netlink core."),
            ("holds", "same netlink core."),
        ),
    ),
    _aux(
        "aux-timers-placed",
        "kernel: __nf_conntrack_confirm() starts ct->timeout when it hashes the conntrack.",
        (
            ("holds", "add_timer() at confirm."),
            ("holds", "add_timer() at confirm."),
            ("holds", "the timeout is set at confirm and read by the gc worker."),
        ),
    ),
    _aux(
        "aux-retry-positive",
        "Linux 2.6.31: nf_conntrack_events_retry_timeout is a plain integer sysctl.",
        (
            ("n/a", "2.6.30 has no retry timeout."),
            ("holds", "the default is 15 s and nothing but a sysctl write changes it."),
            ("n/a", "6.x has no retry-timeout sysctl."),
        ),
        Override(
            "retry-timeout-0",
            "2.6.31",
            "violated",
            "proc_dointvec accepts 0 (assumption retry-timeout-positive excludes it).",
        ),
    ),
    _aux(
        "aux-worker-idle",
        "Linux 6.x: nf_conntrack_ecache_work() schedules the delayed ecache worker.",
        (
            ("holds", "2.6.30 has no ecache worker."),
            ("holds", "2.6.31 has no ecache worker: retries are per-conntrack timers."),
            ("violated", "a failed DESTROY schedules the worker."),
        ),
    ),
    _aux("aux-worker-valid", MODEL, HOLDS_ALL),
    _aux(
        "aux-live-until-deleted",
        "kernel: where DYING is set: nf_ct_delete() (6.x) and get_next_corpse() (2.6.31 "
        "flush, also on unconfirmed conntracks).",
        (
            ("holds", "the 2.6.30 model marks no unconfirmed conntrack at a flush."),
            (
                "violated",
                "get_next_corpse() sets DYING on unconfirmed conntracks (see flush-confirm-race).",
            ),
            ("holds", "nf_ct_delete() sets DYING and unlinks in one step; a flush walks the hash."),
        ),
    ),
    _aux(
        "aux-silent-unconfirmed",
        "kernel: nf_conntrack_eventmask_report() and nf_ct_deliver_cached_events() return "
        "early for unconfirmed conntracks and for those without an event cache.",
        (
            ("holds", "events are delivered only after confirmation."),
            ("holds", "weaker than aux-silent-until-confirmed."),
            ("holds", "the early returns."),
        ),
    ),
    _aux(
        "aux-redelivery-owes-destroy",
        "Linux 6.x: nf_ct_delete() sets DYING before its DESTROY, and a failed DESTROY puts "
        "the conntrack on the redelivery list.",
        (
            ("n/a", NO_REDELIVERY),
            ("n/a", NO_REDELIVERY),
            ("holds", "the DESTROY stays pending until a send succeeds."),
        ),
    ),
    _aux(
        "aux-redelivery-untimed",
        "Linux 6.x: nf_ct_delete() has already removed the conntrack from the table; only "
        "ecache_work() re-sends.",
        (
            ("n/a", NO_REDELIVERY),
            ("n/a", NO_REDELIVERY),
            ("holds", "the worker, not a timer of the conntrack, retries."),
        ),
    ),
    _aux(
        "aux-dying-order",
        "kernel: hlist_nulls_add_head() on insertion and hlist_nulls_del() on removal.",
        (
            ("n/a", NO_DYING_LIST),
            ("holds", "removal closes the gap."),
            ("holds", "removal closes the gap; ecache_work() walks every entry."),
        ),
    ),
)
