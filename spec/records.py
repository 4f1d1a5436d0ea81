"""The record types of the property catalogue: a property, its expected verdicts per variant,
and the config features that override an expectation.

An expected verdict is derived from the kernel code and written down with its reason; it is
never adjusted to what a checker printed. Verdicts: `holds` (no reachable violation),
`violated` (a reachable violation exists), `witness` (the non-guarantee or reachability
property has a reachable witness), `no-witness` (it has none: the kernel does guarantee it),
`n/a` (the property speaks of a mechanism the variant lacks; not checked).

Some expectations depend on what the config lets the environment do; an `Override` names that
feature (for instance a writable retry timeout of 0) and the verdict it leads to.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from nfct_spec.models.config import Config

KINDS = ("invariant", "action", "liveness", "reachable", "non-guarantee")
VERDICTS = ("holds", "violated", "witness", "no-witness", "n/a")


def _retry_zero(config: Config) -> bool:
    return config.events_retry_timeout == 0 or ("events_retry_timeout", 0) in config.sysctl_writes


def _build_failure(config: Config) -> bool:
    return "build_failure" in config.faults


def _build_failure_silent(config: Config) -> bool:
    return _build_failure(config) and any(
        listener.broadcast_error and "destroy" in listener.groups and not listener.no_enobufs
        for listener in config.listeners
    )


def _reliable_listeners_2(config: Config) -> bool:
    reliable = [
        listener
        for listener in config.listeners
        if listener.broadcast_error and "destroy" in listener.groups
    ]
    return len(reliable) >= 2


def _events_mode_varies(config: Config) -> bool:
    return config.nf_conntrack_events != 2 or any(
        name == "nf_conntrack_events" for name, _ in config.sysctl_writes
    )


def _smp(config: Config) -> bool:
    return config.granularity == "smp"


def _netns_exit(config: Config) -> bool:
    return config.netns_exit


def _other_netns_exit(config: Config) -> bool:
    return config.other_netns_exit


def _release_dying_list_deadlocks(config: Config) -> bool:
    """Another namespace's exit walks init_net's dying list with nf_ct_kill() under
    nf_conntrack_lock, and the kill can still run death_by_event()."""
    return (
        config.other_netns_exit
        and not config.release_own_dying_list
        and not config.retry_timer_separate
    )


def _smp_delete_unguarded(config: Config) -> bool:
    return _smp(config) and not config.delete_takes_timer


def _smp_flush_unguarded(config: Config) -> bool:
    return _smp(config) and config.flush and not config.iterator_takes_timer


def _smp_retry_reuses_timeout(config: Config) -> bool:
    return _smp(config) and not config.retry_timer_separate


def _smp_flush_cancels_retry(config: Config) -> bool:
    return _smp_flush_unguarded(config) and not config.retry_timer_separate


def _smp_retry_by_worker(config: Config) -> bool:
    return _smp(config) and config.retry_by_worker


def _smp_dying_skips_send(config: Config) -> bool:
    return _smp_retry_by_worker(config) and (
        config.delete_test_and_set_dying and not config.ecache_destroy_state
    )


def _smp_update_events(config: Config) -> bool:
    return _smp(config) and any(bit in config.event_bits for bit in ("STATUS", "PROTOINFO"))


def _smp_reliable_listeners_2(config: Config) -> bool:
    return _smp(config) and _reliable_listeners_2(config)


def _worker_relocks_twice(config: Config) -> bool:
    return config.worker_relocks_twice and config.ecache_work_fixed


def _worker_relocks_twice_inverted(config: Config) -> bool:
    return config.worker_relocks_twice and not config.ecache_work_fixed


FEATURES: Mapping[str, Callable[[Config], bool]] = {
    "retry-timeout-0": _retry_zero,
    "build-failure": _build_failure,
    "build-failure-without-no-enobufs": _build_failure_silent,
    "reliable-listeners-2": _reliable_listeners_2,
    "events-mode-varies": _events_mode_varies,
    "netns-exit": _netns_exit,
    "other-netns-exit": _other_netns_exit,
    "release-dying-list-deadlocks": _release_dying_list_deadlocks,
    "smp": _smp,
    "smp-delete-unguarded": _smp_delete_unguarded,
    "smp-flush-unguarded": _smp_flush_unguarded,
    "smp-reliable-listeners-2": _smp_reliable_listeners_2,
    "smp-update-events": _smp_update_events,
    "smp-retry-reuses-timeout": _smp_retry_reuses_timeout,
    "smp-flush-cancels-retry": _smp_flush_cancels_retry,
    "smp-retry-by-worker": _smp_retry_by_worker,
    "smp-dying-skips-send": _smp_dying_skips_send,
    "worker-relocks-twice": _worker_relocks_twice,
    "worker-relocks-twice-inverted": _worker_relocks_twice_inverted,
}

NOT_RESTATED = (
    "not judged at granularity smp: the property is stated for states between kernel "
    "functions, and an smp state can be inside one on some CPU (an override says where it is "
    "judged there)"
)
"""Why a property without an smp override is n/a on an smp config."""


@dataclass(frozen=True)
class Override:
    """When `feature` is enabled in the config, `variant` is expected to give `verdict`."""

    feature: str
    variant: str
    verdict: str
    reason: str


@dataclass(frozen=True)
class Property:
    """A catalogue entry."""

    id: str
    kind: str
    statement: str
    source: str
    expected: Mapping[str, str]
    reasons: Mapping[str, str]
    check: Callable[..., bool] | None = None
    fairness: tuple[str, ...] = ()
    overrides: tuple[Override, ...] = field(default=())
    observes: int = 0
    """The ghost observers the check reads (`nfct_spec.models.observers` levels; 0: only the
    kernel state). A search keeps exactly the observers of the properties it checks."""

    @cached_property
    def on_transitions(self) -> bool:
        """True when `check` takes (config, pre, step, post) rather than (config, state)."""
        return self.check is not None and self.check.__code__.co_argcount == 4

    def expected_for(self, config: Config) -> str:
        """The expected verdict for this config (its variant, and overrides that apply; at
        granularity smp only an override judges a property, see `NOT_RESTATED`)."""
        for override in self.overrides:
            if override.variant == config.variant and FEATURES[override.feature](config):
                return override.verdict
        if config.granularity == "smp":
            return "n/a"
        return self.expected[config.variant]

    def reason_for(self, config: Config) -> str:
        """Why that verdict is expected."""
        for override in self.overrides:
            if override.variant == config.variant and FEATURES[override.feature](config):
                return override.reason
        if config.granularity == "smp":
            return NOT_RESTATED
        return self.reasons[config.variant]


def prop(
    id: str,
    kind: str,
    statement: str,
    source: str,
    check: Callable[..., bool] | None,
    verdicts: tuple[tuple[str, str], tuple[str, str], tuple[str, str]],
    **extra: object,
) -> Property:
    """A property from its verdicts, given as (verdict, reason) for 2.6.30, 2.6.31 and 6.x."""
    names = ("2.6.30", "2.6.31", "6.x")
    return Property(
        id=id,
        kind=kind,
        statement=statement,
        source=source,
        check=check,
        expected={n: v[0] for n, v in zip(names, verdicts, strict=True)},
        reasons={n: v[1] for n, v in zip(names, verdicts, strict=True)},
        **extra,  # type: ignore[arg-type]
    )
