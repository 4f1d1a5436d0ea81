"""Reading a model step as arguments of the Z3 builders, and checking it against them.

`concrete_args` turns a registry `Step` into the builder's arguments (listener names become
slots, requesters become netlink port ids, a flow's hashed conntrack becomes the `hashed`
pick).
`step_agrees` evaluates the transition relation on the projected pre- and post-states; the
agreement tests use it on generated steps, and on perturbed successors that must be rejected.
"""

from __future__ import annotations

from typing import Any

from nfct_spec.models.config import Config
from nfct_spec.models.registry import Step
from nfct_spec.models.state import State
from nfct_spec.proofs.actions import BUILDERS, relation
from nfct_spec.proofs.params import Flags, Params, concrete_params, flags_for
from nfct_spec.proofs.vocab import AState, Shape, project, shape_for
from nfct_spec.spec.terms import truth


def concrete_args(config: Config, state: State, step: Step) -> dict[str, Any]:
    """The builder arguments of a model step in `state`."""
    out: dict[str, Any] = {}
    for name, value in step.args:
        if name == "listener":
            out[name] = config.listener_index(str(value))
        elif name == "requester":
            out[name] = config.portid(str(value))
        else:
            out[name] = value
    for pick in BUILDERS[step.action].picks:
        assert pick == "hashed", pick
        out[pick] = state.hashed_slot_of_flow(int(out["flow"]))
    return out


class Checker:
    """Evaluates the relation of one config's steps (concrete parameters, fixed shape)."""

    def __init__(self, config: Config, shape: Shape | None = None) -> None:
        self.config = config
        self.shape = shape or shape_for(config)
        self.flags: Flags = flags_for(config.variant)
        self.params: Params = concrete_params(config, self.shape)

    def project(self, state: State) -> AState:
        """The abstract state of a model state."""
        return project(self.config, state, self.shape)

    def holds(self, pre: AState, step: Step, post: AState, args: dict[str, Any]) -> bool:
        """T_step(pre, args, post), evaluated."""
        return truth(relation(step.action, self.flags, self.params, pre, post, args))

    def step_agrees(self, pre: State, step: Step, post: State) -> bool:
        """The model's successor satisfies the Z3 relation of the step."""
        args = concrete_args(self.config, pre, step)
        return self.holds(self.project(pre), step, self.project(post), args)
