"""Cross-engine consistency: Z3 BMC and the explorer agree on the shortest length of each
violation and witness that both can search, on the same config."""

from __future__ import annotations

import pytest
from explorer_configs import small

from nfct_spec.engines.explorer import explore, trace_of
from nfct_spec.engines.z3_bmc import run_bmc
from nfct_spec.models.config import Config
from nfct_spec.models.presets import suite
from nfct_spec.proofs.targets import TARGETS
from nfct_spec.replay import replay
from nfct_spec.spec.catalogue import BY_ID

CASES = [
    ("2.6.31", {}, "table-bound"),
    ("2.6.31", {}, "may-drop-when-full"),
    ("2.6.31", {"sysctl_writes": (("events_retry_timeout", 0),)}, "no-crash"),
    ("2.6.30", {}, "destroy-before-free"),
]


def _agree(config: Config, prop_id: str) -> None:
    """The BMC trace of the finding replays and is exactly as long as the explorer's."""
    prop = BY_ID[prop_id]
    explored = trace_of(explore(config, [prop]), prop)
    found = run_bmc(config, TARGETS[prop_id], len(explored.steps) + 1, {"property": prop_id})
    assert found.trace is not None and replay(found.trace).ok
    assert len(found.trace.steps) == len(explored.steps)


@pytest.mark.parametrize(("variant", "extra", "prop_id"), CASES)
def test_bmc_and_the_explorer_find_findings_of_the_same_shortest_length(
    variant: str, extra: dict[str, object], prop_id: str
) -> None:
    _agree(small(variant, **extra), prop_id)


SUITE_CASES = [
    ("2.6.31", "ci.sysctl", "no-crash"),
    ("2.6.31", "ci.sysctl", "no-destroy-before-listener"),
    ("2.6.31", "ci.expectations", "flush-confirm-race"),
    ("6.x", "ci.sysctl", "no-destroy-before-listener"),
    ("2.6.30", "ci.listeners", "destroy-before-free"),
]


@pytest.mark.parametrize(("variant", "member", "prop_id"), SUITE_CASES)
def test_bmc_and_the_explorer_agree_on_the_members_of_the_ci_suite(
    variant: str, member: str, prop_id: str
) -> None:
    (config,) = [c for c in suite("ci", variant) if c.name == member]
    _agree(config, prop_id)
