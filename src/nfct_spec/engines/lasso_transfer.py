"""Fair lassos of a config whose liveness graph does not fit in memory: lassos carried over
from a smaller config, and lassos that stutter, found by the safety search.

The lasso search (`nfct_spec.engines.lasso_sym`) needs the whole liveness graph of a config in
one process. On the four-slot 2.6.31 reference config that graph passes 30,000,000 states, so
the lassos of the weaker fairness sets (what each fairness record rules out) cannot be searched
there. Two things still show them, each on the config itself:

- **Carried over** (`embed`). A config with more memory slots can run whatever one with fewer
  runs, leaving its extra slots empty (a new conntrack may take any free slot), so a lasso of
  the smaller config is a candidate for the larger one.
- **Stuttering** (`stuck_lasso`). A behaviour may stay for ever in a state where a conntrack
  is held (dying, or allocated) and no fair step that changes the state is enabled: the lasso
  whose cycle is that one state. Finding such a state is reachability, which the breadth-first
  safety search decides with every reduction it has (symmetry, interned states) and far fewer
  bytes per state than the liveness graph; its path is BFS-shortest.

Neither rests on an argument about the model: every lasso returned here was replayed on the
config's own model from its initial state and judged by `nfct_spec.engines.lasso.check_lasso`
there (its fair instances, held conntracks and assumptions). What they cannot show is a config
without a lasso: a set with no carried-over lasso and no stuttering state may still have a
lasso whose cycle moves, which only the whole graph decides.

`nfct-spec explore --reduction untimed` uses both (`Elsewhere`) for the lassos of the weaker
fairness sets when every liveness entry was decided on the untimed graph and the config's own
graph was therefore not built.
"""

from __future__ import annotations

from collections.abc import Sequence

from nfct_spec.engines import lasso_sym
from nfct_spec.engines.explorer import explore, trace_of
from nfct_spec.engines.lasso import (
    LEVEL,
    PROPERTY,
    Lasso,
    assumed,
    check_lasso,
    fair_units,
)
from nfct_spec.models.config import Config
from nfct_spec.models.registry import Step, StepError, apply
from nfct_spec.models.state import State, initial_state
from nfct_spec.spec.fairness import HELD
from nfct_spec.spec.records import Property

STUCK = "stuck"
"""The id of the reachability property the stutter search looks for."""
SMALLER_GRAPH = 200_000
"""The most states the liveness graph of a config with fewer slots may have for `Elsewhere` to
search it (it stops at the first that does not fit)."""
STUCK_BUDGET = 200_000
"""The most states `Elsewhere` searches for a stuttering state."""


def replayed(
    config: Config,
    steps: Sequence[Step],
    loop: int,
    slot: int | None,
    fairness: Sequence[str],
    prop_id: str = PROPERTY,
) -> Lasso | str:
    """The lasso of `steps` whose cycle starts after `loop` of them, in `config`'s own
    states, if `config` runs the steps and `check_lasso` judges the cycle a fair
    counterexample of `prop_id` under `fairness`; otherwise why not. `slot` names the
    conntrack the lasso holds (None: the lowest one held at its end)."""
    state = start = initial_state(config, LEVEL)
    path: list[tuple[Step, State]] = []
    for number, step in enumerate(steps, 1):
        try:
            post = apply(config, state, step)
        except StepError as error:
            return f"step {number}, {step}, cannot be written here: {error}"
        if post is None:
            return f"step {number}, {step}, is not enabled here"
        path.append((step, post))
        state = post
    why = check_lasso(config, [start, *(s for _, s in path)], steps, loop, fairness, prop_id)
    if why is not None:
        return why
    held = min(HELD[prop_id](state)) if slot is None else slot
    return Lasso(held, path[:loop], path[loop:])


def embed(
    config: Config, found: Lasso, fairness: Sequence[str], prop_id: str = PROPERTY
) -> Lasso | str:
    """`found`, a lasso of another config (one with fewer memory slots), as a lasso of
    `config`, or why it is not one. Not necessarily `config`'s shortest lasso."""
    steps = [step for step, _ in found.prefix + found.cycle]
    return replayed(config, steps, len(found.prefix), found.slot, fairness, prop_id)


