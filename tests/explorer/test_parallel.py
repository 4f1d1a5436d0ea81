"""The parallel search (`nfct_spec.engines.parallel`): on every variant it stores the same
states as the sequential search, with the same transitions, depth and verdicts, findings of
the same BFS depth whose traces replay, the same budget cut, and with partial-order reduction
the same reduced search; its partitions do not depend on the hash seed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from explorer_configs import small

from nfct_spec.checking import searched
from nfct_spec.engines.explorer import explore, finding_depth, search_groups, trace_of, verdict
from nfct_spec.engines.parallel import Pool, stable_hash
from nfct_spec.models.observers import FULL, OBLIGATIONS
from nfct_spec.models.presets import preset
from nfct_spec.models.registry import successors
from nfct_spec.models.state import initial_state
from nfct_spec.replay import replay
from nfct_spec.spec.catalogue import CATALOGUE

VARIANTS = ("2.6.30", "2.6.31", "6.x")


@pytest.fixture(scope="module")
def pool() -> Iterator[Pool]:
    with Pool(2) as workers:
        yield workers


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("por", [False, True], ids=["unreduced", "por"])
def test_two_workers_find_what_one_process_finds(variant: str, por: bool, pool: Pool) -> None:
    config = small(variant)
    props = [p for p in CATALOGUE if p.kind != "liveness" and searched(p, config)]
    for level, group in search_groups(props):
        alone = explore(config, group, level=level, por=por)
        shared = explore(config, group, level=level, por=por, pool=pool)
        mine, theirs = alone.stats, shared.stats
        assert (theirs.states, theirs.transitions, theirs.depth, theirs.complete) == (
            mine.states,
            mine.transitions,
            mine.depth,
            mine.complete,
        ), level
        if por:
            assert mine.reduction is not None and theirs.reduction is not None
            assert theirs.reduction == mine.reduction
        assert set(shared.findings) == set(alone.findings)
        for prop in group:
            assert verdict(prop, shared) == verdict(prop, alone), prop.id
            if prop.id in alone.findings:
                assert finding_depth(shared, prop.id) == finding_depth(alone, prop.id)
                report = replay(trace_of(shared, prop))
                assert report.ok, report.message


def test_a_budget_cuts_the_parallel_search_at_the_same_state_count(pool: Pool) -> None:
    config = small("2.6.31")
    alone = explore(config, CATALOGUE, max_states=300, level=FULL)
    shared = explore(config, CATALOGUE, max_states=300, level=FULL, pool=pool)
    assert alone.stats.states == shared.stats.states == 300
    assert not alone.stats.complete and not shared.stats.complete
    assert alone.stats.depth == shared.stats.depth


def test_one_worker_is_a_pool_too() -> None:
    config = small("2.6.30")
    with Pool(1) as single:
        shared = explore(config, [], level=OBLIGATIONS, pool=single)
    alone = explore(config, [], level=OBLIGATIONS)
    assert (shared.stats.states, shared.stats.transitions) == (
        alone.stats.states,
        alone.stats.transitions,
    )


def test_a_worker_error_is_raised_in_the_caller_with_its_traceback(pool: Pool) -> None:
    with pytest.raises(RuntimeError, match="unknown message 'bogus'"):
        pool._all("bogus")
    shared = explore(small("2.6.30"), [], level=OBLIGATIONS, pool=pool)
    assert shared.stats.complete  # the workers serve the next search


PROBE = r"""
import json

from nfct_spec.engines.parallel import stable_hash
from nfct_spec.models.presets import preset
from nfct_spec.models.registry import successors
from nfct_spec.models.state import initial_state

hashes = []
for variant in ("2.6.30", "2.6.31", "6.x"):
    config = preset("ci", variant)
    state = initial_state(config)
    for i in range(25):
        options = list(successors(config, state))
        if not options:
            break
        hashes += [stable_hash(post) for _, post in options]
        state = options[(7 * i + 3) % len(options)][1]
print(json.dumps(hashes))
"""


def _hashes(seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout


def test_the_partition_of_a_state_does_not_depend_on_the_hash_seed() -> None:
    first = _hashes("0")
    assert first == _hashes("4242")
    assert len(set(json.loads(first))) > 50  # the walks meet many distinct states


def test_equal_states_hash_alike_and_a_crash_reason_is_hashed() -> None:
    config = preset("ci", "2.6.31")
    state = initial_state(config)
    options = list(successors(config, state))
    for _, post in options:
        again = type(post)(*post)
        assert stable_hash(again) == stable_hash(post)
    crashed = state._replace(kernel=state.kernel._replace(crashed="boom"))
    assert stable_hash(crashed) != stable_hash(state)
