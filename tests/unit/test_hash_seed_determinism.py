"""Determinism across processes: successor enumeration and an explorer search give the same
answer whatever PYTHONHASHSEED is. String hashes are salted per process, so an order taken
from a set or dict of strings (listener names, action names, requesters) would differ between
two runs of the tool yet agree within one; `test_registry` compares within one process only.
"""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = r"""
import json

from nfct_spec.engines.explorer import explore, finding_depth
from nfct_spec.models.config import Config
from nfct_spec.models.observers import OBLIGATIONS, RECEIPTS
from nfct_spec.models.presets import RELIABLE, preset
from nfct_spec.models.registry import step_to_json, successors
from nfct_spec.models.state import initial_state
from nfct_spec.spec.catalogue import CATALOGUE
from nfct_spec.traces import encode_state

out = {}
for variant in ("2.6.30", "2.6.31", "6.x"):
    config = preset("ci", variant)
    state = initial_state(config)
    walk = []
    for i in range(6):
        options = list(successors(config, state))
        if not options:
            break
        walk.append([[step_to_json(s), encode_state(n, i, s)] for s, n in options])
        state = options[(7 * i + 3) % len(options)][1]
    out[f"successors {variant}"] = walk
small = Config(
    name="small", variant="2.6.31", nf_conntrack_max=1, flows=2, slots=2,
    listeners=(RELIABLE,), events_retry_timeout=2, ct_timeout=1,
)
level = OBLIGATIONS | RECEIPTS
props = [p for p in CATALOGUE if p.observes & ~level == 0]
exploration = explore(small, props, level=level)
stats = exploration.stats
out["explorer"] = [stats.states, stats.transitions, stats.depth]
out["findings"] = {
    prop_id: [finding_depth(exploration, prop_id), finding.target,
              None if finding.step is None else step_to_json(finding.step)]
    for prop_id, finding in sorted(exploration.findings.items())
}
print(json.dumps(out, sort_keys=True))
"""


def _probe(seed: str, pure: bool = False) -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed, "NFCT_SPEC_PURE": "1" if pure else "0"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=True,
    )
    return result.stdout


def test_successors_and_an_explorer_search_agree_across_hash_seeds() -> None:
    first, second = _probe("0"), _probe("2718281828")
    assert '"findings": {"' in first, "the search found nothing to compare"
    assert first == second


def test_the_compiled_model_and_its_sources_give_the_same_successors_and_search() -> None:
    """The installed model may be compiled (mypyc): the interpreted sources are the reference,
    and both must give the same successors, states and findings."""
    from nfct_spec.models import COMPILED

    assert COMPILED, "the test suite runs the compiled model (pip install compiles it)"
    assert _probe("0", pure=True) == _probe("0")
