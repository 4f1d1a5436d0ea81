"""The Z3 builders are the registry's actions, one to one, and respect its frames."""

from __future__ import annotations

import pytest

from nfct_spec.models.registry import ACTIONS, BY_NAME, actions_for
from nfct_spec.models.variants import MODELLED
from nfct_spec.proofs import actions as z3_actions
from nfct_spec.proofs import kernel_z3
from nfct_spec.proofs.actions import (
    BUILDERS,
    ENCODED_VARIANTS,
    FrameError,
    builders_for,
    owned_fields,
    relation,
)
from nfct_spec.proofs.params import Era, flags_for, symbolic_params
from nfct_spec.proofs.vocab import BY_FIELD, FIELDS, TRANSIENT_FIELDS, Shape, fresh_state


def test_every_action_of_the_encoded_variants_has_exactly_one_builder() -> None:
    smp = Era(smp=True, cpus=2)
    encoded = {a.name for v in ENCODED_VARIANTS for a in actions_for(v)}
    encoded |= set(builders_for("2.6.31", smp))
    assert sorted(BUILDERS) == sorted(encoded)


def test_every_registry_action_has_a_builder_and_every_modelled_variant_is_encoded() -> None:
    """The CPU-level steps of granularity smp included (`nfct_spec.proofs.smp_z3`)."""
    assert sorted(BUILDERS) == sorted(a.name for a in ACTIONS)
    smp_only = {a.name for a in ACTIONS if "atomic" not in a.granularities}
    assert smp_only <= set(builders_for("2.6.31", Era(smp=True, cpus=2)))
    assert not smp_only & set(builders_for("2.6.31"))
    assert set(ENCODED_VARIANTS) == set(MODELLED)


@pytest.mark.parametrize("variant", ENCODED_VARIANTS)
def test_each_variant_gets_the_builders_of_its_own_actions_in_registry_order(
    variant: str,
) -> None:
    assert list(builders_for(variant)) == [a.name for a in actions_for(variant)]


def test_every_abstract_field_is_owned_by_model_fields_some_action_modifies() -> None:
    declared = set().union(*(a.modifies for a in ACTIONS))
    for field in FIELDS:
        assert field.transient or field.owners & declared, field.name


def test_the_transient_fields_are_those_of_the_steps_freed_records() -> None:
    """The registry settles a state before each step (the previous step's freed records go),
    so no action declares `ghost.freed` and every step sets the transient fields."""
    assert {"freed", "freed_rep", "freed_hasD"} == TRANSIENT_FIELDS
    declared = set().union(*(a.modifies for a in ACTIONS))
    assert "ghost.freed" not in declared
    assert all(BY_FIELD[name].owners == {"ghost.freed"} for name in TRANSIENT_FIELDS)


def test_frame_of_env_tick_is_only_the_conntrack_fields() -> None:
    assert owned_fields(frozenset({"kernel.cts"})) == {
        f.name for f in FIELDS if f.owners == frozenset({"kernel.cts"})
    }


def test_the_observer_fields_are_owned_by_the_records_and_the_count_by_ct_count() -> None:
    observers = {f.name for f in FIELDS if f.owners == frozenset({"ghost.records"})}
    assert observers == {"pend", "rep", "dead", "hasD", "owed"}
    assert {f.name for f in FIELDS if "kernel.ct_count" in f.owners} == {"count"}
    assert {f.name for f in FIELDS if "kernel.alloc_slot" in f.owners} == {"aslot"}
    assert owned_fields(BY_NAME["env_listener_open"].modifies) >= {"owed", "hasD", "open"}
    assert "owed" not in owned_fields(BY_NAME["env_tick"].modifies)


def test_the_6x_worker_fields_are_owned_by_the_registry_names_of_the_worker() -> None:
    worker = {f.name for f in FIELDS if f.owners & {"kernel.worker", "kernel.dwork_pending"}}
    assert worker == {"worker", "dwork_pending"}
    assert owned_fields(BY_NAME["env_tick"].modifies) >= {"worker", "timer"}
    assert "dwork_pending" not in owned_fields(BY_NAME["env_tick"].modifies)
    assert owned_fields(BY_NAME["ecache_work"].modifies) >= {"worker", "dwork_pending", "dpos"}


@pytest.mark.parametrize("variant", ENCODED_VARIANTS)
def test_no_builder_writes_a_field_outside_its_declared_modifies(variant: str) -> None:
    shape = Shape(3, 2)
    params, _ = symbolic_params(shape)
    pre, post = fresh_state(shape, "pre"), fresh_state(shape, "post")
    for action in builders_for(variant):
        for args in z3_actions.symbolic_args(action, shape, "t"):
            relation(action, flags_for(variant), params, pre, post, args)


def test_a_builder_that_writes_an_undeclared_field_is_rejected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = kernel_z3.free

    def free_and_touch_the_retry_timeout(s: kernel_z3.Sym, uid: object) -> None:
        original(s, uid)
        s.put("retry", 7)

    monkeypatch.setattr(kernel_z3, "free", free_and_touch_the_retry_timeout)
    shape = Shape(3, 2)
    params, _ = symbolic_params(shape)
    pre, post = fresh_state(shape, "pre"), fresh_state(shape, "post")
    with pytest.raises(FrameError, match="destroy_conntrack writes"):
        relation("destroy_conntrack", flags_for("2.6.31"), params, pre, post, {"slot": 0})
