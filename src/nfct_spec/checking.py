"""Evaluating catalogue properties on states and steps, the same way for every engine.

A *finding* is what an engine looks for: a violation of an invariant or action property, or a
witness of a non-guarantee or reachability property. Liveness is evaluated by the bounded fair
drain of `nfct_spec.spec.fairness`.
"""

from __future__ import annotations

from nfct_spec.models.config import Config
from nfct_spec.models.registry import Step
from nfct_spec.models.state import State
from nfct_spec.spec.catalogue import Property

SAFETY_KINDS = ("invariant", "action")
WITNESS_KINDS = ("non-guarantee", "reachable")


def finding_in_state(prop: Property, config: Config, state: State) -> bool:
    """True if `state` alone is a finding (invariant broken, or a state witness)."""
    if prop.check is None or prop.on_transitions:
        return False
    result = prop.check(config, state)
    return not result if prop.kind in SAFETY_KINDS else bool(result)


def finding_on_step(prop: Property, config: Config, pre: State, step: Step, post: State) -> bool:
    """True if the step `pre -> post` is a finding for `prop`."""
    if prop.check is None:
        return False
    if not prop.on_transitions:
        return finding_in_state(prop, config, post)
    result = prop.check(config, pre, step, post)
    return not result if prop.kind in SAFETY_KINDS else bool(result)


def finding_verdict(prop: Property) -> str:
    """What a finding means for this property: `violated` or `witness`."""
    return "witness" if prop.kind in WITNESS_KINDS else "violated"


def searched(prop: Property, config: Config) -> bool:
    """Whether engines check `prop` for this config at all (not for `n/a`)."""
    return prop.expected_for(config) != "n/a"
