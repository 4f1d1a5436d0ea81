"""The Hypothesis engine watches its runs for the premises of the entries it samples: a
`sampled` verdict says how many runs reached its premise, one whose premise no run reached is
`unknown`, and watching changes none of the runs."""

from __future__ import annotations

from helpers import suite_member
from nfct_spec.engines.hypothesis_engine import Profile, search
from nfct_spec.engines.sampling import check_sampling
from nfct_spec.spec.catalogue import BY_ID
from nfct_spec.spec.premises import premise_entry

PROFILE = Profile("watched", 60, 20, True)
"""Small and derandomized: the same runs every time."""
ENTRIES = ("early-drop-spares-assured", "table-bound", "one-place")


def test_a_premise_no_run_reaches_makes_the_sampled_verdict_unknown() -> None:
    """Without the STATUS event no packet sets IPS_ASSURED_BIT: no run meets an ASSURED
    conntrack at an early drop, so `early-drop-spares-assured` is `unknown`, not `sampled`;
    the entries whose premise the runs reach are `sampled` and say in how many runs."""
    config = suite_member("6.x", "ci.allocations").with_(event_bits=("NEW", "DESTROY"))
    checked = check_sampling(config, [BY_ID[p] for p in ENTRIES], PROFILE, 0)
    results = {c.result.property_id: c.result for c in checked}
    vacuous = results["early-drop-spares-assured"]
    assert (vacuous.verdict, vacuous.expected) == ("unknown", "holds")
    assert "; vacuous: no run reached the premise (early_drop() runs while" in vacuous.scope
    for prop_id in ("table-bound", "one-place"):
        assert results[prop_id].verdict == "sampled"
        assert "; premise reached in " in results[prop_id].scope
        runs = int(results[prop_id].scope.split("; premise reached in ")[1].split(" of ")[0])
        assert runs > 0


def test_watching_the_premises_changes_no_run() -> None:
    config = suite_member("6.x", "ci.allocations")
    props = [BY_ID[p] for p in ENTRIES]
    plain = search(config, props, PROFILE, 0)
    watched = search(config, props, PROFILE, 0, watched=[premise_entry(p) for p in ENTRIES])
    assert (plain.examples, plain.steps, plain.found) == (
        watched.examples,
        watched.steps,
        watched.found,
    )
    assert not plain.reached
    assert {"premise:table-bound", "premise:one-place"} <= set(watched.reached)
    assert all(0 < runs <= watched.examples for runs in watched.reached.values())
