"""How a live-kernel run can fail, as one line and an exit code, for `nfct-spec kernel` and
`python -m nfct_spec.kernel.scenarios` alike (the table is in `nfct_spec.cli`).

4: the kernel cannot be used here: not root, no network namespaces, no conntrack, `ip` or `nft`
missing, or a setup step the kernel refused (an OSError outside a ctnetlink request: creating
the namespace, loading the nftables rule, opening a NETLINK_NETFILTER socket).
5: the kernel answered something nfct-spec cannot handle: a netlink message shorter or longer
than its headers say, a ctnetlink request refused with an error code, or a cleanup step
(removing the namespace, restoring a sysctl) that failed.
"""

from __future__ import annotations

from nfct_spec.kernel.netlink import CtnlError, NetlinkFormatError
from nfct_spec.kernel.netns import CleanupError, KernelUnavailable

UNAVAILABLE = 4
UNHANDLED = 5
LIVE_ERRORS = (KernelUnavailable, NetlinkFormatError, CleanupError, OSError)
"""Every exception `failure` turns into an exit code (CtnlError is an OSError)."""


LiveError = KernelUnavailable | NetlinkFormatError | CleanupError | OSError


def failure(exc: LiveError) -> tuple[int, str]:
    """The exit code and the one-line message for an exception of a live run."""
    text = " ".join(str(exc).split())
    if isinstance(exc, NetlinkFormatError | CtnlError | CleanupError):
        return UNHANDLED, f"the live kernel answered something nfct-spec cannot handle: {text}"
    return UNAVAILABLE, f"live kernel unavailable: {text}"
