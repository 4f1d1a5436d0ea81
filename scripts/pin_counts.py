"""Re-pin the state counts of the small test configs: explore each (reduced, then without
reductions, and its unreduced graph, keeping the obligations; then reduced, keeping the
receipts too; then the symmetry-reduced liveness graph with its renamings), and write block
`pinned-counts` of the figures record (docs/figures.json), which
tests/explorer/test_pinned_counts.py reads and the README renders.
Then the same for every config of `configs/` (the era configs of the smp granularity and of
the 6.x worker, and the namespace-exit configs: reduced and unreduced, obligations kept), as
block `pinned-eras`. Run it after a change of the model that changes the counts, then
`nfct-spec doc --update-readme README.md`. Takes a few seconds.

The config: one reliable listener (BE and NO_ENOBUFS, a one-message queue), limit 1, two memory
slots, retry timeout 2, conntrack timeout 1, on every variant, with symmetric flows
and with the retry timeout written as 0.

Usage: python scripts/pin_counts.py [--record docs/figures.json]
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from nfct_spec.docs.figures import RECORD, record_argument, record_block
from nfct_spec.engines.explorer import explore
from nfct_spec.engines.lasso import build_graph
from nfct_spec.engines.lasso_sym import build_quotient
from nfct_spec.models.config import Config, config_from_json
from nfct_spec.models.observers import OBLIGATIONS, RECEIPTS
from nfct_spec.models.presets import RELIABLE

ROOT = Path(__file__).resolve().parents[1]
PINNED: list[tuple[str, str, int, dict[str, object]]] = [
    ("2.6.31, 1 flow", "2.6.31", 1, {}),
    ("2.6.31, 2 flows", "2.6.31", 2, {}),
    ("2.6.30, 2 flows", "2.6.30", 2, {}),
    ("6.x, 2 flows", "6.x", 2, {}),
    (
        "2.6.31, 1 flow, the retry timeout can be written as 0",
        "2.6.31",
        1,
        {"sysctl_writes": (("events_retry_timeout", 0),)},
    ),
]


def small(variant: str, flows: int, **changes: object) -> Config:
    """The pinned test config (the same as tests/explorer/explorer_configs.small)."""
    config = Config(
        name="small",
        variant=variant,
        nf_conntrack_max=1,
        flows=flows,
        slots=2,
        listeners=(RELIABLE,),
        events_retry_timeout=2,
        ct_timeout=1,
    )
    return config.with_(**changes)


def row(label: str, config: Config) -> dict[str, object]:
    """The pinned figures of one config (with the config itself, for the test to rebuild)."""
    reduced = explore(config, [], level=OBLIGATIONS)
    unreduced = explore(config, [], level=OBLIGATIONS, symmetry=False)
    receipts = explore(config, [], level=OBLIGATIONS | RECEIPTS)
    graph = build_graph(config)
    quotient = build_quotient(config)
    if not (reduced.stats.complete and unreduced.stats.complete and receipts.stats.complete):
        raise SystemExit(f"{label}: not exhausted; a pinned config must be small")
    if len(graph.states) != unreduced.stats.states:
        raise SystemExit(f"{label}: the unreduced graph and search disagree")
    return {
        "label": label,
        "states": reduced.stats.states,
        "transitions": reduced.stats.transitions,
        "depth": reduced.stats.depth,
        "unreduced_states": unreduced.stats.states,
        "receipts_states": receipts.stats.states,
        "liveness_states": len(quotient.states),
        "liveness_transitions": quotient.transitions,
        "config": config.to_json(),
    }


def main() -> int:
    """Explore every pinned config and write the block."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", type=record_argument, default=ROOT / RECORD)
    args = parser.parse_args()
    rows = []
    for label, variant, flows, extra in PINNED:
        rows.append(row(label, small(variant, flows, **extra)))
        print(f"{label}: {rows[-1]['states']} states", flush=True)
    record_block(
        args.record,
        "pinned-counts",
        {
            "about": "Small configs exhausted in seconds (obligations kept; the receipts column "
            "keeps receipts too; the last two are the liveness graph's), pinned by "
            "tests/explorer/test_pinned_counts.py (a regression test of the model and of the "
            "reductions).",
            "command": shlex.join(["python", "scripts/pin_counts.py", *sys.argv[1:]]),
            "columns": [
                ["label", "config"],
                ["states", "states (reduced)"],
                ["transitions", "transitions"],
                ["depth", "depth"],
                ["unreduced_states", "states without reductions"],
                ["receipts_states", "states with receipts (reduced)"],
                ["liveness_states", "liveness graph (renamings kept)"],
                ["liveness_transitions", "its transitions"],
            ],
            "rows": rows,
        },
    )
    print(f"wrote block pinned-counts of {args.record}")
    eras = [era_row(path) for path in sorted((ROOT / "configs").glob("*.json"))]
    record_block(
        args.record,
        "pinned-eras",
        {
            "about": "The configs of configs/ exhausted (obligations kept), pinned by "
            "tests/explorer/test_pinned_eras.py; a crashed or deadlocked state is terminal.",
            "command": shlex.join(["python", "scripts/pin_counts.py", *sys.argv[1:]]),
            "columns": [
                ["file", "config", "code"],
                ["states", "states (reduced)"],
                ["transitions", "transitions"],
                ["depth", "depth"],
                ["unreduced_states", "states without reductions"],
            ],
            "rows": eras,
        },
    )
    print(f"wrote block pinned-eras of {args.record}")
    return 0


def era_row(path: Path) -> dict[str, object]:
    """The pinned figures of one config file of `configs/`."""
    config = config_from_json(json.loads(path.read_text(encoding="utf-8")))
    reduced = explore(config, [], level=OBLIGATIONS)
    unreduced = explore(config, [], level=OBLIGATIONS, symmetry=False)
    if not (reduced.stats.complete and unreduced.stats.complete):
        raise SystemExit(f"{path.name}: not exhausted; a pinned config must be small")
    print(f"{path.name}: {reduced.stats.states} states", flush=True)
    return {
        "file": f"configs/{path.name}",
        "states": reduced.stats.states,
        "transitions": reduced.stats.transitions,
        "depth": reduced.stats.depth,
        "unreduced_states": unreduced.stats.states,
    }


if __name__ == "__main__":
    raise SystemExit(main())
