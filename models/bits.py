"""Conntrack event bits and the netlink group a message goes to.

Bit positions are those of `enum ip_conntrack_events` in
include/net/netfilter/nf_conntrack_ecache.h (Linux 2.6.31): IPCT_NEW is bit 0, IPCT_RELATED 1,
IPCT_DESTROY 2, IPCT_STATUS 3, IPCT_PROTOINFO 4. The model uses NEW, DESTROY and the update bits
STATUS and PROTOINFO; RELATED behaves like NEW for delivery and is left out.
"""

from __future__ import annotations

IPCT_NEW = 1 << 0
IPCT_DESTROY = 1 << 2
IPCT_STATUS = 1 << 3
IPCT_PROTOINFO = 1 << 4

BIT_NAMES: dict[str, int] = {
    "NEW": IPCT_NEW,
    "DESTROY": IPCT_DESTROY,
    "STATUS": IPCT_STATUS,
    "PROTOINFO": IPCT_PROTOINFO,
}
UPDATE_BITS = IPCT_STATUS | IPCT_PROTOINFO

GROUP_NEW = "new"
GROUP_UPDATE = "update"
GROUP_DESTROY = "destroy"
GROUP_EXPECT = "expect"
GROUPS = (GROUP_NEW, GROUP_UPDATE, GROUP_DESTROY, GROUP_EXPECT)


def ct_group(bits: int) -> str:
    """The multicast group of one conntrack message carrying `bits`.

    ctnetlink_conntrack_event() (net/netfilter/nf_conntrack_netlink.c, 2.6.31) picks
    NFNLGRP_CONNTRACK_DESTROY if the DESTROY bit is set, else NFNLGRP_CONNTRACK_NEW if NEW (or
    RELATED) is set, else NFNLGRP_CONNTRACK_UPDATE. A message is one group only, so a NEW that
    travels inside a DESTROY message reaches DESTROY subscribers only.
    """
    if bits & IPCT_DESTROY:
        return GROUP_DESTROY
    if bits & IPCT_NEW:
        return GROUP_NEW
    return GROUP_UPDATE


def bit_names(bits: int) -> list[str]:
    """The names of the bits set in `bits`, in a fixed order (for traces and messages)."""
    return [name for name, bit in BIT_NAMES.items() if bits & bit]


def bits_from_names(names: list[str]) -> int:
    """The inverse of `bit_names`; raises KeyError on an unknown name."""
    value = 0
    for name in names:
        value |= BIT_NAMES[name]
    return value