def stuck_property(config: Config, fairness: Sequence[str], prop_id: str = PROPERTY) -> Property:
    """The reachability property "a state that holds a conntrack `prop_id` follows, where the
    assumptions of `fairness` hold and no fair step that changes the state is enabled"."""
    held = HELD[prop_id]
    fair = tuple(fairness)

    def check(config: Config, state: State) -> bool:
        return (
            bool(held(state))
            and assumed(config, state, fair)
            and not fair_units(config, state, fair)
        )

    return Property(
        id=STUCK,
        kind="reachable",
        statement=f"a behaviour of {prop_id} may stutter for ever under {', '.join(fair)}",
        source="nfct_spec.engines.lasso_transfer",
        expected={config.variant: "witness"},
        reasons={config.variant: "searched for a lasso, not claimed"},
        check=check,
        observes=LEVEL,
    )


def stuck_lasso(
    config: Config,
    fairness: Sequence[str],
    prop_id: str = PROPERTY,
    max_states: int | None = None,
) -> tuple[Lasso | None, int, bool]:
    """The BFS-shortest lasso of `prop_id` under `fairness` that stutters in its last state,
    with the number of states searched and whether the search was exhausted (a None with an
    exhausted search: no such lasso; with a budget hit: not known)."""
    if config.granularity != "atomic":
        raise ValueError("the stutter search runs at granularity atomic")
    stuck = stuck_property(config, fairness, prop_id)
    found = explore(config, [stuck], max_states, level=LEVEL)
    stats = found.stats
    if STUCK not in found.findings:
        return None, stats.states, stats.complete
    steps = list(trace_of(found, stuck).steps)
    lasso = replayed(config, steps, len(steps), None, fairness, prop_id)
    if isinstance(lasso, str):
        raise AssertionError(f"the stuttering state is not a fair lasso: {lasso}")
    return lasso, stats.states, True


class Elsewhere:
    """The lassos of one config found without its own liveness graph, with the
    graphs of its fewer-slot versions built once for every fairness set."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._smaller: list[lasso_sym.Quotient] | None = None

    def smaller(self) -> list[lasso_sym.Quotient]:
        """The liveness graphs of the config with 1, 2, ... slots, as far as they fit in
        `SMALLER_GRAPH` states."""
        if self._smaller is None:
            self._smaller = []
            for slots in range(1, self.config.slots):
                graph = lasso_sym.build_quotient(self.config.with_(slots=slots), SMALLER_GRAPH)
                if not graph.complete:
                    break
                self._smaller.append(graph)
        return self._smaller

    def lasso(self, fairness: Sequence[str], prop_id: str = PROPERTY) -> tuple[Lasso | None, str]:
        """A fair lasso of the config under `fairness`, with how it was found; or None with
        what was searched. First a lasso of a version with fewer slots, carried over; then a
        state the config stutters in, within `STUCK_BUDGET` states."""
        for graph in self.smaller():
            found = lasso_sym.find_lasso(graph, fairness, prop_id)
            if found is not None:
                moved = embed(self.config, found, fairness, prop_id)
                if isinstance(moved, Lasso):
                    return moved, f"carried over from {_slots(graph.config.slots)}"
        stuck, states, exhausted = stuck_lasso(self.config, fairness, prop_id, STUCK_BUDGET)
        if stuck is not None:
            return stuck, f"stutters ({states:,} states searched)"
        fewer = len(self.smaller())
        tried = (
            f"none carried over from {_slots(fewer) if fewer == 1 else f'1 to {fewer} slots'}"
            if fewer
            else "no version with fewer slots fits"
        )
        if exhausted:
            return (
                None,
                f"{tried}, no stuttering state ({states:,} states); a moving cycle not searched",
            )
        return None, f"{tried}, no stuttering state within {states:,} states"


def _slots(count: int) -> str:
    return f"{count} slot" if count == 1 else f"{count} slots"
