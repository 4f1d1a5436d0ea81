"""Named configurations: `tiny` for unit tests, `ci` for the default check, `deep` and
`faults` for longer runs. Each is defined once and instantiated per variant.

Every preset enables what the catalogue's witnesses need (a reliable and an unreliable
listener, writes of the sysctls, a table limit below the number of flows), at sizes the
engines can cover.
"""

from __future__ import annotations

from dataclasses import replace

from nfct_spec.models.config import Config, ConfigError, ListenerConfig

PRESETS = ("tiny", "ci", "deep", "faults")

_CONNTRACKD = ListenerConfig(
    name="conntrackd",
    groups=("new", "update", "destroy", "expect"),
    broadcast_error=True,
    no_enobufs=True,
    capacity=1,
)
_LOGGER = ListenerConfig(name="logger", groups=("new", "destroy"), capacity=1)


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
            max_conntracks=3,
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
            max_conntracks=5,
            listeners=(_CONNTRACKD, _LOGGER),
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
            max_conntracks=8 if name == "deep" else 5,
            listeners=(
                (replace(_CONNTRACKD, capacity=2), _LOGGER) if name == "deep" else base.listeners
            ),
            faults=("build_failure",) if name == "faults" else (),
        )
    raise ConfigError(f"unknown preset {name!r} (known: {', '.join(PRESETS)})")
