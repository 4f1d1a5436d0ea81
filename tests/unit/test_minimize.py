"""Minimisation by replay: junk steps go, slot arguments follow their conntracks, slots are
compacted, the finding stays."""

from __future__ import annotations

import pytest

from helpers import step
from nfct_spec.minimize import first_finding, follow_slots, minimize, replay_steps
from nfct_spec.models.presets import preset
from nfct_spec.spec.catalogue import BY_ID

TABLE_BOUND = [
    step("nf_conntrack_in", flow=0, packet="new", slot=0),
    step("nf_conntrack_in", flow=2, packet="new", slot=1),
    step("__nf_conntrack_confirm", slot=1),
    step("nf_conntrack_in", flow=1, packet="new", slot=2),
    step("early_drop", victim=1),
]


def test_an_unrelated_allocation_is_dropped_and_the_slots_compacted() -> None:
    config = preset("ci", "2.6.31")
    junk = [
        step("nf_conntrack_in", flow=1, packet="new", slot=0),
        step("destroy_conntrack", slot=0),
    ]
    spread = [
        step("nf_conntrack_in", flow=0, packet="new", slot=3),
        step("nf_conntrack_in", flow=2, packet="new", slot=2),
        step("__nf_conntrack_confirm", slot=2),
        step("env_recv", listener="logger"),
        step("nf_conntrack_in", flow=1, packet="new", slot=1),
        step("early_drop", victim=2),
    ]
    path = minimize(config, BY_ID["table-bound"], junk + spread)
    assert [s for s, _ in path] == TABLE_BOUND
    assert first_finding(config, BY_ID["table-bound"], path) == len(path)


def test_a_removal_that_moves_a_later_conntrack_makes_its_steps_follow() -> None:
    """The junk conntrack of flow 1 holds slot 0 until the crashing conntrack takes it: without
    the junk's destroy, slot 0 stays in use, so that conntrack moves to slot 1 and the steps
    naming it follow; then the junk allocation goes and the slots are compacted again."""
    config = preset("ci", "2.6.31")
    steps = [
        step("nf_conntrack_in", flow=1, packet="new", slot=0),
        step("env_sysctl_write", name="events_retry_timeout", value=0),
        step("destroy_conntrack", slot=0),
        step("nf_conntrack_in", flow=0, packet="new", slot=0),
        step("__nf_conntrack_confirm", slot=0),
        step("ctnetlink_del_conntrack", flow=0, requester="conntrack"),
    ]
    assert replay_steps(config, steps[:2] + steps[3:]) is None
    path = minimize(config, BY_ID["no-crash"], steps)
    assert [s for s, _ in path] == steps[1:2] + steps[3:]
    assert first_finding(config, BY_ID["no-crash"], path) == len(path)


def test_an_unrelated_conntrack_is_dropped_with_every_step_that_acts_on_it() -> None:
    """The junk conntrack of flow 1 is allocated in slot 0 and destroyed two steps later; flow
    2's conntrack takes slot 0 again. Neither junk step can go alone, both go together."""
    config = preset("ci", "2.6.31")
    steps = [
        step("nf_conntrack_in", flow=1, packet="new", slot=0),
        step("nf_conntrack_in", flow=0, packet="new", slot=3),
        step("destroy_conntrack", slot=0),
        step("nf_conntrack_in", flow=2, packet="new", slot=0),
        step("__nf_conntrack_confirm", slot=0),
        step("env_recv", listener="logger"),
        step("nf_conntrack_in", flow=1, packet="new", slot=2),
        step("early_drop", victim=0),
    ]
    path = minimize(config, BY_ID["table-bound"], steps)
    assert [s for s, _ in path] == TABLE_BOUND


def test_follow_slots_moves_a_conntrack_and_every_step_that_names_it() -> None:
    config = preset("ci", "2.6.31")
    path = replay_steps(
        config,
        [
            step("nf_conntrack_in", flow=1, packet="new", slot=0),
            step("destroy_conntrack", slot=0),
            step("nf_conntrack_in", flow=2, packet="new", slot=0),
            step("__nf_conntrack_confirm", slot=0),
            step("ctnetlink_del_conntrack", flow=2, requester="conntrack"),
        ],
    )
    assert path is not None
    followed = follow_slots(config, path, [0, 2, 3, 4])
    assert followed == [
        step("nf_conntrack_in", flow=1, packet="new", slot=0),
        step("nf_conntrack_in", flow=2, packet="new", slot=1),
        step("__nf_conntrack_confirm", slot=1),
        step("ctnetlink_del_conntrack", flow=2, requester="conntrack"),
    ]
    assert follow_slots(config, path, [0, 3]) is None  # its conntrack was never allocated
    moved = step("nf_conntrack_in", flow=1, packet="new", slot=3)
    assert follow_slots(config, path, range(5), {0: moved})[1] == step("destroy_conntrack", slot=3)


def test_a_run_without_the_finding_is_refused() -> None:
    config = preset("ci", "2.6.30")
    with pytest.raises(ValueError, match="table-bound"):
        minimize(config, BY_ID["table-bound"], TABLE_BOUND)
