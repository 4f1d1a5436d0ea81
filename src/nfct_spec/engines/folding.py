"""Folded searches: a coarser group of entries judged on a finer search that exhausts.

`search_groups` gives each group of entries the smallest search that keeps what its entries
read, so that each can be exhausted on its own. On a config where a finer search has to be
exhausted anyway (an entry of its group holds, or its witness is not there to be found), the
coarser searches repeat a projection of it: every state they reach is the projection of a
state the finer one reaches at the same breadth-first depth, because observers only watch
(no step's enabling or kernel effect reads them) and the coarser observers are a part of the
finer ones, updated the same way. So an entry of a coarser group has on the finer search the
same verdict and its finding the same BFS-shortest depth, and the coarser search can be left
out.

`folded_searches` runs the finest groups first, each with the entries of every coarser group
not yet decided as riders (`explore`'s `riders`: judged on every state and step, never keeping
the search going). A rider is decided there when the search shows its finding (BFS-shortest
wherever the search stopped: breadth-first order judges every shallower state first) or
exhausts its scope; otherwise it leaves that search and is searched in its own group, as
without folding. The cost is the riders' judging on the finer search, paid whether or not
that search ends up exhausted; the saving is every coarser search whose entries were all
decided. Explorations that decided entries before (`done`: the obligations entries judged on
the liveness graph, `nfct_spec.engines.quotient_safety`) take those entries off the riders.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from nfct_spec.engines.explorer import Exploration
from nfct_spec.spec.catalogue import Property

GroupSearch = Callable[[int, list[Property], list[Property]], Exploration]
"""One search of a group: (observer level, its entries, riders) -> exploration."""


def fold_order(groups: Sequence[tuple[int, list[Property]]]) -> list[tuple[int, list[Property]]]:
    """The groups finest first: more observers before fewer (the observer levels of
    `search_groups` form a ladder whose top rungs are siblings), then in `search_groups`'
    order."""
    return sorted(groups, key=lambda group: -group[0].bit_count())


def riders_for(
    level: int, groups: Sequence[tuple[int, list[Property]]], decided: set[str]
) -> list[Property]:
    """The undecided entries of every group strictly coarser than `level` (whose observers
    are a part of it)."""
    return [
        prop
        for other, group in groups
        if other != level and other & ~level == 0
        for prop in group
        if prop.id not in decided
    ]


def rider_decided(exploration: Exploration, prop_id: str) -> bool:
    """Whether a search's verdict on a rider is final: its finding is shown, or the scope
    that judged it was exhausted (see `explorer.verdict`, whose reading this mirrors)."""
    if prop_id in exploration.findings:
        return True
    if prop_id in exploration.unshown:
        return False
    stats = exploration.stats
    if prop_id in exploration.spurious and stats.shown is not None:
        stats = stats.shown
    return stats.complete


def settle(exploration: Exploration, riders: Sequence[Property]) -> None:
    """Leave in `exploration` only the riders it decided (`rider_decided`), noted as folded:
    an undecided one is searched elsewhere, as if this search had never judged it."""
    dropped = {p.id for p in riders if not rider_decided(exploration, p.id)}
    if dropped:
        exploration.findings = {k: v for k, v in exploration.findings.items() if k not in dropped}
        exploration.checked = exploration.checked - dropped
        exploration.unshown -= dropped
        exploration.spurious -= dropped
    exploration.folded = frozenset(p.id for p in riders) - dropped


def folded_searches(
    groups: Sequence[tuple[int, list[Property]]],
    search: GroupSearch,
    done: Sequence[Exploration] = (),
) -> list[Exploration]:
    """Every group searched, the coarser ones folded into finer searches where those decide
    them (see the module docstring); the entries checked by the explorations `done` already
    (settled) are decided and not searched again. Each entry ends up in the `checked` set of
    exactly one exploration, the one whose verdict stands; the explorations are `done`, then
    the searches in the order they ran."""
    runs = list(done)
    decided: set[str] = set().union(*(e.checked for e in runs))
    for level, group in fold_order(groups):
        own = [p for p in group if p.id not in decided]
        if not own:
            continue
        riders = riders_for(level, groups, decided)
        exploration = search(level, own, riders)
        settle(exploration, riders)
        decided |= exploration.checked
        runs.append(exploration)
    return runs


def separate_searches(
    groups: Sequence[tuple[int, list[Property]]], search: GroupSearch
) -> list[Exploration]:
    """Every group searched on its own, coarsest first (`search_groups`' order)."""
    return [search(level, list(group), []) for level, group in groups]
