"""The kernel versions the model covers, as a few differences over shared pieces.

Each flag names one behaviour that differs between versions; the actions consult the flags
instead of being copied per version.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    """What distinguishes one kernel version's event delivery from another's."""

    name: str
    reliable: bool
    """A failed DESTROY keeps the conntrack on the dying list and retries (dd7669a92c)."""
    events_sysctl: bool
    """`nf_conntrack_events` decides at creation whether a conntrack gets an event cache."""
    missed_cache: bool
    """Failed non-DESTROY events are kept in `missed` and re-sent with a later event."""
    retry_sysctl: bool
    """`nf_conntrack_events_retry_timeout` arms the dying conntrack's retry timer."""


VARIANT_2_6_30 = Variant(
    name="2.6.30",
    reliable=False,
    events_sysctl=False,
    missed_cache=False,
    retry_sysctl=False,
)
VARIANT_2_6_31 = Variant(
    name="2.6.31",
    reliable=True,
    events_sysctl=True,
    missed_cache=True,
    retry_sysctl=True,
)

MODELLED: dict[str, Variant] = {v.name: v for v in (VARIANT_2_6_30, VARIANT_2_6_31)}
"""Variants with an executable model. `6.x` is named in configs and the catalogue but its
actions are not modelled yet, so engines refuse it with a clear message."""


def variant_of(name: str) -> Variant:
    """The variant called `name`; KeyError if it has no executable model."""
    return MODELLED[name]
