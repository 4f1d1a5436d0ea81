"""The configuration of one model instance: immutable, validated, decodable from JSON.

A config fixes the kernel variant, the table limit, the finite universe the engines range over
(flow identities, the memory slots that bound how many conntracks exist at once), the listeners
and their socket options, the sysctls and which of their writes the environment may perform,
and which faults may happen. Every check on a config names the offending field, so a bad file
gets a one-line error.
Reading a config file is the tools' business (`nfct_spec.files`): the model reads no files.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from nfct_spec.models.bits import BIT_NAMES, GROUPS

VARIANTS = ("2.6.30", "2.6.31", "6.x")
GRANULARITIES = ("atomic", "smp")
"""`atomic`: every kernel function is one step. `smp`: the functions where the kernel lets
another CPU in are split into steps (`nfct_spec.models.smp`); 2.6.31 only."""
FAULTS = ("build_failure",)
SYSCTLS = ("nf_conntrack_events", "events_retry_timeout")
REQUIRED_BITS = ("NEW", "DESTROY")


SMP_DEFAULTS: dict[str, object] = {
    "granularity": "atomic",
    "cpus": 2,
    "delete_takes_timer": False,
    "iterator_takes_timer": False,
    "retry_timer_separate": False,
    "retry_by_worker": False,
    "delete_test_and_set_dying": False,
    "ecache_destroy_state": False,
    "flush": True,
}
"""The fields the smp granularity added, at their defaults."""

ECACHE_BATCH = 18
"""How many DESTROYs the 6.x ecache_work_evict_list() delivers in one hold of dying_lock: its
test `if (sent++ > 16)` (Linux 5.19 to 6.18) reads the count before the increment, so it is true
at the 18th entry delivered since the lock was taken."""

OPTIONAL_DEFAULTS: dict[str, object] = {
    **SMP_DEFAULTS,
    "ecache_batch": ECACHE_BATCH,
    "worker_relocks_twice": False,
    "netns_exit": False,
    "other_netns_exit": False,
    "release_own_dying_list": False,
    "observed": False,
    "retry_untimed": False,
}
"""The fields added after the config format was first used (the smp granularity, the 6.x
worker's eras, namespace exit), at their defaults: a config's JSON leaves them out there, so
that it (and whatever is keyed by it) stays what it was."""


SEARCH_LIMITS = {
    "nf_conntrack_max": 16,
    "flows": 6,
    "slots": 12,
    "ct_timeout": 16,
    "worker_first_delay": 16,
    "worker_retry_delay": 16,
}
"""The sizes a config may have: small enough for the engines to search."""
OBSERVED_LIMITS = {
    "nf_conntrack_max": 1 << 22,
    "flows": 1 << 16,
    "slots": 1 << 12,
    "ct_timeout": 1 << 24,
    "worker_first_delay": 1 << 16,
    "worker_retry_delay": 1 << 16,
}
"""The sizes of a recorded run's config (`Config.observed`): the kernel's default table limit
(262,144) written back by a scenario fits, so do thousands of flows, and timeouts counted in
ticks of 10 ms."""


ERA_FLAGS = (
    "delete_takes_timer",
    "iterator_takes_timer",
    "retry_timer_separate",
    "retry_by_worker",
    "delete_test_and_set_dying",
    "ecache_destroy_state",
)
"""The `Config` flags of the smp granularity's kernel eras, each named after what changed."""


class ConfigError(ValueError):
    """A config that cannot be used; the message names the field."""


MAX_CAPACITY = 1 << 16
"""The largest listener capacity a config may give (messages)."""


@dataclass(frozen=True)
class ListenerConfig:
    """One userspace netlink socket subscribed to conntrack groups.

    `capacity` is the receive buffer expressed in messages: a broadcast is accepted while fewer
    than `capacity` messages are queued (netlink_broadcast_deliver() accepts while sk_rmem_alloc
    <= sk_rcvbuf; every small conntrack message costs about the same buffer space). At most
    `MAX_CAPACITY`: the live kernel's default buffer (212,992 bytes) holds about 166 messages,
    and the largest a socket can ask for, some thousands; a config meant for the explorer keeps
    it small (the queue's contents are part of the state).
    """

    name: str
    groups: tuple[str, ...]
    broadcast_error: bool = False
    no_enobufs: bool = False
    capacity: int = 1
    open_at_start: bool = True


@dataclass(frozen=True)
class Config:
    """Everything that is fixed for one run of the model."""

    variant: str = "2.6.31"
    nf_conntrack_max: int = 2
    flows: int = 2
    slots: int = 3
    listeners: tuple[ListenerConfig, ...] = ()
    nf_conntrack_events: int = 1
    events_retry_timeout: int = 2
    ct_timeout: int = 2
    sysctl_writes: tuple[tuple[str, int], ...] = ()
    faults: tuple[str, ...] = ()
    event_bits: tuple[str, ...] = ("NEW", "STATUS", "DESTROY")
    expectations: bool = False
    listener_churn: bool = False
    name: str = "custom"
    requesters: tuple[str, ...] = field(default=("conntrack",))
    worker_first_delay: int = 2
    worker_retry_delay: int = 1
    ecache_work_fixed: bool = False
    ecache_batch: int = ECACHE_BATCH
    """6.x: the DESTROYs ecache_work_evict_list() delivers in one hold of dying_lock before it
    drops it, calls cond_resched() and starts again at `next:` (`ECACHE_BATCH`, the kernel's
    18, by default). A list holds at most `slots` entries, so only a smaller value lets a small
    config reach the end of a batch; as released, that changes nothing the model shows (the
    walk goes on from the head of the list, which is its next entry)."""
    worker_relocks_twice: bool = False
    """6.x: the worker of the version under review of "netfilter: ecache: use dedicated list
    for event redelivery" (net-next pull request of 10 May 2022, fixed in review before it was
    merged for 5.19): at the end of a batch it drops dying_lock, calls cond_resched(), takes
    it again and jumps to `next:`, which takes it once more, so its CPU spins for ever on a
    lock it holds. False is the worker as released (5.19 to 6.18), which does not take it
    again before the jump."""
    granularity: str = "atomic"
    cpus: int = 2
    """smp: how many kernel calls can be in progress at once (CPUs, timer softirqs included)."""
    delete_takes_timer: bool = False
    """smp: ctnetlink_del_conntrack() reports DESTROY only if its del_timer(&ct->timeout)
    succeeded ("netfilter: ctnetlink: fix race between delete and timeout expiration", 2012);
    false is 2.6.31 as released."""
    iterator_takes_timer: bool = False
    """smp: the flush iterator sends DESTROY only after its del_timer(&ct->timeout) succeeded
    ("netfilter: nf_conntrack: don't send destroy events from iterator", 3.12); false is
    2.6.31 as released, where kill_report() sends it before."""
    retry_timer_separate: bool = False
    """smp: the dying list's retry runs on a timer of the event cache extension, not on
    ct->timeout ("netfilter: nf_conntrack: fix racy timer handling with reliable events",
    2012), so del_timer(&ct->timeout) of a dying conntrack fails. Needs `delete_takes_timer`:
    the model keeps one timer per conntrack, and only with that guard is ct->timeout idle on
    every conntrack that reaches the dying list."""
    retry_by_worker: bool = False
    """smp: the kernels of 3.17 to 4.8. A failed DESTROY leaves the conntrack on the dying list
    with no timer of its own; nf_conntrack_ecache_delayed_work() schedules the ecache work,
    whose ecache_work_evict_list() re-sends DESTROY to every dying entry without
    IPS_DYING_BIT and sets the bit once it was delivered (DYING means "DESTROY delivered").
    Needs `delete_takes_timer`, `iterator_takes_timer` and `retry_timer_separate`: 3.17 has
    the fixes of 2012 and 3.12, and every caller of nf_ct_delete() owns ct->timeout first."""
    delete_test_and_set_dying: bool = False
    """smp: nf_ct_delete() starts with `if (test_and_set_bit(IPS_DYING_BIT, &ct->status))
    return false;`, the guard of "netfilter: conntrack: get rid of conntrack timer" (4.9), so
    DYING is set before the DESTROY is reported. With the worker of `retry_by_worker` and
    without `ecache_destroy_state` this is the combination that commit's predecessor was
    written to avoid; no kernel had it. Needs `retry_by_worker`."""
    ecache_destroy_state: bool = False
    """smp: "netfilter: don't rely on DYING bit to detect when destroy event was sent" (4.9):
    a failed DESTROY sets the event cache's state to NFCT_ECACHE_DESTROY_FAIL and the worker
    re-sends only to entries in that state (marking them NFCT_ECACHE_DESTROY_SENT), whatever
    their DYING bit. Needs `retry_by_worker`."""
    flush: bool = True
    """The environment may flush the table (`conntrack -F`)."""
    netns_exit: bool = False
    """The conntracks' network namespace may exit (`env_netns_exit`, once): the listeners are
    then taken to be in another namespace that survives it (2.6.30 and 2.6.31: init_net, the
    only namespace with an nfnetlink socket; 6.x: any other, listening with
    NETLINK_LISTEN_ALL_NSID). Atomic granularity only."""
    other_netns_exit: bool = False
    """2.6.31: some other network namespace may exit, any number of times, while the modelled
    one (init_net, with the listeners) lives on: its nf_conntrack_cleanup_net() runs
    nf_ct_release_dying_list() (`nf_ct_release_dying_list`), which walks init_net's dying
    list. Not with `netns_exit` (whose modelled namespace is not init_net)."""
    release_own_dying_list: bool = False
    """With `other_netns_exit`: nf_ct_release_dying_list() walks the exiting namespace's own
    list (`nf_ct_release_dying_list(net)`, later kernels), so another namespace's exit leaves
    init_net's held conntracks alone; false is 2.6.31 as released."""

    retry_untimed: bool = False
    """An abstraction for proofs, not a kernel setting (atomic granularity, 2.6.31 and 6.x):
    what retries a failed DESTROY is untimed. In 2.6.31 the dying list's retry timers do not
    count down and never hold time back, so `death_by_event` may fire after any number of
    ticks; in 6.x the delayed ecache worker is scheduled at 0 and time does not wait for it,
    so it may run after any number of ticks. Every run of the config without it is a run of
    this one once those timers' values are forgotten (a tick that only counted them down
    becomes no step at all), so a safety property that holds here holds there; a finding here
    may need a run that the timers forbid, and is only a finding of the config once a search
    without the abstraction shows it. The explorer uses it that way
    (`explore(.., untimed=True)`). The liveness search may use it too, but only with a weaker
    reading of the fairness records (a retry handler's step counts as taken even when it
    changes nothing, and as a tick; the 6.x worker is under weak fairness), under which every
    fair counterexample of the config has one here (`nfct_spec.engines.lasso`, "Untimed
    retries"); its lassos are candidates, searched again without the abstraction."""

    observed: bool = False
    """The config of a recorded run (`nfct_spec.kernel.conformance`): its sizes are those of
    the run, up to `OBSERVED_LIMITS`, instead of the small bounds that keep an exhaustive
    search finite. Trace validation follows one recorded run step by step, so its cost grows
    with the run's length, not with the state space; the search engines are never given such
    a config."""

    def __post_init__(self) -> None:
        validate(self)

    @property
    def event_mask(self) -> int:
        """The event bits this config models, as a mask."""
        mask = 0
        for name in self.event_bits:
            mask |= BIT_NAMES[name]
        return mask

    def listener_index(self, name: str) -> int:
        """The position of a listener by name (raises KeyError if there is none)."""
        for i, listener in enumerate(self.listeners):
            if listener.name == name:
                return i
        raise KeyError(name)

    def portid(self, requester: str) -> int:
        """The netlink port id of a requesting process: listener i is i + 1, the tool is last."""
        if requester in self.requesters:
            return len(self.listeners) + 1 + self.requesters.index(requester)
        return self.listener_index(requester) + 1

    def to_json(self) -> dict[str, Any]:
        """The JSON form (the inverse of `config_from_json`). The fields added later
        (`OPTIONAL_DEFAULTS`: those of the smp granularity, of the 6.x worker's eras and of
        namespace exit) are left out at their defaults, so a config's JSON (and whatever is
        keyed by it, such as a fuzzing campaign's examples) is what it was before they
        existed."""
        data: dict[str, Any] = json.loads(json.dumps(asdict(self)))
        for name, default in OPTIONAL_DEFAULTS.items():
            if data[name] == default:
                del data[name]
        return data

    def with_(self, **changes: Any) -> Config:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)


