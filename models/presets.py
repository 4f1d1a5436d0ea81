"""Named configurations: `tiny` for unit tests, `ci` for the default check, `deep` and
`faults` for longer runs. Each is defined once and instantiated per variant.

Every preset enables what the catalogue's witnesses need (a reliable and an unreliable
listener, writes of the sysctls, a table limit below the number of flows), at sizes the
engines can cover, and reaches the premise of every entry it is expected to hold
(`nfct_spec.spec.premises`): in `ci` the unreliable `logger` has a two-message queue, since
with one-message queues only, no run ever held two messages at one listener, which
`nothing-after-destroy`, `identity-unique` and `may-reorder` are about.
"""

from __future__ import annotations

from dataclasses import replace

from nfct_spec.models.config import Config, ConfigError, ListenerConfig

PRESETS = ("tiny", "ci", "deep", "faults")
SUITES = ("ci",)
"""Suites of small configs that the explorer exhausts (see `suite`)."""

_CONNTRACKD = ListenerConfig(
    name="conntrackd",
    groups=("new", "update", "destroy", "expect"),
    broadcast_error=True,
    no_enobufs=True,
    capacity=1,
)
_LOGGER = ListenerConfig(name="logger", groups=("new", "destroy"), capacity=1)
RELIABLE = replace(_CONNTRACKD, groups=("new", "update", "destroy"))
"""conntrackd's socket without the expectation group: the listener of the small configs."""


def preset(name: str, variant: str = "2.6.31") -> Config:
    """The preset `name` for `variant`; ConfigError for an unknown name.

    For 6.x the events sysctl starts in auto mode (2, the default of current kernels) and the
    environment may write 0, 1 and 2; there is no retry-timeout sysctl.
    """
    config = _preset(name, variant)
    if variant == "6.x":
        writes = tuple(w for w in config.sysctl_writes if w[0] != "events_retry_timeout")
        writes += tuple(
            ("nf_conntrack_events", v) for v in (1, 2) if ("nf_conntrack_events", v) not in writes
        )
        config = config.with_(nf_conntrack_events=2, sysctl_writes=writes)
    return config


def _preset(name: str, variant: str) -> Config:
    if name == "tiny":
        return Config(
            name="tiny",
            variant=variant,
            nf_conntrack_max=1,
            flows=2,
            slots=3,
            listeners=(_CONNTRACKD, _LOGGER),
            events_retry_timeout=2,
            ct_timeout=1,
            sysctl_writes=(("events_retry_timeout", 0), ("nf_conntrack_events", 0)),
        )
    if name == "ci":
        return Config(
            name="ci",
            variant=variant,
            nf_conntrack_max=2,
            flows=3,
            slots=4,
            listeners=(_CONNTRACKD, replace(_LOGGER, capacity=2)),
            events_retry_timeout=3,
            ct_timeout=2,
            sysctl_writes=(
                ("events_retry_timeout", 0),
                ("events_retry_timeout", 3),
                ("nf_conntrack_events", 0),
                ("nf_conntrack_events", 1),
            ),
            expectations=True,
            listener_churn=True,
            event_bits=("NEW", "STATUS", "PROTOINFO", "DESTROY"),
        )
    if name in ("deep", "faults"):
        base = _preset("ci", variant)
        return base.with_(
            name=name,
            flows=4 if name == "deep" else 3,
            nf_conntrack_max=3 if name == "deep" else 2,
            slots=6 if name == "deep" else 4,
            listeners=(
                (replace(_CONNTRACKD, capacity=2), _LOGGER) if name == "deep" else base.listeners
            ),
            faults=("build_failure",) if name == "faults" else (),
        )
    raise ConfigError(f"unknown preset {name!r} (known: {', '.join(PRESETS)})")


def suite(name: str, variant: str = "2.6.31") -> tuple[Config, ...]:
    """The configs of the explorer suite `name` for `variant`; ConfigError for an unknown name.

    The `ci` suite splits what `ci` enables into six small configs, each with one reliable
    listener (`conntrackd`, a one-message queue), limit 1, two memory slots (so at most two
    conntracks at once, allocated again and again), retry timeout 2, timeout 1 and only NEW
    and DESTROY events unless said otherwise, each adding the one feature some expected
    finding needs:

    - `ci.sysctl`: writes of the retry timeout (0) and of `nf_conntrack_events` (table-bound,
      no-crash, may-reorder, may-drop-when-full, missed-waits-for-traffic,
      no-destroy-before-listener);
    - `ci.listeners`: one flow, and an unreliable `logger` beside the reliable listener
      (may-lose-without-be, may-duplicate);
    - `ci.expectations`: limit 2, expectations, timeout 2 (expectation-unreliable,
      flush-confirm-race, and the queue that traffic refills for the liveness lassos);
    - `ci.allocations`: three slots, no userspace requests and the STATUS event (an early
      drop whose victim only moves to the dying list, aux-alloc-one-over; an early drop that
      meets an ASSURED conntrack, which early-drop-spares-assured is about);
    - `ci.faults`: one flow, message-build failures and a listener that may close and open
      again (a DESTROY that cannot be built: destroy-before-free and destroy-eventually on
      2.6.31, while on 6.x the failure is reported to the reliable listener, which set
      NETLINK_NO_ENOBUFS, and both hold; a conntrack created while no listener was open:
      auto-mode-late-listener on 6.x);
    - `ci.queues`: one flow and a two-message queue (a listener with two messages of one
      conntrack, or of two conntracks with the same tuple and id, queued at once: what
      nothing-after-destroy, identity-unique and, on 2.6.30, may-reorder are about).

    Each member's additions are what some entry's premise needs (`nfct_spec.spec.premises`):
    the suite reaches the premise of every entry it judges `holds` or `no-witness`.

    For 6.x every member starts in auto mode (`nf_conntrack_events` 2, the default of current
    kernels) and `ci.sysctl` writes 0, 1 and 2 instead of the retry timeout, which 6.x lacks.
    """
    if name not in SUITES:
        raise ConfigError(f"unknown suite {name!r} (known: {', '.join(SUITES)})")
    base = Config(
        name="ci.base",
        variant=variant,
        nf_conntrack_max=1,
        flows=2,
        slots=2,
        listeners=(RELIABLE,),
        events_retry_timeout=2,
        ct_timeout=1,
        event_bits=("NEW", "DESTROY"),
        nf_conntrack_events=2 if variant == "6.x" else 1,
    )
    if variant == "6.x":
        writes = tuple(("nf_conntrack_events", v) for v in (0, 1, 2))
    else:
        writes = (
            ("events_retry_timeout", 0),
            ("nf_conntrack_events", 0),
            ("nf_conntrack_events", 1),
        )
    expecting = replace(RELIABLE, groups=("new", "destroy", "expect"))
    return (
        base.with_(name="ci.sysctl", sysctl_writes=writes),
        base.with_(name="ci.listeners", flows=1, listeners=(RELIABLE, _LOGGER)),
        base.with_(
            name="ci.expectations",
            nf_conntrack_max=2,
            expectations=True,
            listeners=(expecting,),
            ct_timeout=2,
        ),
        base.with_(
            name="ci.allocations",
            slots=3,
            requesters=(),
            event_bits=("NEW", "STATUS", "DESTROY"),
        ),
        base.with_(name="ci.faults", flows=1, faults=("build_failure",), listener_churn=True),
        base.with_(name="ci.queues", flows=1, listeners=(replace(RELIABLE, capacity=2),)),
    )
