"""Premises: the situation in which a catalogue entry's check can fail at all.

A search that exhausts a config without finding a counterexample says the entry holds there,
and says nothing more if the config never reaches the situation the entry is about: an early
drop never meets an ASSURED conntrack when no packet of the config ever sets IPS_ASSURED_BIT,
so `early-drop-spares-assured` "holds" on it whatever early_drop() does. Each premise names
that situation as a transition predicate `(config, pre, step, post)`, True on a step that
reaches it; a state premise reads `post`. The `ci` suite, which the product checks by
default, must reach the premise of every entry it judges `holds` or `no-witness`: a test
searches each premise, as a witness entry of its own (`premise_entry`), on the member
`SHOWN_IN` names. The engines use the same entries: the explorer searches an entry's premise
before it calls the entry `exhausted`, and Hypothesis watches its runs for it before it
calls the entry `sampled`; a premise no run reaches makes the verdict `unknown`
(`nfct_spec.engines.premises`, `nfct_spec.engines.sampling`).

Entries without a premise: those in `UNCONDITIONAL` (their check has no antecedent, every
state is judged the same way), those a variant cannot reach in `EXEMPT` (with the reason), and
by rule the auxiliary lemmas of the inductive proofs and the entries judged only at the
CPU-level granularity.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from nfct_spec.models.bits import IPCT_DESTROY
from nfct_spec.models.config import Config
from nfct_spec.models.observers import BITS, IDS, OBLIGATIONS, RECEIPTS
from nfct_spec.models.registry import Step
from nfct_spec.models.state import Kernel, Message, State
from nfct_spec.models.variants import MODELLED
from nfct_spec.spec.properties import (
    freed_records,
    freed_slots,
    int_arg,
    reliable_destroy_listeners,
)
from nfct_spec.spec.records import Property

Premise = Callable[[Config, State, Step, State], bool]


def allocation_waits(config: Config, pre: State, step: Step, post: State) -> bool:
    """A new conntrack found the table full: the count is over the limit until early_drop()
    decides (the only moment it exceeds the allocated conntracks)."""
    return post.kernel.alloc_pending >= 0


def changes_list(config: Config, pre: State, step: Step, post: State) -> bool:
    """A conntrack that stays allocated moves from one list to another (a confirm, an unhash
    to the dying list)."""
    before, after = pre.kernel, post.kernel
    for slot, ct in enumerate(before.cts):
        if ct is None or after.cts[slot] is None:
            continue
        if _place(before, slot) != _place(after, slot):
            return True
    return False


def _place(kernel: Kernel, slot: int) -> int:
    """Which list holds the slot: 0 unconfirmed, 1 hash, 2 dying, -1 none."""
    for place, members in enumerate((kernel.unconfirmed, kernel.hash, kernel.dying)):
        if slot in members:
            return place
    return -1


def dying_listed(config: Config, pre: State, step: Step, post: State) -> bool:
    """Some conntrack waits on the dying list (6.x: the redelivery list) for its DESTROY."""
    return bool(post.kernel.dying)


def missed_set(config: Config, pre: State, step: Step, post: State) -> bool:
    """Some conntrack that is not dying holds events in its missed cache."""
    return any(ct is not None and ct.missed and not ct.dying for ct in post.kernel.cts)


def reporting_freed(config: Config, pre: State, step: Step, post: State) -> bool:
    """A conntrack that reported events is freed while a listener with NETLINK_BROADCAST_ERROR
    subscribed to DESTROY is open."""
    return any(record.reporting for record in freed_records(pre, post)) and bool(
        reliable_destroy_listeners(config, pre)
    )


def destroy_queued_with_another(config: Config, pre: State, step: Step, post: State) -> bool:
    """A listener's queue holds the DESTROY of a conntrack together with another message of
    the same tuple and id: the listener reads both, and the order is what the entry judges.
    (Read from the queues, not from the observers, which a search drops where a read cannot
    fail.)"""
    return any(_same_id_pair(sock.queue, destroy_first=False) for sock in post.kernel.sockets)


def same_id_queued(config: Config, pre: State, step: Step, post: State) -> bool:
    """A listener's queue holds the DESTROY of a conntrack followed by a message of a later
    conntrack with the same tuple and id (allocated in the freed memory): two conntracks the
    listener can tell apart only by the order it reads them in."""
    return any(_same_id_pair(sock.queue, destroy_first=True) for sock in post.kernel.sockets)


def _same_id_pair(queue: tuple[Message, ...], destroy_first: bool) -> bool:
    """Two conntrack messages of one tuple and id in `queue`, one a DESTROY (with
    `destroy_first`, the earlier one)."""
    messages = [m for m in queue if not m.expect]
    for k, first in enumerate(messages):
        for second in messages[k + 1 :]:
            if (first.slot, first.flow) != (second.slot, second.flow):
                continue
            bits = first.bits if destroy_first else first.bits | second.bits
            if bits & IPCT_DESTROY:
                return True
    return False


def early_drop_meets_assured(config: Config, pre: State, step: Step, post: State) -> bool:
    """early_drop() runs while an ASSURED conntrack is hashed (one it must not pick)."""
    if step.action != "early_drop":
        return False
    cts = pre.kernel.cts
    return any((ct := cts[slot]) is not None and ct.assured for slot in pre.kernel.hash)


def two_destroys_queued(config: Config, pre: State, step: Step, post: State) -> bool:
    """A listener's queue holds the DESTROYs of two conntracks: the order it reads them in is
    the order it learns of their deaths."""
    for sock in post.kernel.sockets:
        destroys = [m for m in sock.queue if not m.expect and m.bits & IPCT_DESTROY]
        if len(destroys) >= 2:
            return True
    return False


def delivered_and_refused(config: Config, pre: State, step: Step, post: State) -> bool:
    """One send queues an event to a listener while another listener's socket refuses it
    (overrun): the event reached one and is owed to the other, the situation in which a resend
    reaches the first again."""
    before, after = pre.kernel.sockets, post.kernel.sockets
    queued = any(len(b.queue) < len(a.queue) for b, a in zip(before, after, strict=True))
    refused = any(
        b.drops < a.drops or (a.congested and not b.congested)
        for b, a in zip(before, after, strict=True)
    )
    return queued and refused


def missed_on_plain_packet(config: Config, pre: State, step: Step, post: State) -> bool:
    """A packet that caches nothing meets a conntrack with missed events."""
    if step.action != "nf_conntrack_in" or step.kwargs.get("packet") != "plain":
        return False
    ct = pre.ct(pre.hashed_slot_of_flow(int_arg(step, "flow")))
    return ct is not None and bool(ct.missed)


def flush_meets_unconfirmed(config: Config, pre: State, step: Step, post: State) -> bool:
    """A flush runs while a conntrack is unconfirmed."""
    return step.action == "nf_conntrack_flush_report" and bool(pre.kernel.unconfirmed)


def silent_conntrack_freed(config: Config, pre: State, step: Step, post: State) -> bool:
    """A confirmed conntrack is freed while a listener with NETLINK_BROADCAST_ERROR subscribed
    to DESTROY is open."""
    return bool(reliable_destroy_listeners(config, post)) and any(
        slot in pre.kernel.hash or slot in pre.kernel.dying for slot in freed_slots(pre, post)
    )


PREMISES: Mapping[str, Premise] = {
    "table-bound": allocation_waits,
    "count-exact": allocation_waits,
    "one-place": changes_list,
    "dying-has-retry": dying_listed,
    "missed-only-undelivered": missed_set,
    "missed-keeps-undelivered": missed_set,
    "destroy-before-free": reporting_freed,
    "nothing-after-destroy": destroy_queued_with_another,
    "identity-unique": same_id_queued,
    "early-drop-spares-assured": early_drop_meets_assured,
    "may-reorder": two_destroys_queued,
    "may-duplicate": delivered_and_refused,
    "missed-waits-for-traffic": missed_on_plain_packet,
    "flush-confirm-race": flush_meets_unconfirmed,
    "no-destroy-before-listener": silent_conntrack_freed,
}
"""The premise of each entry that has one (see the module docstring)."""

SHOWN_IN: Mapping[str, str] = {
    "table-bound": "ci.sysctl",
    "count-exact": "ci.sysctl",
    "one-place": "ci.sysctl",
    "dying-has-retry": "ci.sysctl",
    "missed-only-undelivered": "ci.sysctl",
    "missed-keeps-undelivered": "ci.sysctl",
    "destroy-before-free": "ci.sysctl",
    "nothing-after-destroy": "ci.queues",
    "identity-unique": "ci.queues",
    "early-drop-spares-assured": "ci.allocations",
    "may-reorder": "ci.queues",
    "may-duplicate": "ci.listeners",
    "missed-waits-for-traffic": "ci.sysctl",
    "flush-confirm-race": "ci.expectations",
    "no-destroy-before-listener": "ci.sysctl",
}
"""The member of the `ci` suite (`nfct_spec.models.presets.suite`) that reaches each premise,
in every variant that judges the entry `holds` or `no-witness` there."""

EXEMPT: Mapping[tuple[str, str], str] = {
    ("missed-waits-for-traffic", "2.6.30"): "2.6.30 has no missed cache: an event that fails "
    "is lost, so no conntrack ever holds missed events for a packet to meet.",
}
"""Entries whose premise a variant cannot reach at all, with the reason (their verdict there
follows from the variant's code, not from a search)."""

UNCONDITIONAL: Mapping[str, str] = {
    "no-crash": "judges every state alike: no state may hold a fault.",
    "deadlock-free": "judges every state alike: no state may hold a deadlock.",
}
"""Entries judged `holds` or `no-witness` somewhere whose check has no antecedent."""

PREMISE_LEVEL = OBLIGATIONS | RECEIPTS | IDS | BITS
"""The observers a search for a premise that reads queued messages keeps: every queued
message as it is (no observer level below this forgets or blanks what a message says)."""

READS_MESSAGES = frozenset({"nothing-after-destroy", "identity-unique", "may-reorder"})
"""The entries whose premise reads what queued messages say (their tuple, slot and bits).
Every other premise reads the kernel state, queue lengths and the obligations records
(`reporting`), which a search keeping the OBLIGATIONS observers has as they are: far fewer
states, so that a config that never reaches the premise is exhausted without it rather than
cut by the budget."""


def premise_level(prop_id: str) -> int:
    """The observers the search for the entry's premise keeps."""
    return PREMISE_LEVEL if prop_id in READS_MESSAGES else OBLIGATIONS


PREFIX = "premise:"
"""The id of a premise entry is the entry's own with this prefix."""


def premise_entry(prop_id: str) -> Property:
    """The premise of a catalogue entry as a witness entry of its own (`premise:ID`), which
    the explorer searches like any other: its finding is a shortest run that reaches it."""
    premise = PREMISES[prop_id]
    return Property(
        id=f"{PREFIX}{prop_id}",
        kind="non-guarantee",
        statement=docstring_summary(premise),
        source=f"the premise of {prop_id}",
        expected=dict.fromkeys(MODELLED, "witness"),
        reasons=dict.fromkeys(MODELLED, "the situation the entry is about"),
        check=premise,
        observes=premise_level(prop_id),
    )


def docstring_summary(fn: Callable[..., bool]) -> str:
    """The first paragraph of a premise's docstring, on one line."""
    return " ".join((fn.__doc__ or "").split("\n\n")[0].split())
