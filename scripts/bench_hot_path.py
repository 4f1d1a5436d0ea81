"""What one state costs the explorer: its successors, their canonical forms, a hash, the judges.

The explorer expands each stored state once: it asks the model for every enabled step with its
successor, judges the entries it checks on the state and on each step, puts each successor it
has not met lately in canonical form, and looks it up by hash. This script times those parts
on states of the reference config reached by seeded random walks (the same states for the same
arguments), each part over all the states at once, the best of `--repeat` rounds, and prints
the microseconds per state of each, the successors per state and the ceilings they put on the
search's speed: the states per second of a search that did nothing but expand each state and
put one successor in canonical form (a search puts each new state in canonical form once; most
successors it meets again skip it), and of one that also judged every entry expected to hold
at the obligations level (those a search judges to the end). A search at 50,000 states per
second has 20 microseconds per state for everything.

With `--judges` each part of the judges is timed apart, and with `--actions` the successors
per action (through the registry, with the steps per state each gives) and the action
functions alone, called with every argument their domains give: what the registry adds is
the difference.

Usage: python scripts/bench_hot_path.py [--variants 2.6.31,6.x] [--slots 4] [--states 3000]
       [--seed 0] [--repeat 3] [--judges] [--actions] [--record docs/figures.json]
"""

from __future__ import annotations

import argparse
import random
import timeit
from collections.abc import Callable
from typing import NamedTuple

from bench_explorer import reference

from nfct_spec.checking import StateJudge, finding_in_state, finding_on_step
from nfct_spec.docs.figures import record_argument, record_block, record_row
from nfct_spec.models.canonical import Canonicaliser
from nfct_spec.models.config import Config
from nfct_spec.models.observers import OBLIGATIONS
from nfct_spec.models.registry import Action, Step, actions_of, enabled_steps, settled, successors
from nfct_spec.models.state import State, initial_state
from nfct_spec.spec.auxiliary import Batch, batchable
from nfct_spec.spec.catalogue import CATALOGUE, Property

WALK = 40
"""Steps per random walk before it starts again from the initial state."""
Transition = tuple[State, Step, State]
TARGET_US = 1e6 / 50_000
"""Microseconds per state at the explorer's target speed."""
ACTION_ROWS = 6
"""The most costly actions of each variant the record keeps (after the row of the bodies)."""


def walk_states(config: Config, count: int, seed: int) -> list[State]:
    """`count` states met by seeded random walks from the initial state (obligations kept)."""
    rnd = random.Random(f"hot-path/{config.variant}/{config.slots}/{seed}")
    start = initial_state(config, OBLIGATIONS)
    states: list[State] = []
    state, steps = start, 0
    while len(states) < count:
        enabled = list(successors(config, state))
        if not enabled or steps == WALK:
            state, steps = start, 0
            continue
        state = rnd.choice(enabled)[1]
        steps += 1
        states.append(state)
    return states


def best_of(repeat: int, work: Callable[[], object]) -> float:
    """The shortest of `repeat` runs of `work`, in seconds."""
    return min(timeit.repeat(work, number=1, repeat=repeat))


def transitions(config: Config, states: list[State]) -> list[Transition]:
    """Every step of every state, with its successor (what the judges of steps read)."""
    return [(state, step, post) for state in states for step, post in successors(config, state)]


def held_entries(config: Config) -> list[Property]:
    """The safety entries a search of the config at the obligations level judges on every
    state and step, and judges to the end: those expected to hold (an entry with a finding is
    dropped once it is found)."""
    return [
        p
        for p in CATALOGUE
        if p.kind != "liveness"
        and p.check is not None
        and p.expected_for(config) == "holds"
        and (p.observes or 0) <= OBLIGATIONS
    ]


