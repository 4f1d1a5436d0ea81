"""One run of the 6.x redelivery worker, as shipped and with `ecache_work_fixed`, replayed for
the history page.

No catalogue entry is about how many DESTROYs one run of the worker delivers (the inverted
time_after() costs runs of the worker, not deliveries), so the explorer has nothing to find;
what the fault does is shown instead by the same steps replayed on both models: two
`conntrack -D` fail against a full queue, the listener reads its queue empty, the worker
becomes due and runs once.
"""

from __future__ import annotations

from dataclasses import dataclass

from nfct_spec.docs.content import DocError
from nfct_spec.minimize import replay_steps
from nfct_spec.models.config import Config, ListenerConfig
from nfct_spec.models.registry import Step
from nfct_spec.models.state import initial_state
from nfct_spec.traces import Trace, make_trace

WORKER_CONFIG = Config(
    name="worker-run",
    variant="6.x",
    nf_conntrack_max=0,
    flows=2,
    slots=2,
    listeners=(
        ListenerConfig(
            "conntrackd", ("new", "destroy"), broadcast_error=True, no_enobufs=True, capacity=2
        ),
    ),
    nf_conntrack_events=1,
    ct_timeout=2,
    event_bits=("NEW", "DESTROY"),
)
"""A 6.x config with room for two DESTROYs in the queue of a conntrackd-like listener
(NETLINK_BROADCAST_ERROR and NETLINK_NO_ENOBUFS), so that one run of the worker could deliver
both entries of the redelivery list."""


def _step(action: str, **args: int | str) -> Step:
    return Step(action, tuple(args.items()))


WORKER_STEPS: tuple[Step, ...] = (
    *(
        step
        for flow in (0, 1)
        for step in (
            _step("nf_conntrack_in", flow=flow, packet="new", slot=flow),
            _step("__nf_conntrack_confirm", slot=flow),
        )
    ),
    _step("ctnetlink_del_conntrack", flow=0, requester="conntrack"),
    _step("ctnetlink_del_conntrack", flow=1, requester="conntrack"),
    _step("env_recv", listener="conntrackd"),
    _step("env_recv", listener="conntrackd"),
    _step("env_tick"),
    _step("env_tick"),
    _step("ecache_work"),
)
"""Two conntracks whose NEWs fill the queue; both deletions fail and go on the redelivery list;
the listener reads both NEWs; time passes until the worker is due; the worker runs once."""


@dataclass(frozen=True)
class WorkerRun:
    """What one run of the worker did: entries on the redelivery list before and after, and
    when the worker is due next (-1: not scheduled, 0: at once)."""

    fixed: bool
    before: int
    after: int
    due: int
    trace: Trace

    @property
    def delivered(self) -> int:
        """The DESTROYs the run delivered (each entry leaves the list once delivered)."""
        return self.before - self.after


def worker_run(fixed: bool) -> WorkerRun:
    """Replay `WORKER_STEPS` on the worker as shipped (False) or fixed (True)."""
    config = WORKER_CONFIG.with_(ecache_work_fixed=fixed)
    path = replay_steps(config, WORKER_STEPS)
    if path is None:
        raise DocError("history page: the worker run no longer replays on the 6.x model")
    before, after = path[-2][1].kernel, path[-1][1].kernel
    meta = {"engine": "replay", "variant": config.variant}
    trace = make_trace(config, path, initial_state(config), meta)
    return WorkerRun(fixed, len(before.dying), len(after.dying), after.worker, trace)
