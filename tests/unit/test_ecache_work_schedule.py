"""nf_conntrack_ecache_work(NFCT_ECACHE_DESTROY_FAIL) (Linux 5.19 and later): the flag
ecache_dwork_pending is set only together with scheduling the work."""

from __future__ import annotations

from nfct_spec.models.presets import preset
from nfct_spec.models.redelivery import _schedule_on_failure
from nfct_spec.models.state import evolve, initial_state


def test_a_failure_schedules_the_idle_worker_and_sets_the_flag() -> None:
    config = preset("tiny", "6.x")
    state = _schedule_on_failure(config, initial_state(config))
    assert (state.kernel.worker, state.kernel.dwork_pending) == (config.worker_first_delay, True)


def test_a_failure_leaves_a_pending_worker_and_the_flag_alone() -> None:
    config = preset("tiny", "6.x")
    start = initial_state(config)
    pending = evolve(start, kernel=evolve(start.kernel, worker=0, dwork_pending=False))
    assert _schedule_on_failure(config, pending) == pending
