"""Observed-trace files and the monitors, on small hand-written traces (no kernel)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nfct_spec.files import InputError
from nfct_spec.kernel import monitors, observe
from nfct_spec.kernel.observe import (
    CountEvent,
    DeleteEvent,
    Event,
    FlowEvent,
    FlushEvent,
    ListenerInfo,
    ListenerOpenEvent,
    ObservedTrace,
    RecvEvent,
    SendDropEvent,
    SysctlEvent,
)

pytestmark = pytest.mark.kernel

RELIABLE = ListenerInfo("rel", ("destroy",), True, True, 1024, 2304)
PLAIN = ListenerInfo("plain", ("new", "update", "destroy"), False, False, 1 << 20)


def make(events: list[Event], listeners: tuple[ListenerInfo, ...] = (RELIABLE,)) -> ObservedTrace:
    return ObservedTrace("reliable-flush", {"flows": 2}, "6.18", listeners, tuple(events))


def flow(t: float, index: int, ctid: int) -> FlowEvent:
    return FlowEvent(t, index, ctid, "udp", 20000 + index, 9)


def recv(t: float, listener: str, msg: str, ctid: int, index: int) -> RecvEvent:
    return RecvEvent(t, listener, msg, ctid, index, 8)


def sample() -> ObservedTrace:
    return make(
        [
            ListenerOpenEvent(0.0, "rel"),
            flow(0.1, 0, 11),
            flow(0.2, 1, 12),
            CountEvent(0.2, 2),
            FlushEvent(0.3),
            CountEvent(0.3, 1),
            recv(0.31, "rel", "destroy", 11, 0),
            recv(1.3, "rel", "destroy", 12, 1),
            CountEvent(1.3, 0),
        ]
    )


def test_a_trace_survives_save_and_load_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "trace.json"
    observe.save(sample(), path)
    assert observe.load(path) == sample()
    assert observe.dumps(observe.load(path)) == path.read_text()


def test_trace_fields_keep_a_fixed_order() -> None:
    data = json.loads(observe.dumps(sample()))
    assert list(data) == ["format", "scenario", "params", "kernel", "listeners", "events"]
    assert list(data["events"][1]) == ["t", "kind", "flow", "ctid", "proto", "sport", "dport"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["events"][1].pop("ctid"), "events[1]: missing field 'ctid'"),
        (lambda d: d["events"][1].update(ctid="x"), "events[1].ctid: expected int or null"),
        (lambda d: d["events"][0].update(kind="bogus"), "events[0].kind: unknown event kind"),
        (lambda d: d["events"][2].update(t=-1.0), "events[2].t: -1.0 is earlier"),
        (lambda d: d["listeners"][0].update(groups=["x"]), "listeners[0].groups: unknown"),
        (lambda d: d.update(extra=1), "trace: unknown field 'extra'"),
        (lambda d: d["events"][6].update(msg="hello"), "events[6].msg: expected one of"),
    ],
)
def test_a_malformed_trace_is_rejected_naming_the_bad_field(
    tmp_path: Path, mutate: object, message: str
) -> None:
    data = json.loads(observe.dumps(sample()))
    assert callable(mutate)
    mutate(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=str(path)) as info:
        observe.load(path)
    assert message in str(info.value)


def test_a_file_that_is_not_json_is_rejected_clearly(tmp_path: Path) -> None:
    path = tmp_path / "junk.json"
    path.write_text("{not json")
    with pytest.raises(InputError, match="invalid JSON"):
        observe.load(path)


def test_the_summary_reports_messages_duplicates_count_and_retry_timing() -> None:
    text = observe.format_summary(sample())
    assert "flows 2" in text
    assert "destroy 2; distinct (id, tuple) destroyed 2, duplicate destroys 0" in text
    assert "count: max 2, final 0" in text
    assert "2nd +1.000 s" in text


def test_an_update_after_the_destroy_of_the_same_conntrack_is_reported() -> None:
    trace = make(
        [
            flow(0.1, 0, 11),
            recv(0.2, "plain", "destroy", 11, 0),
            recv(0.3, "plain", "update", 11, 0),
        ],
        (PLAIN,),
    )
    result = monitors.no_event_after_destroy(trace)
    assert not result.holds
    assert "update after destroy" in result.detail and "t=0.300000" in result.detail


def test_a_reused_conntrack_id_with_a_new_flow_instance_is_not_an_offence() -> None:
    trace = make(
        [
            flow(0.1, 0, 11),
            flow(0.2, 0, 11),
            recv(0.3, "plain", "destroy", 11, 0),
            recv(0.4, "plain", "new", 11, 0),
            recv(0.5, "plain", "destroy", 11, 0),
        ],
        (PLAIN,),
    )
    assert monitors.no_event_after_destroy(trace).holds
    assert monitors.no_duplicate_at_reliable(make(list(trace.events))).holds


def test_a_flushed_flow_without_destroy_at_the_reliable_listener_is_reported() -> None:
    events = list(sample().events)
    del events[7]
    result = monitors.reliable_destroy_complete(make(events))
    assert not result.holds
    assert "1/2 flows without DESTROY: 1" in result.detail


def test_a_second_destroy_at_the_reliable_listener_is_a_duplicate() -> None:
    events = [*sample().events, recv(1.4, "rel", "destroy", 12, 1)]
    assert not monitors.no_duplicate_at_reliable(make(events)).holds
    both = make(events, (RELIABLE, PLAIN))
    plain_copy = [*both.events, recv(1.5, "plain", "destroy", 12, 1)]
    plain_copy.append(recv(1.6, "plain", "destroy", 12, 1))
    assert monitors.duplicates_at_unreliable(make(plain_copy, (RELIABLE, PLAIN))).holds


def test_a_count_above_the_limit_in_force_is_reported() -> None:
    limit = SysctlEvent(0.05, "net.netfilter.nf_conntrack_max", "1", "global")
    events = [limit, *sample().events]
    result = monitors.count_bounded(make(events))
    assert not result.holds and "above limit 1" in result.detail


def test_a_drop_while_entries_wait_is_a_witness_and_one_after_draining_is_not() -> None:
    events = list(sample().events)
    late = SendDropEvent(1.4, 2, "udp", 20002, 9, "EPERM")
    assert not monitors.drops_while_full(make([*events, late])).holds
    early = SendDropEvent(0.32, 2, "udp", 20002, 9, "EPERM")
    events.insert(7, early)
    result = monitors.drops_while_full(make(events))
    assert result.holds and "1 entries waited" in result.detail


def test_verdicts_compare_each_monitor_with_the_expected_outcome() -> None:
    verdicts = monitors.verdicts(sample())
    assert all(v.as_expected for v in verdicts)
    text = monitors.format_verdicts(verdicts)
    assert "ok  reliable-destroy-complete: holds (expected holds)" in text


def test_id_reused_holds_when_two_instances_share_tuple_and_id_and_fails_otherwise() -> None:
    reused = make(
        [
            flow(0.1, 0, 11),
            DeleteEvent(0.2, 0, "ok"),
            recv(0.21, "rel", "destroy", 11, 0),
            flow(0.3, 0, 11),
            DeleteEvent(0.4, 0, "ok"),
            recv(0.41, "rel", "destroy", 11, 0),
        ]
    )
    result = monitors.id_reused(reused)
    assert result.applicable and result.holds and "id 11 for 2 instances" in result.detail
    # The second DESTROY of the reused key belongs to the second instance: no duplicate.
    assert monitors.no_duplicate_at_reliable(reused).holds
    assert monitors.no_event_after_destroy(reused).holds
    fresh = make([flow(0.1, 0, 11), DeleteEvent(0.2, 0, "ok"), flow(0.3, 0, 12)])
    result = monitors.id_reused(fresh)
    assert result.applicable and not result.holds