def measure(config: Config, count: int, seed: int, repeat: int) -> dict[str, float]:
    """Microseconds per state of the successors, of judging every held entry on the state and
    on each of its steps (as the explorer does), and of the hash; per successor of the
    canonical form; and successors per state."""
    states = walk_states(config, count, seed)
    steps = transitions(config, states)
    posts = [post for _, _, post in steps]
    canonical = Canonicaliser(config, OBLIGATIONS)
    held = held_entries(config)
    on_steps = [p for p in held if p.on_transitions]

    def judge() -> None:
        judge_state = StateJudge(config, held)
        for state in states:
            if judge_state(state):
                raise AssertionError(f"an entry expected to hold fails on {state}")
        for pre, step, post in steps:
            for prop in on_steps:
                finding_on_step(prop, config, pre, step, post)

    def expand() -> None:
        for state in states:
            for _ in successors(config, state):
                pass

    def canonicalise() -> None:
        for post in posts:
            canonical(post)

    def hash_all() -> None:
        for state in states:
            hash(state)

    per_state = 1e6 / len(states)
    return {
        "successors_us": best_of(repeat, expand) * per_state,
        "canonical_us": best_of(repeat, canonicalise) * 1e6 / max(len(posts), 1),
        "judges_us": best_of(repeat, judge) * per_state,
        "hash_us": best_of(repeat, hash_all) * per_state,
        "fanout": len(posts) / len(states),
    }


def _on_states(config: Config, prop: Property, states: list[State]) -> Callable[[], object]:
    """Judge one state entry on every state."""
    return lambda: [finding_in_state(prop, config, state) for state in states]


def _on_steps(config: Config, prop: Property, steps: list[Transition]) -> Callable[[], object]:
    """Judge one step entry on every step."""
    return lambda: [finding_on_step(prop, config, *step) for step in steps]


def judge_parts(config: Config, count: int, seed: int, repeat: int) -> dict[str, float]:
    """Microseconds per state of each part of the judges `measure` times together: the
    auxiliary invariants as the one batch a search judges them in, every other state entry
    alone, and each step entry on the state's steps."""
    states = walk_states(config, count, seed)
    steps = transitions(config, states)
    held = held_entries(config)
    batched = [str(batchable(p.check)) for p in held if batchable(p.check) is not None]
    parts: dict[str, Callable[[], object]] = {}
    if batched:
        batch = Batch(batched)
        parts[f"the {len(batched)} auxiliary invariants, one batch"] = lambda: [
            batch.failing(config, state) for state in states
        ]
    for prop in held:
        if prop.on_transitions:
            parts[f"{prop.id} (on steps)"] = _on_steps(config, prop, steps)
        elif batchable(prop.check) is None:
            parts[prop.id] = _on_states(config, prop, states)
    per_state = 1e6 / len(states)
    return {name: best_of(repeat, work) * per_state for name, work in parts.items()}


def action_parts(config: Config, count: int, seed: int, repeat: int) -> list[ActionCost]:
    """Where the successors' time goes: per action of the config, the microseconds per state
    its steps take through the registry and the steps per state it gives (most costly
    first); and, as the first row, the bodies of the actions alone (each action function
    called with every argument its domain gives, in the settled state), so that what the
    registry adds (domains, steps, the enabledness rules) is the difference."""
    states = walk_states(config, count, seed)
    actions = actions_of(config)
    calls = []
    for state in states:
        ready = settled(state)
        for action in actions:
            calls += [(action.fn, ready, kwargs) for kwargs in action.domain(config, ready)]
    per_state = 1e6 / len(states)

    def bodies() -> None:
        for fn, state, kwargs in calls:
            fn(config, state, **kwargs)

    rows = [ActionCost("(the action functions alone)", best_of(repeat, bodies) * per_state, 0.0)]
    for action in actions:
        steps = sum(1 for state in states for _ in enabled_steps(config, state, action))

        def expand(action: Action = action) -> None:
            for state in states:
                for _ in enabled_steps(config, state, action):
                    pass

        rows.append(ActionCost(action.name, best_of(repeat, expand) * per_state, steps / count))
    return [rows[0], *sorted(rows[1:], key=lambda row: -row.us)]


