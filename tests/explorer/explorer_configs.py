"""Small configs that the explorer exhausts in seconds, shared by the explorer tests, and the
comparison of two searches that must decide the same."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from nfct_spec.engines.explorer import Exploration, verdict
from nfct_spec.models.config import Config
from nfct_spec.models.presets import RELIABLE
from nfct_spec.models.state import NO_TIMER, State, evolve, with_ct
from nfct_spec.spec.catalogue import Property


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


def with_unreliable(variant: str, flows: int = 2) -> Config:
    """`small` with a second listener that lacks NETLINK_BROADCAST_ERROR (what it drops is
    lost for good: `may-lose-without-be`)."""
    unreliable = replace(RELIABLE, name="ulogd", broadcast_error=False)
    return small(variant, flows=flows, listeners=(RELIABLE, unreliable))


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


def two_alive(variant: str) -> Config:
    """`small` with limit 2, so that two conntracks live at once (only NEW and DESTROY events,
    no userspace requests, to keep it small)."""
    return small(variant, nf_conntrack_max=2, event_bits=("NEW", "DESTROY"), requesters=())


def forget_retry_timers(state: State) -> State:
    """The state with every dying-list conntrack's pending timer set to 0 and a scheduled
    worker at 0: what the untimed abstraction (`Config.retry_untimed`) keeps of a retry is
    only that it is pending."""
    kernel = state.kernel
    for slot in kernel.dying:
        ct = kernel.cts[slot]
        if ct is not None and ct.timer != NO_TIMER:
            kernel = with_ct(kernel, slot, evolve(ct, timer=0))
    if kernel.worker > 0:
        kernel = evolve(kernel, worker=0)
    return evolve(state, kernel=kernel)


def assert_same_findings(group: Sequence[Property], one: Exploration, other: Exploration) -> None:
    """Both searches give every property of `group` the same verdict, find the same properties,
    and each finding at the same BFS-shortest length."""
    for prop in group:
        assert verdict(prop, one)[0] == verdict(prop, other)[0], prop.id
    assert set(one.findings) == set(other.findings)
    for prop_id, finding in one.findings.items():
        theirs = other.findings[prop_id]
        assert len(one.path_to(finding.target)) == len(other.path_to(theirs.target)), prop_id
