"""Where the states of the reference config come from: by how much forgetting one part of the
state would merge the exhausted two-slot reference search (obligations observers).

Each row forgets one part (sets it to a constant) in every reachable canonical state and counts
the distinct results; the factor is states / distinct. A factor near 1 means the part is
already determined by the rest; a large one says where an abstraction would pay. Forgetting is
not a reduction: each part here is read by the kernel's control flow, so merging by it needs a
soundness argument of its own.

With `--receipts`, the same for the receipts observers (all of them: every event bit and the
order of deaths too), on the `ci.expectations` member of the `ci` suite (exhausted with them in
seconds): each row forgets one part
of the receipts observers, and the forgotten states are put in canonical form again, so the last
row (every receipts observer forgotten) counts what the obligations alone would keep. These
parts are read by the properties, not by the kernel: a factor says how much an observer that
tracks less (for example the messages of one chosen conntrack instance instead of every
instance) could save.

Usage: python scripts/state_sources.py [--slots N] [--receipts]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from bench_explorer import reference

from nfct_spec.engines.explorer import explore
from nfct_spec.models.bits import IPCT_DESTROY, IPCT_NEW, IPCT_STATUS
from nfct_spec.models.canonical import Canonicaliser
from nfct_spec.models.config import Config
from nfct_spec.models.observers import BITS, OBLIGATIONS, ORDER, RECEIPTS, Record
from nfct_spec.models.presets import suite
from nfct_spec.models.state import Conntrack, Kernel, Message, State, evolve

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


def _anonymous_owner(m: Message) -> Message:
    return m if m.slot < 0 else evolve(m, slot=-1, flow=-1, uid=-1)


def _per_message(change: Callable[[Message], Message]) -> Part:
    def forget(state: State) -> object:
        kernel = state.kernel
        sockets = tuple(
            evolve(sock, queue=tuple(change(m) for m in sock.queue)) for sock in kernel.sockets
        )
        return State(evolve(kernel, sockets=sockets), state.ghost)

    return forget


def _per_record(change: Callable[[Record], Record | None]) -> Part:
    def forget(state: State) -> object:
        records = tuple(r for r in (change(r) for r in state.ghost.records) if r is not None)
        return State(state.kernel, evolve(state.ghost, records=records))

    return forget


def _seen(**fields: object) -> Callable[[Record], Record]:
    return lambda r: evolve(r, seen=tuple(evolve(s, **fields) for s in r.seen))


def _live_only(state: State) -> object:
    """The records of freed instances forgotten, and with them what names them."""
    live = {r.uid for r in state.ghost.records if r.live}
    ghost = evolve(
        state.ghost,
        records=tuple(r for r in state.ghost.records if r.live),
        deaths=tuple(u for u in state.ghost.deaths if u in live),
    )
    forget = _per_message(lambda m: m if m.uid in live else _anonymous_owner(m))
    return forget(State(state.kernel, ghost))


def receipt_parts(config: Config) -> dict[str, Part]:
    """The parts of the receipts observers, forgotten one by one (the last row: all of them,
    which is the obligations search's canonical form)."""
    return {
        "which instance each queued message names": _per_message(_anonymous_owner),
        "the bits each listener read (got)": _per_record(_seen(got=0)),
        "the bits each listener lost (dropped)": _per_record(_seen(dropped=0)),
        "the order of deaths and `later`": lambda s: _per_record(_seen(later=False))(
            State(s.kernel, evolve(s.ghost, deaths=()))
        ),
        "freed instances kept for their queued messages": _live_only,
        "every receipts observer (what obligations keep)": Canonicaliser(config, OBLIGATIONS),
    }


def _header() -> None:
    print("| variant | part forgotten | states | distinct | factor |")
    print("|---|---|---|---|---|")


def _row(variant: str, name: str, states: int, distinct: int) -> None:
    print(
        f"| {variant} | {name} | {states:,} | {distinct:,} | {states / distinct:.2f} |", flush=True
    )


def receipts() -> None:
    """The receipts table (`--receipts`)."""
    _header()
    for variant in ("2.6.31", "6.x"):
        (config,) = [c for c in suite("ci", variant) if c.name == "ci.expectations"]
        level = OBLIGATIONS | RECEIPTS | BITS | ORDER
        exploration = explore(config, [], level=level)
        if not exploration.stats.complete:
            raise SystemExit(f"{variant}: the search was not exhausted")
        canonical = Canonicaliser(config, level)
        states = exploration.states
        for name, forget in receipt_parts(config).items():
            _row(variant, name, len(states), len({_again(canonical, forget(s)) for s in states}))


def _again(canonical: Canonicaliser, forgotten: object) -> object:
    """A forgotten state in canonical form again (one already reduced is kept as it is)."""
    if not isinstance(forgotten, State) or forgotten.ghost.level == OBLIGATIONS:
        return forgotten
    return canonical(forgotten)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slots", type=int, default=2)
    parser.add_argument("--receipts", action="store_true", help="the receipts observers' parts")
    args = parser.parse_args()
    if args.receipts:
        receipts()
        return
    _header()
    for variant in ("2.6.31", "6.x"):
        config = reference(args.slots, variant)
        exploration = explore(config, [], level=OBLIGATIONS)
        if not exploration.stats.complete:
            raise SystemExit(f"{variant}: the search was not exhausted")
        states = exploration.states
        for name, forget in PARTS.items():
            _row(variant, name, len(states), len({forget(s) for s in states}))


if __name__ == "__main__":
    main()