class ActionCost(NamedTuple):
    """One row of `action_parts`."""

    name: str
    us: float
    """Microseconds per state."""
    steps: float
    """Enabled steps per state."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="2.6.31,6.x")
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--states", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--record", type=record_argument, help="write a row of `measured` to this file"
    )
    parser.add_argument(
        "--judges", action="store_true", help="also time each part of the judges apart"
    )
    parser.add_argument(
        "--actions",
        action="store_true",
        help="also time the successors per action, and the action functions alone",
    )
    args = parser.parse_args()
    if args.states < 1 or args.repeat < 1 or args.slots < 1:
        parser.error("--states, --repeat and --slots must be positive")
    parts = []
    action_rows: list[dict[str, object]] = []
    print(
        "variant  slots  successors/state  successors us  canonical form us  hash us  "
        "ceiling/s  judges us  ceiling judged/s"
    )
    for variant in args.variants.split(","):
        config = reference(args.slots, variant)
        m = measure(config, args.states, args.seed, args.repeat)
        total = m["successors_us"] + m["canonical_us"] + m["hash_us"]
        ceiling, judged = 1e6 / total, 1e6 / (total + m["judges_us"])
        print(
            f"{variant:8} {args.slots:5}  {m['fanout']:16.1f}  {m['successors_us']:13.1f}  "
            f"{m['canonical_us']:17.1f}  {m['hash_us']:7.1f}  {ceiling:9,.0f}  "
            f"{m['judges_us']:9.1f}  {judged:16,.0f}"
        )
        parts.append(
            f"{variant}: {m['successors_us']:.0f} us for the successors of a state "
            f"({m['fanout']:.1f} of them), {m['canonical_us']:.0f} us for the canonical form "
            f"of one, {m['hash_us']:.1f} us for a hash; at most {ceiling:,.0f} states/s; "
            f"{m['judges_us']:.0f} us to judge the {len(held_entries(config))} entries "
            f"expected to hold on the state and its steps, at most {judged:,.0f} states/s "
            "with them"
        )
        if args.judges:
            for name, us in judge_parts(config, args.states, args.seed, args.repeat).items():
                print(f"  {variant} judge {name}: {us:.1f} us per state")
        if args.actions:
            costs = action_parts(config, args.states, args.seed, args.repeat)
            for row in costs:
                per_step = f", {row.us / row.steps:.1f} us per step" if row.steps else ""
                steps = f" ({row.steps:.3f} steps per state{per_step})" if row.steps else ""
                print(f"  {variant} successors {row.name}: {row.us:.1f} us per state{steps}")
            action_rows += [
                {
                    "variant": variant,
                    "action": row.name,
                    "us": round(row.us, 1),
                    "steps": round(row.steps, 2) if row.steps else None,
                    "per_step": round(row.us / row.steps, 1) if row.steps else None,
                }
                for row in costs[: ACTION_ROWS + 1]
            ]
    print(f"(the target, 50,000 states/s, leaves {TARGET_US:.0f} us per state for everything)")
    if args.record is not None:
        command = "python scripts/bench_hot_path.py"
        if args.slots != 4:
            command += f" --slots {args.slots}"
        figure = (
            "; ".join(parts)
            + f" (reference config, {args.slots} slots, obligations, {args.states:,} states of "
            f"seeded walks; the target leaves {TARGET_US:.0f} us per state for everything)"
        )
        row = {"what": "what one state costs the explorer", "command": command, "figure": figure}
        record_row(args.record, "measured", "what", row)
        print(f"wrote a row of measured to {args.record}")
    if args.record is not None and action_rows:
        record_block(
            args.record,
            "hot-path-actions",
            {
                "about": "Where the successors' time goes, per action, on the same states.",
                "command": "python scripts/bench_hot_path.py --actions",
                "columns": [
                    ["variant", "variant"],
                    ["action", "action"],
                    ["us", "µs per state"],
                    ["steps", "steps per state"],
                    ["per_step", "µs per step"],
                ],
                "rows": action_rows,
            },
        )
        print(f"wrote block hot-path-actions to {args.record}")


if __name__ == "__main__":
    main()
