"""Evaluating catalogue properties on states and steps, the same way for every engine.

A *finding* is what an engine looks for: a violation of an invariant or action property, or a
witness of a non-guarantee or reachability property. Liveness is evaluated by the bounded fair
drain of `nfct_spec.spec.fairness`.
"""

from __future__ import annotations

from collections.abc import Sequence

from nfct_spec.models.config import Config
from nfct_spec.models.registry import Step
from nfct_spec.models.state import State
from nfct_spec.spec.auxiliary import Batch, batchable
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


class StateJudge:
    """The state properties of one search, judged together on each state it stores.

    Each property is judged until its first finding, then dropped. The auxiliary invariants,
    most of a search's state checks, are judged as one `Batch` (one projection of the state,
    their own memos); every other property by its own check. `finding_in_state` gives the
    same answer for each.
    """

    def __init__(self, config: Config, props: Sequence[Property]) -> None:
        self.config = config
        self.pending = [p for p in props if p.check is not None and not p.on_transitions]
        self._arrange()

    def _arrange(self) -> None:
        by_inv: dict[str, Property] = {}
        self._rest: list[tuple[Property, bool]] = []
        for prop in self.pending:
            inv_id = batchable(prop.check)
            if inv_id is not None and prop.kind in SAFETY_KINDS:
                by_inv[inv_id] = prop
            else:
                self._rest.append((prop, prop.kind in SAFETY_KINDS))
        self._by_inv = by_inv
        self._batch = Batch(list(by_inv)) if by_inv else None

    def __call__(self, state: State) -> list[Property]:
        """The properties not found yet that `state` is a finding of (then dropped)."""
        config = self.config
        found = []
        if self._batch is not None:
            found = [self._by_inv[i] for i in self._batch.failing(config, state)]
        for prop, safety in self._rest:
            check = prop.check
            assert check is not None
            if bool(check(config, state)) is not safety:
                found.append(prop)
        if found:
            self.pending = [p for p in self.pending if p not in found]
            self._arrange()
        return found
