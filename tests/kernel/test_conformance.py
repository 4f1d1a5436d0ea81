"""Trace validation: small live-kernel runs are behaviours of the 6.x model."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from nfct_spec.kernel.conformance import VALIDATION_RUNS, TooLarge, validate
from nfct_spec.kernel.observe import CountEvent, ObservedTrace, ParamValue

pytestmark = pytest.mark.kernel
Observed = Callable[..., ObservedTrace]

SMALL: list[tuple[str, dict[str, ParamValue]]] = [(n, dict(p)) for n, p in VALIDATION_RUNS]


@pytest.mark.parametrize(("name", "params"), SMALL, ids=lambda v: str(v))
def test_small_live_run_is_explained_by_the_6x_model(
    observed: Observed, name: str, params: dict[str, ParamValue]
) -> None:
    result = validate(observed(name, **params))
    assert result.ok and result.unsupported is None, result.summary()
    assert result.explained == result.total > 0


def test_a_tampered_count_is_not_explained(observed: Observed) -> None:
    trace = observed("reliable-flush", flows=3)
    events = list(trace.events)
    i = next(i for i, e in enumerate(events) if isinstance(e, CountEvent) and e.value > 0)
    events[i] = dataclasses.replace(events[i], value=events[i].value + 5)  # type: ignore[type-var]
    result = validate(dataclasses.replace(trace, events=tuple(events)))
    assert not result.ok and "count" in (result.unexplained or "")


def test_a_full_scenario_run_is_explained_by_the_6x_model(observed: Observed) -> None:
    # 200 conntracks flushed to a one-message buffer: the flush order is bound read by read
    # (nfct_spec.kernel.lazyflows), and every redelivery is a hidden step of the search.
    result = validate(observed("reliable-flush", flows=200))
    assert result.ok and result.unsupported is None, result.summary()
    assert result.explained == result.total > 600


def test_several_tcp_connections_are_refused_rather_than_searched(observed: Observed) -> None:
    with pytest.raises(TooLarge, match="8 TCP connections \\(at most 2"):
        validate(observed("tcp-events", conns=8))
