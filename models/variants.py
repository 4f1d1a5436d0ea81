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
    """A failed DESTROY keeps the conntrack allocated and re-sends it (dd7669a92c)."""
    events_sysctl: bool
    """`nf_conntrack_events` decides at creation whether a conntrack gets an event cache."""
    missed_cache: bool
    """Failed events are kept in `missed` and re-sent with a later message."""
    retry_timer: bool
    """2.6.31: the dying conntrack's own timer retries, armed by the retry-timeout sysctl.
    Otherwise (6.x) a per-namespace delayed worker walks the redelivery list."""
    single_winner_delete: bool
    """6.x nf_ct_delete(): DYING is set atomically first, the DESTROY is sent once, and a
    failure puts the conntrack on the redelivery list."""
    missed_every_packet: bool
    """6.x: each packet sends `cache | missed` when the union is non-empty."""
    gc_expiry: bool
    """6.x: no per-conntrack timer; an expired conntrack is reaped by the gc worker or by a
    lookup of its tuple."""
    flush_marks_unconfirmed: bool
    """2.6.31 get_next_corpse() sets DYING on unconfirmed conntracks during a flush."""
    confirm_drops_dying: bool
    """6.x __nf_conntrack_confirm() drops a conntrack that is already dying."""
    build_failure_reports: bool
    """A message that cannot be built counts as failed when a subscribed socket set
    NETLINK_NO_ENOBUFS (2.6.35 and later)."""
    events_auto: bool
    """`nf_conntrack_events` = 2: an event cache only if some ctnetlink listener exists."""
    netns_ctnetlink: bool
    """ctnetlink is per namespace: requests act on the requester's namespace, and the event
    callback is registered per namespace (ctnetlink_net_init()) and removed when it exits
    (ctnetlink_net_pre_exit()), 6.x. In 2.6.30 and 2.6.31 one global callback sends every
    namespace's events through the nfnetlink socket of init_net (nfnetlink_has_listeners()
    and nfnetlink_send() take no namespace), and ctnetlink_del_conntrack() and the flush act
    on init_net only."""

    @property
    def retry_sysctl(self) -> bool:
        """The `nf_conntrack_events_retry_timeout` sysctl exists (2.6.31 only)."""
        return self.retry_timer


VARIANT_2_6_30 = Variant(
    name="2.6.30",
    reliable=False,
    events_sysctl=False,
    missed_cache=False,
    retry_timer=False,
    single_winner_delete=False,
    missed_every_packet=False,
    gc_expiry=False,
    flush_marks_unconfirmed=False,
    confirm_drops_dying=False,
    build_failure_reports=False,
    events_auto=False,
    netns_ctnetlink=False,
)
VARIANT_2_6_31 = Variant(
    name="2.6.31",
    reliable=True,
    events_sysctl=True,
    missed_cache=True,
    retry_timer=True,
    single_winner_delete=False,
    missed_every_packet=False,
    gc_expiry=False,
    flush_marks_unconfirmed=True,
    confirm_drops_dying=False,
    build_failure_reports=False,
    events_auto=False,
    netns_ctnetlink=False,
)
VARIANT_6_X = Variant(
    name="6.x",
    reliable=True,
    events_sysctl=True,
    missed_cache=True,
    retry_timer=False,
    single_winner_delete=True,
    missed_every_packet=True,
    gc_expiry=True,
    flush_marks_unconfirmed=False,
    confirm_drops_dying=True,
    build_failure_reports=True,
    events_auto=True,
    netns_ctnetlink=True,
)

DEFINED: dict[str, Variant] = {v.name: v for v in (VARIANT_2_6_30, VARIANT_2_6_31, VARIANT_6_X)}
MODELLED: dict[str, Variant] = DEFINED
"""Variants that the engines and the command line offer."""


def variant_of(name: str) -> Variant:
    """The variant called `name`; KeyError if there is none."""
    return DEFINED[name]
