"""The seed's claims: every sentence of the message of commit dd7669a92c, the properties that
formalise it, and whether it holds, holds with conditions, fails, or is not a claim about
behaviour (`not-formalised`: test procedures, rationale, future work).

The sentences are quoted from `seed/dd7669a92c.txt` (the commit message by Pablo Neira Ayuso,
Linux 2.6.31) in order; a test checks that together they are exactly that text. A status is
the expected verdict of the listed properties on 2.6.31; the results of the engines back it.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

STATUSES = ("holds", "holds-with-conditions", "fails", "not-formalised")


@dataclass(frozen=True)
class Claim:
    """One sentence of the seed and what the specification says about it."""

    sentence: str
    properties: tuple[str, ...]
    status: str
    note: str


def seed_text() -> str:
    """The seed commit message body (without its sign-offs)."""
    return resources.files("nfct_spec.spec").joinpath("seed/dd7669a92c.txt").read_text().strip()


CLAIMS: tuple[Claim, ...] = (
    Claim(
        "This patch improves ctnetlink event reliability if one broadcast listener has set the "
        "NETLINK_BROADCAST_ERROR socket option.",
        ("destroy-before-free", "destroy-eventually", "may-lose-without-be"),
        "holds-with-conditions",
        "Only DESTROY is made reliable, only for sockets with BE, and only for conntracks "
        "created with events on; other listeners may still lose events.",
    ),
    Claim(
        "The logic is the following: if an event delivery fails, we keep the undelivered events "
        "in the missed event cache.",
        ("missed-only-undelivered", "missed-keeps-undelivered"),
        "holds",
        "A failed DESTROY with a requester pid keeps the pid instead of the bit.",
    ),
    Claim(
        "Once the next packet arrives, we add the new events (if any) to the missed events in the "
        "cache and we try a new delivery, and so on.",
        ("missed-waits-for-traffic",),
        "fails",
        "Only a packet that caches a new event retries: nf_ct_deliver_cached_events() returns "
        "early when the cache is empty, so '(if any)' does not hold.",
    ),
    Claim(
        "Thus, if ctnetlink fails to deliver an event, we try to deliver them once we see a new "
        "packet.",
        ("missed-waits-for-traffic", "new-before-destroy"),
        "holds-with-conditions",
        "Once a packet caches an event; a missed NEW may first reach the listener inside the "
        "DESTROY message.",
    ),
    Claim(
        "Therefore, we may lose state transitions but the userspace process gets in sync at some "
        "point.",
        ("may-coalesce", "destroy-eventually"),
        "holds-with-conditions",
        "In sync at the latest with the DESTROY, under the fairness of destroy-eventually.",
    ),
    Claim(
        "At worst case, if no events were delivered to userspace, we make sure that destroy events "
        "are successfully delivered.",
        (
            "destroy-before-free",
            "destroy-eventually",
            "no-destroy-before-listener",
            "flush-confirm-race",
        ),
        "holds-with-conditions",
        "Not for conntracks created while events were off, nor for one confirmed while a flush "
        "ran, nor when a message cannot be built; and only if listeners read and traffic "
        "eventually lets the queue drain.",
    ),
    Claim(
        "Basically, if ctnetlink fails to deliver the destroy event, we remove the conntrack entry "
        "from the hashes and we insert them in the dying list, which contains inactive entries.",
        ("one-place", "dying-has-retry"),
        "holds",
        "",
    ),
    Claim(
        "Then, the conntrack timer is added with an extra grace timeout of random32() % 15 seconds "
        "to trigger the event again (this grace timeout is tunable via /proc).",
        ("dying-has-retry", "no-crash"),
        "fails",
        "Tuned to 0 the modulo divides by zero in timer context.",
    ),
    Claim(
        'The use of a limited random timeout value allows distributing the "destroy" resends, '
        'thus, avoiding accumulating lots "destroy" events at the same time.',
        ("may-reorder",),
        "not-formalised",
        "A performance rationale; its consequence, reordering, is may-reorder.",
    ),
    Claim(
        "Event delivery may re-order but we can identify them by means of the tuple plus the "
        "conntrack ID.",
        ("may-reorder", "identity-unique"),
        "holds",
        "In 2.6.31 the id is the object address, reused only after every message of the old "
        "conntrack was sent; on 6.x ids are reused earlier (observed on 6.18).",
    ),
    Claim(
        "The maximum number of conntrack entries (active or inactive) is still handled by "
        "nf_conntrack_max.",
        ("table-bound",),
        "fails",
        "early_drop() counts a victim whose DESTROY failed as dropped; it stays counted on the "
        "dying list and the new conntrack is allocated too.",
    ),
    Claim(
        "Thus, we may start dropping packets at some point if we accumulate a lot of inactive "
        "conntrack entries that did not successfully report the destroy event to userspace.",
        ("may-drop-when-full",),
        "holds",
        "",
    ),
    Claim(
        "During my stress tests consisting of setting a very small buffer of 2048 bytes for "
        "conntrackd and the NETLINK_BROADCAST_ERROR socket flag, and generating lots of very "
        "small connections, I noticed very few destroy entries on the fly waiting to be resend.",
        (),
        "not-formalised",
        "An observation of one test; the live-kernel scenario reliable-flush repeats it on 6.18.",
    ),
    Claim(
        "A simple way to test this patch consist of creating a lot of entries, set a very small "
        "Netlink buffer in conntrackd (+ a patch which is not in the git tree to set the "
        "BROADCAST_ERROR flag) and invoke `conntrack -F'.",
        (),
        "not-formalised",
        "A test procedure; it is the live-kernel scenario reliable-flush.",
    ),
    Claim(
        "For expectations, no changes are introduced in this patch.",
        ("expectation-unreliable",),
        "holds",
        "",
    ),
    Claim(
        "Currently, event delivery is only done for new expectations (no events from expectation "
        "expiration, removal and confirmation).",
        ("expectation-unreliable",),
        "holds",
        "The model has only the new-expectation event.",
    ),
    Claim(
        "In that case, they need a per-expectation event cache to implement the same idea that is "
        "exposed in this patch.",
        (),
        "not-formalised",
        "Future work.",
    ),
    Claim(
        "This patch can be useful to provide reliable flow-accouting.",
        ("destroy-eventually", "new-before-destroy", "identity-unique"),
        "holds-with-conditions",
        "Every flow's end is reported to a reliable listener under fairness, but its start may "
        "only be seen inside the DESTROY.",
    ),
    Claim(
        "We still have to add a new conntrack extension to store the creation and destroy time.",
        (),
        "not-formalised",
        "Future work.",
    ),
)
