"""Documented limitations and violations, each as a short stored run of kernel steps.

Each case is a run that shows its finding at its last step on one variant; the test checks
that it replays, that the finding shows exactly at the last step, and that the catalogue
expects that finding for the variant. These runs are the regression record of what the
kernel does not guarantee.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from helpers import confirm, new, one_message_queues, packet, step
from nfct_spec.checking import finding_verdict
from nfct_spec.minimize import first_finding, liveness_tail, replay_steps
from nfct_spec.models.presets import preset
from nfct_spec.models.registry import Step
from nfct_spec.spec.catalogue import BY_ID

NEW0 = new(0, 0)
"""Flow 0's first packet; its conntrack gets memory slot 0 (and so flow n gets slot n)."""
NEW1 = new(1, 1)
NEW2 = new(2, 2)
CONFIRM0 = confirm(0)
CONFIRM1 = confirm(1)
CONFIRM2 = confirm(2)
READ_D = step("env_recv", listener="conntrackd")
READ_L = step("env_recv", listener="logger")


def delete(flow: int, requester: str = "conntrack") -> Step:
    return step("ctnetlink_del_conntrack", flow=flow, requester=requester)


@dataclass(frozen=True)
class Golden:
    prop: str
    variant: str
    steps: tuple[Step, ...]

    def __str__(self) -> str:
        return f"{self.prop}@{self.variant}"


GOLDENS = (
    # early_drop's victim fails its DESTROY, stays counted, and the new conntrack is allocated.
    Golden("table-bound", "2.6.31", (NEW0, NEW2, CONFIRM2, NEW1, step("early_drop", victim=2))),
    # the retry timeout is written as 0; the next failed DESTROY computes random32() % 0.
    Golden(
        "no-crash",
        "2.6.31",
        (step("env_sysctl_write", name="events_retry_timeout", value=0), NEW0, CONFIRM0, delete(0)),
    ),
    # 2.6.30 frees the conntrack although the reliable listener's queue refused the DESTROY.
    Golden("destroy-before-free", "2.6.30", (NEW0, CONFIRM0, delete(0))),
    Golden("may-lose-without-be", "2.6.31", (NEW0, CONFIRM0, READ_D, delete(0, "conntrackd"))),
    Golden("may-lose-without-be", "2.6.30", (NEW0, CONFIRM0, delete(0))),
    # the logger reads the DESTROY of a first attempt and of the retry.
    Golden(
        "may-duplicate",
        "2.6.31",
        (NEW0, CONFIRM0, READ_L, delete(0), READ_L, step("death_by_event", slot=0), READ_L),
    ),
    # two DESTROYs fail; the later death's retry fires first.
    Golden(
        "may-reorder",
        "2.6.31",
        (
            NEW0,
            CONFIRM0,
            NEW1,
            CONFIRM1,
            delete(0),
            delete(1),
            READ_D,
            step("death_by_event", slot=1),
            READ_D,
            step("death_by_event", slot=0),
            READ_D,
        ),
    ),
    # the reliable listener's NEW fails and travels inside the DESTROY (a DELETE message).
    Golden(
        "new-before-destroy",
        "2.6.31",
        (NEW0, CONFIRM0, NEW1, CONFIRM1, delete(1), READ_D, step("death_by_event", slot=1), READ_D),
    ),
    Golden(
        "may-coalesce",
        "2.6.31",
        (NEW0, CONFIRM0, NEW1, CONFIRM1, delete(1), READ_D, step("death_by_event", slot=1), READ_D),
    ),
    # a missed NEW is not retried by a packet that caches nothing, though the queue has room.
    Golden(
        "missed-waits-for-traffic",
        "2.6.31",
        (NEW0, CONFIRM0, NEW1, CONFIRM1, READ_D, packet(1, "plain")),
    ),
    # the flushed table leaves only dying entries, which cannot be early-dropped.
    Golden(
        "may-drop-when-full",
        "2.6.31",
        (
            NEW0,
            CONFIRM0,
            NEW1,
            CONFIRM1,
            step("nf_conntrack_flush_report", requester="conntrack", order=(0, 1)),
            NEW2,
            step("early_drop", victim=-1),
        ),
    ),
    Golden(
        "expectation-unreliable", "2.6.31", (NEW0, CONFIRM0, step("nf_ct_expect_related", flow=0))
    ),
    Golden(
        "no-destroy-before-listener",
        "2.6.31",
        (step("env_sysctl_write", name="nf_conntrack_events", value=0), NEW0, CONFIRM0, delete(0)),
    ),
    # 6.x: the worker walks the redelivery list newest failure first.
    Golden(
        "may-reorder",
        "6.x",
        (
            NEW0,
            CONFIRM0,
            NEW1,
            CONFIRM1,
            delete(0),
            delete(1),
            READ_D,
            step("env_tick"),
            step("env_tick"),
            step("ecache_work"),
            READ_D,
            step("ecache_work"),
            READ_D,
        ),
    ),
    Golden(
        "new-before-destroy",
        "6.x",
        (
            NEW0,
            CONFIRM0,
            NEW1,
            CONFIRM1,
            delete(1),
            READ_D,
            step("env_tick"),
            step("env_tick"),
            step("ecache_work"),
            READ_D,
        ),
    ),
    Golden(
        "may-drop-when-full",
        "6.x",
        (
            NEW0,
            CONFIRM0,
            NEW1,
            CONFIRM1,
            step("nf_conntrack_flush_report", requester="conntrack", order=(0, 1)),
            NEW2,
            step("early_drop", victim=-1),
        ),
    ),
    # auto mode: no listener when the conntrack was created, so it never reports.
    Golden(
        "no-destroy-before-listener",
        "6.x",
        (
            step("env_listener_close", listener="conntrackd"),
            step("env_listener_close", listener="logger"),
            NEW0,
            step("env_listener_open", listener="conntrackd"),
            CONFIRM0,
            delete(0),
        ),
    ),
    # the freed conntrack's memory goes to the next conntrack of the same flow: the logger
    # reads a NEW with the tuple and id of the NEW and DESTROY it read before.
    Golden(
        "id-reuse",
        "2.6.31",
        (NEW0, CONFIRM0, READ_D, READ_L, delete(0), READ_D, READ_L, NEW0, CONFIRM0, READ_L),
    ),
    # 6.x: a packet of the expired tuple reaps it and its conntrack gets the same memory; the
    # same tuple and object give the same nf_ct_get_id() hash.
    Golden(
        "id-reuse",
        "6.x",
        (
            NEW0,
            CONFIRM0,
            READ_D,
            READ_L,
            step("env_tick"),
            step("env_tick"),
            NEW0,
            READ_L,
            CONFIRM0,
            READ_L,
        ),
    ),
    # a conntrack still unconfirmed during the flush is hashed with DYING set.
    Golden(
        "flush-confirm-race",
        "2.6.31",
        (
            NEW0,
            NEW1,
            CONFIRM1,
            step("nf_conntrack_flush_report", requester="conntrack", order=(1,)),
            CONFIRM0,
        ),
    ),
)


