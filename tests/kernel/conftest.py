"""Shared fixtures for the live-kernel tests: skip with the reason when the kernel is unusable."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from nfct_spec.kernel import netns
from nfct_spec.kernel.observe import ObservedTrace, ParamValue


@pytest.fixture(scope="session")
def live_kernel() -> None:
    """Skip unless this process can create network namespaces and use conntrack."""
    reason = netns.probe()
    if reason is not None:
        pytest.skip(f"live kernel unavailable: {reason}")


@pytest.fixture(scope="session")
def observed(live_kernel: None) -> Callable[..., ObservedTrace]:
    """Run a scenario once per parameter set for the whole session and share its trace."""
    from nfct_spec.kernel.scenarios import run_scenario_with

    cache: dict[tuple[str, tuple[tuple[str, ParamValue], ...]], ObservedTrace] = {}

    def get(name: str, **params: ParamValue) -> ObservedTrace:
        key = (name, tuple(sorted(params.items())))
        if key not in cache:
            cache[key] = run_scenario_with(name, params)
        return cache[key]

    return get
