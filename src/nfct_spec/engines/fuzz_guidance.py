"""What makes a model state interesting to a fuzzer, as a few small numbers.

HypoFuzz keeps an example in its corpus when it shows a behaviour no earlier example showed:
a new branch of the code under test, or a new value of a `hypothesis.target()` or
`hypothesis.event()`. Branch coverage of the model saturates within minutes, long before the
deep states do: the kernel code that re-sends a DESTROY is the same whether one conntrack or
four wait on the dying list. The numbers below separate such states, so that an example that
reaches a longer dying list, a fuller queue or more pending retries is kept and mutated
further (`nfct_spec.engines.fuzz_machine` reports each run's peaks as targets and every
distinct observer state as an event).

This is the only module of the fuzzer that reads fields of the model state; a change of the
state's shape is made here.
"""

from __future__ import annotations

from dataclasses import dataclass

from nfct_spec.models.config import Config
from nfct_spec.models.state import State

PEAKS = ("dying", "queued", "retries", "over_limit")
"""The per-run peaks reported as targets, in display order."""


@dataclass(frozen=True)
class Features:
    """The guidance numbers of one state.

    `dying`: conntracks on the dying list (the 6.x redelivery list); `queued`: messages waiting
    in all listener queues; `retries`: conntracks whose events wait for a re-send (missed bits,
    or a place on the dying list); `over_limit`: nf_conntrack_count minus nf_conntrack_max (0
    without a limit); `observer`: what the listeners can tell apart (open, queue length,
    congested, socket error, per listener), as a short string.
    """

    dying: int
    queued: int
    retries: int
    over_limit: int
    observer: str

    def peak(self, name: str) -> int:
        """One of the `PEAKS` by name."""
        value: int = getattr(self, name)
        return value


def features(config: Config, state: State) -> Features:
    """The guidance numbers of `state`."""
    kernel = state.kernel
    dying = set(kernel.dying)
    retries = sum(
        1 for slot, ct in enumerate(kernel.cts) if ct is not None and (ct.missed or slot in dying)
    )
    limit = config.nf_conntrack_max
    observer = "|".join(
        f"{int(sock.open)}{len(sock.queue)}{int(sock.congested)}{int(sock.sk_err)}"
        for sock in kernel.sockets
    )
    return Features(
        dying=len(kernel.dying),
        queued=sum(len(sock.queue) for sock in kernel.sockets),
        retries=retries,
        over_limit=kernel.ct_count - limit if limit else 0,
        observer=observer,
    )
