"""The smp era configs of `configs/smp-*.json`, built in code for the history page.

The document is generated from the installed package, which does not ship `configs/`; the
page's verdicts must still be those of the files a reader can pass to `nfct-spec explore
--config`. So the configs are written here once more, and a test checks that each equals its
file (tests/docs/test_history.py).

Every era config is one small 2.6.31 smp instance: one flow, one memory slot, one reliable
listener with a one-message queue (so that a DESTROY can fail), NEW and DESTROY events, at
most two calls at once. The eras differ only in the fixes they have (`Config` flags), in
whether `conntrack -F` is possible and in whether another namespace may exit.
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

_GUARD = {"delete_takes_timer": True}
_GUARD_FLUSH = {**_GUARD, "flush": True}

ERAS: dict[str, dict[str, bool]] = {
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
    "smp-netns-exit": {"other_netns_exit": True},
    "smp-netns-exit-own-list": {"other_netns_exit": True, "release_own_dying_list": True},
}
"""Each era config by name: the fields it sets beyond 2.6.31 as released."""


def era_config(name: str) -> Config:
    """The era config `name` (the content of `configs/NAME.json`); KeyError if unknown."""
    return _BASE.with_(name=name, **ERAS[name])