def _fail(path: str, problem: str) -> ConfigError:
    return ConfigError(f"field '{path}': {problem}")


def _check_str(path: str, value: object) -> None:
    """Names are strings: anything else (a list, say) would not even be hashable."""
    if not isinstance(value, str):
        raise _fail(path, f"must be a string, got {value!r}")


def _check_int(path: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(path, f"must be an integer, got {value!r}")
    if not low <= value <= high:
        raise _fail(path, f"must be between {low} and {high}, got {value}")


def _check_bool(path: str, value: object) -> None:
    if not isinstance(value, bool):
        raise _fail(path, f"must be true or false, got {value!r}")


def validate(config: Config) -> None:
    """Raise ConfigError naming the first field that is out of range."""
    _check_str("variant", config.variant)
    _check_str("name", config.name)
    if config.variant not in VARIANTS:
        raise _fail("variant", f"unknown variant {config.variant!r} (known: {', '.join(VARIANTS)})")
    _check_bool("observed", config.observed)
    limits = OBSERVED_LIMITS if config.observed else SEARCH_LIMITS
    _check_int("nf_conntrack_max", config.nf_conntrack_max, 0, limits["nf_conntrack_max"])
    _check_int("flows", config.flows, 1, limits["flows"])
    _check_int("slots", config.slots, 1, limits["slots"])
    _check_int("nf_conntrack_events", config.nf_conntrack_events, 0, 2)
    _check_int("events_retry_timeout", config.events_retry_timeout, 0, 16)
    _check_int("ct_timeout", config.ct_timeout, 1, limits["ct_timeout"])
    _check_int("worker_first_delay", config.worker_first_delay, 0, limits["worker_first_delay"])
    _check_int("worker_retry_delay", config.worker_retry_delay, 0, limits["worker_retry_delay"])
    _check_bool("ecache_work_fixed", config.ecache_work_fixed)
    _check_int("ecache_batch", config.ecache_batch, 1, ECACHE_BATCH)
    _check_bool("worker_relocks_twice", config.worker_relocks_twice)
    if config.variant != "6.x":
        if config.ecache_batch != ECACHE_BATCH:
            raise _fail("ecache_batch", "is the 6.x redelivery worker's batch (set variant to 6.x)")
        if config.worker_relocks_twice:
            raise _fail(
                "worker_relocks_twice",
                "is an era of the 6.x redelivery worker (set variant to 6.x)",
            )
    _check_str("granularity", config.granularity)
    if config.granularity not in GRANULARITIES:
        raise _fail(
            "granularity",
            f"unknown granularity {config.granularity!r} (known: {', '.join(GRANULARITIES)})",
        )
    if config.granularity == "smp" and config.variant != "2.6.31":
        raise _fail("granularity", "smp is modelled for the 2.6.31 variant only")
    _check_int("cpus", config.cpus, 1, 4)
    for name in ERA_FLAGS:
        _check_bool(name, getattr(config, name))
        if getattr(config, name) and config.granularity != "smp":
            raise _fail(name, "is an era of the smp granularity (set granularity to smp)")
    if config.retry_timer_separate and not config.delete_takes_timer:
        raise _fail(
            "retry_timer_separate",
            "needs delete_takes_timer (the model keeps one timer per conntrack: without that "
            "guard a failed delete leaves ct->timeout pending beside the retry)",
        )
    if config.retry_by_worker and not (config.retry_timer_separate and config.iterator_takes_timer):
        raise _fail(
            "retry_by_worker",
            "needs delete_takes_timer, iterator_takes_timer and retry_timer_separate (the "
            "fixes that 3.17 has)",
        )
    for name in ("delete_test_and_set_dying", "ecache_destroy_state"):
        if getattr(config, name) and not config.retry_by_worker:
            raise _fail(name, "needs retry_by_worker (the dying list's worker of 3.17)")
    _check_bool("flush", config.flush)
    _check_bool("netns_exit", config.netns_exit)
    if config.netns_exit and config.granularity != "atomic":
        raise _fail("netns_exit", "namespace exit is modelled at the atomic granularity only")
    _check_bool("other_netns_exit", config.other_netns_exit)
    _check_bool("release_own_dying_list", config.release_own_dying_list)
    if config.other_netns_exit and config.variant != "2.6.31":
        raise _fail(
            "other_netns_exit",
            "only 2.6.31 releases a dying list on another namespace's exit (2.6.30 has none, "
            "6.x keeps one per namespace)",
        )
    if config.other_netns_exit and config.netns_exit:
        raise _fail(
            "other_netns_exit",
            "the modelled namespace is init_net here, and with netns_exit it is the one exiting",
        )
    if config.release_own_dying_list and not config.other_netns_exit:
        raise _fail("release_own_dying_list", "is a fix of other_netns_exit (set that too)")
    _check_bool("retry_untimed", config.retry_untimed)
    if config.retry_untimed and (config.variant == "2.6.30" or config.granularity != "atomic"):
        raise _fail(
            "retry_untimed",
            "abstracts the DESTROY retries of 2.6.31 and 6.x at atomic granularity only",
        )
    _check_bool("expectations", config.expectations)
    _check_bool("listener_churn", config.listener_churn)
    if config.nf_conntrack_events == 2 and config.variant != "6.x":
        raise _fail("nf_conntrack_events", "2 (auto) exists only in the 6.x variant")
    names: set[str] = set()
    for i, listener in enumerate(config.listeners):
        _validate_listener(f"listeners[{i}]", listener)
        if listener.name in names:
            raise _fail(f"listeners[{i}].name", f"duplicate listener name {listener.name!r}")
        names.add(listener.name)
    if not 0 < len(config.listeners) <= 4:
        raise _fail("listeners", "between 1 and 4 listeners are needed")
    for i, (name, value) in enumerate(config.sysctl_writes):
        _check_str(f"sysctl_writes[{i}]", name)
        if name not in SYSCTLS:
            raise _fail(
                f"sysctl_writes[{i}]", f"unknown sysctl {name!r} (known: {', '.join(SYSCTLS)})"
            )
        high = 2 if name == "nf_conntrack_events" else 16
        _check_int(f"sysctl_writes[{i}]", value, 0, high)
    for i, fault in enumerate(config.faults):
        _check_str(f"faults[{i}]", fault)
        if fault not in FAULTS:
            raise _fail(f"faults[{i}]", f"unknown fault {fault!r} (known: {', '.join(FAULTS)})")
    for i, bit in enumerate(config.event_bits):
        _check_str(f"event_bits[{i}]", bit)
        if bit not in BIT_NAMES:
            raise _fail(
                f"event_bits[{i}]", f"unknown event bit {bit!r} (known: {', '.join(BIT_NAMES)})"
            )
    for bit in REQUIRED_BITS:
        if bit not in config.event_bits:
            raise _fail("event_bits", f"{bit} must be modelled")
    for i, requester in enumerate(config.requesters):
        _check_str(f"requesters[{i}]", requester)
        if not requester or requester in names:
            raise _fail(f"requesters[{i}]", "must be a non-empty name that is not a listener's")


def _validate_listener(path: str, listener: ListenerConfig) -> None:
    if not isinstance(listener.name, str) or not listener.name:
        raise _fail(f"{path}.name", "must be a non-empty string")
    if not isinstance(listener.groups, tuple):
        raise _fail(f"{path}.groups", "must be a list of groups")
    for group in listener.groups:
        _check_str(f"{path}.groups", group)
        if group not in GROUPS:
            raise _fail(f"{path}.groups", f"unknown group {group!r} (known: {', '.join(GROUPS)})")
    if len(set(listener.groups)) != len(listener.groups):
        raise _fail(f"{path}.groups", "a group is listed twice")
    _check_bool(f"{path}.broadcast_error", listener.broadcast_error)
    _check_bool(f"{path}.no_enobufs", listener.no_enobufs)
    _check_bool(f"{path}.open_at_start", listener.open_at_start)
    _check_int(f"{path}.capacity", listener.capacity, 1, MAX_CAPACITY)


_LISTENER_FIELDS = {f.name for f in fields(ListenerConfig)}
_CONFIG_FIELDS = {f.name for f in fields(Config)}


def config_from_json(data: object) -> Config:
    """Build a Config from parsed JSON, rejecting unknown or mistyped fields by name."""
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a JSON object")
    if "max_conntracks" in data:
        raise _fail(
            "max_conntracks",
            "renamed 'slots': it now bounds the conntracks that exist at once, not the "
            "allocations of a run",
        )
    if "observed" in data:
        raise _fail(
            "observed",
            "only trace validation builds the config of a recorded run (its sizes are beyond "
            "what a search can exhaust)",
        )
    if "retry_untimed" in data:
        raise _fail(
            "retry_untimed",
            "an abstraction the explorer applies itself (nfct-spec explore --reduction untimed), "
            "not a setting of the kernel",
        )
    unknown = sorted(set(data) - _CONFIG_FIELDS)
    if unknown:
        raise _fail(unknown[0], "unknown field")
    values = dict(data)
    listeners = values.get("listeners", [])
    if not isinstance(listeners, list):
        raise _fail("listeners", "must be a list")
    built = []
    for i, item in enumerate(listeners):
        if not isinstance(item, dict):
            raise _fail(f"listeners[{i}]", "must be an object")
        extra = sorted(set(item) - _LISTENER_FIELDS)
        if extra:
            raise _fail(f"listeners[{i}].{extra[0]}", "unknown field")
        if "name" not in item or "groups" not in item:
            raise _fail(f"listeners[{i}]", "needs 'name' and 'groups'")
        groups = item["groups"]
        if not isinstance(groups, list):
            raise _fail(f"listeners[{i}].groups", "must be a list")
        built.append(ListenerConfig(**{**item, "groups": tuple(groups)}))
    values["listeners"] = tuple(built)
    for key in ("faults", "event_bits", "requesters"):
        if key in values:
            if not isinstance(values[key], list):
                raise _fail(key, "must be a list")
            values[key] = tuple(values[key])
    if "sysctl_writes" in values:
        writes = values["sysctl_writes"]
        if not isinstance(writes, list) or not all(
            isinstance(w, list) and len(w) == 2 for w in writes
        ):
            raise _fail("sysctl_writes", "must be a list of [name, value] pairs")
        values["sysctl_writes"] = tuple((w[0], w[1]) for w in writes)
    try:
        return Config(**values)
    except TypeError as exc:
        raise ConfigError(str(exc)) from None
