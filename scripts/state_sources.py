"""Where the states of the reference config come from: by how much forgetting one part of the
state would merge the exhausted two-slot reference search (obligations observers).

Each row forgets one part (sets it to a constant) in every reachable canonical state and counts
the distinct results; the factor is states / distinct. A factor near 1 means the part is
already determined by the rest; a large one says where an abstraction would pay. Forgetting is
not a reduction: each part here is read by the kernel's control flow, so merging by it needs a
soundness argument of its own.

Usage: python scripts/state_sources.py [--slots N]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from bench_explorer import reference

from nfct_spec.engines.explorer import explore
from nfct_spec.models.bits import IPCT_DESTROY, IPCT_NEW, IPCT_STATUS
from nfct_spec.models.observers import OBLIGATIONS
from nfct_spec.models.state import Conntrack, Kernel, State, evolve

Part = Callable[[State], object]


def _per_ct(change: Callable[[Kernel, int, Conntrack], Conntrack]) -> Part:
    def forget(state: State) -> object:
        kernel = state.kernel
        cts = tuple(None if c is None else change(kernel, i, c) for i, c in enumerate(kernel.cts))
        return (evolve(kernel, cts=cts), state.ghost)

    return forget


def _merge_updates(bits: int) -> int:
    """NEW and STATUS as one bit (DESTROY kept)."""
    return (bits & IPCT_DESTROY) | (IPCT_NEW if bits & (IPCT_NEW | IPCT_STATUS) else 0)


PARTS: dict[str, Part] = {
    "the conntrack timeout's value (hashed)": _per_ct(
        lambda k, i, c: evolve(c, timer=0) if i in k.hash else c
    ),
    "the retry timer's value (dying list)": _per_ct(
        lambda k, i, c: evolve(c, timer=0 if c.timer >= 0 else -1) if i in k.dying else c
    ),
    "the redelivery worker's countdown (6.x)": lambda s: (
        evolve(s.kernel, worker=0, dwork_pending=False),
        s.ghost,
    ),
    "the port id a conntrack remembers": _per_ct(lambda k, i, c: evolve(c, pid=0)),
    "the missed bits": _per_ct(lambda k, i, c: evolve(c, missed=0)),
    "the assured bit": _per_ct(lambda k, i, c: evolve(c, assured=False)),
    "NEW and STATUS told apart (cache and missed)": _per_ct(
        lambda k, i, c: evolve(c, cache=_merge_updates(c.cache), missed=_merge_updates(c.missed))
    ),
    "the sockets": lambda s: (evolve(s.kernel, sockets=()), s.ghost),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slots", type=int, default=2)
    args = parser.parse_args()
    print("| variant | part forgotten | states | distinct | factor |")
    print("|---|---|---|---|---|")
    for variant in ("2.6.31", "6.x"):
        config = reference(args.slots, variant)
        exploration = explore(config, [], level=OBLIGATIONS)
        if not exploration.stats.complete:
            raise SystemExit(f"{variant}: the search was not exhausted")
        states = exploration.states
        for name, forget in PARTS.items():
            distinct = len({forget(s) for s in states})
            print(
                f"| {variant} | {name} | {len(states):,} | {distinct:,} "
                f"| {len(states) / distinct:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
