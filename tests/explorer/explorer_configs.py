"""Small configs that the explorer exhausts in seconds, shared by the explorer tests."""

from __future__ import annotations

from dataclasses import replace

from nfct_spec.models.config import Config
from nfct_spec.models.presets import RELIABLE


def small(variant: str, flows: int = 2, **changes: object) -> Config:
    """One reliable listener with a one-message queue, limit 1, two memory slots."""
    config = Config(
        name="small",
        variant=variant,
        nf_conntrack_max=1,
        flows=flows,
        slots=2,
        listeners=(RELIABLE,),
        events_retry_timeout=2,
        ct_timeout=1,
    )
    return config.with_(**changes)


def twin_listeners(variant: str) -> Config:
    """Two reliable listeners that differ only by name (listener symmetry)."""
    return small(variant, flows=1, listeners=(RELIABLE, replace(RELIABLE, name="ulogd")))


def refilling(variant: str) -> Config:
    """A second conntrack that can raise events for ever (expectations), beside the one that
    dies: the traffic that can keep a reliable listener's one-message queue full."""
    listener = replace(RELIABLE, groups=("new", "destroy", "expect"))
    return small(
        variant,
        nf_conntrack_max=2,
        expectations=True,
        listeners=(listener,),
        event_bits=("NEW", "DESTROY"),
        ct_timeout=2,
    )