@pytest.mark.parametrize("golden", GOLDENS, ids=str)
def test_stored_run_shows_its_finding_at_its_last_step(golden: Golden) -> None:
    config = one_message_queues(preset("ci", golden.variant))
    prop = BY_ID[golden.prop]
    path = replay_steps(config, golden.steps)
    assert path is not None, "the stored run no longer replays"
    assert first_finding(config, prop, path) == len(golden.steps)
    expected = prop.expected_for(config)
    assert finding_verdict(prop) == ("witness" if expected == "witness" else "violated")
    assert expected in ("witness", "violated")


LIVENESS = ("destroy-eventually", "expiry-eventually")


def test_2_6_30_loses_the_destroy_for_good_so_destroy_eventually_fails() -> None:
    config = one_message_queues(preset("ci", "2.6.30"))
    path = replay_steps(config, (NEW0, CONFIRM0, delete(0)))
    assert path is not None
    assert all(liveness_tail(config, path, prop_id) is not None for prop_id in LIVENESS)


def test_2_6_31_delivers_the_same_destroy_once_the_listener_reads() -> None:
    config = one_message_queues(preset("ci", "2.6.31"))
    path = replay_steps(config, (NEW0, CONFIRM0, delete(0)))
    assert path is not None
    assert all(liveness_tail(config, path, prop_id) is None for prop_id in LIVENESS)


@pytest.mark.parametrize(
    ("prop", "variant"),
    [
        ("table-bound", "2.6.30"),
        ("table-bound", "6.x"),
        ("missed-waits-for-traffic", "6.x"),
        ("flush-confirm-race", "6.x"),
    ],
)
def test_the_same_run_is_harmless_where_the_kernel_guarantees_it(prop: str, variant: str) -> None:
    (golden,) = [g for g in GOLDENS if g.prop == prop and g.variant == "2.6.31"]
    config = one_message_queues(preset("ci", variant))
    path = replay_steps(config, golden.steps)
    assert path is not None
    assert first_finding(config, BY_ID[prop], path) is None


@pytest.mark.parametrize("golden", [g for g in GOLDENS if g.prop == "id-reuse"], ids=str)
def test_an_id_reused_in_order_does_not_break_identity_unique(golden: Golden) -> None:
    """The listener reads every message of the freed conntrack before any of the next one, so
    the reuse is a non-guarantee of ctnetlink ids, not a reordering across conntracks."""
    config = one_message_queues(preset("ci", golden.variant))
    path = replay_steps(config, golden.steps)
    assert path is not None
    assert first_finding(config, BY_ID["identity-unique"], path) is None
    assert BY_ID["identity-unique"].expected_for(config) == "holds"
