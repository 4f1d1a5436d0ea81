"""`scripts/bench_hot_path.py`: the states it times are the same for the same arguments, and
each part it reports is measured on them."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from bench_explorer import reference
from bench_hot_path import action_parts, held_entries, judge_parts, measure, walk_states

from nfct_spec.models.observers import OBLIGATIONS


def test_the_walks_are_seeded_and_keep_the_obligations_observers() -> None:
    config = reference(2, "2.6.31")
    first = walk_states(config, 200, seed=0)
    assert first == walk_states(config, 200, seed=0)
    assert first != walk_states(config, 200, seed=1)
    assert len(first) == 200 and len(set(first)) > 20
    assert {state.ghost.level for state in first} == {OBLIGATIONS}


def test_every_part_is_timed_and_the_fanout_counted() -> None:
    parts = measure(reference(2, "6.x"), 100, seed=0, repeat=1)
    assert set(parts) == {"successors_us", "canonical_us", "hash_us", "judges_us", "fanout"}
    assert parts["fanout"] > 1
    assert all(parts[name] > 0 for name in ("successors_us", "canonical_us", "hash_us"))
    assert parts["judges_us"] > 0


def test_the_judged_entries_are_those_a_search_judges_to_the_end() -> None:
    """Entries expected to hold, at the obligations level, with a check: `table-bound` holds
    on 6.x and is judged, on 2.6.31 it is violated (dropped at its finding) and is not."""
    on_6x = {p.id for p in held_entries(reference(2, "6.x"))}
    on_2631 = {p.id for p in held_entries(reference(2, "2.6.31"))}
    assert "table-bound" in on_6x and "table-bound" not in on_2631
    assert "count-exact" in on_6x and "count-exact" in on_2631
    assert "destroy-eventually" not in on_6x


def test_each_part_of_the_judges_is_timed_apart() -> None:
    """One part per judged entry, the auxiliary invariants as one batch; step entries say so."""
    config = reference(2, "2.6.31")
    parts = judge_parts(config, 50, seed=0, repeat=1)
    held = held_entries(config)
    assert "destroy-before-free (on steps)" in parts and "count-exact" in parts
    (batch,) = [name for name in parts if name.endswith("auxiliary invariants, one batch")]
    batched = int(batch.split()[1])
    assert batched > 0
    assert len(parts) == 1 + len(held) - batched
    assert all(us > 0 for us in parts.values())


def test_the_successors_are_split_by_action_with_the_bodies_first() -> None:
    config = reference(2, "2.6.31")
    rows = action_parts(config, 100, seed=0, repeat=1)
    bodies, *actions = rows
    assert bodies.name == "(the action functions alone)" and bodies.us > 0
    assert [row.us for row in actions] == sorted((row.us for row in actions), reverse=True)
    fanout = measure(config, 100, seed=0, repeat=1)["fanout"]
    assert abs(sum(row.steps for row in actions) - fanout) < 1e-9
    assert {row.name for row in actions if row.steps} >= {"nf_conntrack_in", "env_tick"}
