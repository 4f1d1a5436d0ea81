"""Hypothesis strategies for the Z3 conformance tests: walk plans over the registry
(`nfct_spec.proofs.walks`, shared with the guard of the Z3 engine).

The strategy draws only the preset, the variant and the walk's choices (so a failing example
prints in one line); `visit` replays them into states with all their enabled steps.
"""

from __future__ import annotations

from hypothesis import strategies as st

from nfct_spec.proofs.walks import VARIANTS, WALK_PRESETS, WALK_PRESETS_6X, WalkPlan, visit

__all__ = ["VARIANTS", "WALK_PRESETS", "WALK_PRESETS_6X", "WalkPlan", "visit", "walks"]


def walks(
    length: int = 50,
    variants: tuple[str, ...] = VARIANTS,
    presets: tuple[str, ...] = WALK_PRESETS,
) -> st.SearchStrategy[WalkPlan]:
    """Random walk plans over `presets` and `variants` (by default the 2.6.x ones)."""
    return st.builds(
        WalkPlan,
        st.sampled_from(presets),
        st.sampled_from(variants),
        st.lists(st.integers(0, 10**6), min_size=length, max_size=length).map(tuple),
    )
