"""The era configs of `configs/*.json`, built in code for the history page.

The document is generated from the installed package, which does not ship `configs/`; the
page's verdicts must still be those of the files a reader can pass to `nfct-spec explore
--config`. So the configs are written here once more, and a test checks that each equals its
file (tests/docs/test_history.py).

Every smp era config (`smp-*`) is one small 2.6.31 smp instance: one flow, one memory slot, one
reliable listener with a one-message queue (so that a DESTROY can fail), NEW and DESTROY events,
at most two calls at once. They differ only in the fixes they have (`Config` flags), in whether
`conntrack -F` is possible and in whether another namespace may exit. The 6.x worker's era
configs (`worker-*`) are the same instance on 6.x (atomic: a run of the worker is one step),
with a batch of one DESTROY per hold of dying_lock and the posted fix of the worker's time test
(without it a run that takes no time stops after its first delivery and never reaches the end of
a batch); they differ only in `worker_relocks_twice`.
"""

from __future__ import annotations

from nfct_spec.models.config import Config, ListenerConfig

_BASE = Config(
    name="smp-2.6.31",
    variant="2.6.31",
    granularity="smp",
    cpus=2,
    flows=1,
    slots=1,
    nf_conntrack_max=0,
    listeners=(ListenerConfig("conntrackd", ("new", "destroy"), broadcast_error=True),),
    event_bits=("NEW", "DESTROY"),
    ct_timeout=1,
    events_retry_timeout=2,
    flush=False,
)

_WORKER_BASE = _BASE.with_(
    name="worker-released-relock",
    variant="6.x",
    granularity="atomic",
    flush=True,
    ecache_work_fixed=True,
    ecache_batch=1,
)
"""The same instance on 6.x, atomic (a run of the worker is one step)."""

_GUARD = {"delete_takes_timer": True}
_GUARD_FLUSH = {**_GUARD, "flush": True}
_WORKER = {
    **_GUARD,
    "iterator_takes_timer": True,
    "retry_timer_separate": True,
    "retry_by_worker": True,
}
"""3.17 to 4.8: every guard of the earlier eras, and the dying list's worker."""

SMP_ERAS: dict[str, dict[str, bool]] = {
    "smp-2.6.31": {},
    "smp-delete-guard": _GUARD,
    "smp-delete-guard-flush": _GUARD_FLUSH,
    "smp-iterator-guard-flush": {**_GUARD_FLUSH, "iterator_takes_timer": True},
    "smp-ecache-timer-flush": {**_GUARD_FLUSH, "retry_timer_separate": True},
    "smp-all-guards-flush": {
        **_GUARD_FLUSH,
        "iterator_takes_timer": True,
        "retry_timer_separate": True,
    },
    "smp-dying-worker": _WORKER,
    "smp-dying-worker-test-and-set": {**_WORKER, "delete_test_and_set_dying": True},
    "smp-dying-worker-ecache-state": {
        **_WORKER,
        "delete_test_and_set_dying": True,
        "ecache_destroy_state": True,
    },
    "smp-netns-exit": {"other_netns_exit": True},
    "smp-netns-exit-own-list": {"other_netns_exit": True, "release_own_dying_list": True},
}
"""Each smp era config by name: the fields it sets beyond 2.6.31 as released."""

WORKER_ERAS: dict[str, dict[str, bool]] = {
    "worker-released-relock": {},
    "worker-review-relock": {"worker_relocks_twice": True},
}
"""Each 6.x worker era config by name: the fields it sets beyond the released worker."""

ERAS: dict[str, tuple[Config, dict[str, bool]]] = {
    **{name: (_BASE, fields) for name, fields in SMP_ERAS.items()},
    **{name: (_WORKER_BASE, fields) for name, fields in WORKER_ERAS.items()},
}
"""Every era config by name: its base instance and the fields it sets beyond it."""


def era_config(name: str) -> Config:
    """The era config `name` (the content of `configs/NAME.json`); KeyError if unknown."""
    base, fields = ERAS[name]
    return base.with_(name=name, **fields)
