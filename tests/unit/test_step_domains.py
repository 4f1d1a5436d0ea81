"""Step domains: a step that no action can take as written is an error naming what is wrong,
never a step that is merely not enabled."""

from __future__ import annotations

import re
from typing import cast

import pytest

from helpers import new, new_confirmed, run, step
from nfct_spec.models.config import Config
from nfct_spec.models.presets import preset
from nfct_spec.models.registry import ArgValue, Step, StepError, apply, check_step
from nfct_spec.models.state import State, initial_state


def _step(action: str, *args: tuple[str, ArgValue]) -> Step:
    return Step(action, tuple(args))


NEW = (("flow", 0), ("packet", "new"), ("slot", 0))

BAD: list[tuple[str, Step, str]] = [
    # (variant, step, what the message must say)
    ("2.6.31", _step("no_such_action"), "unknown action 'no_such_action'"),
    ("2.6.31", _step("nf_conntrack_flow"), "unknown action"),
    ("6.x", _step("death_by_event", ("slot", 0)), "does not exist in variant 6.x"),
    ("6.x", _step("death_by_timeout", ("slot", 0)), "does not exist in variant 6.x"),
    ("2.6.31", _step("gc_worker", ("slot", 0)), "does not exist in variant 2.6.31"),
    ("2.6.31", _step("ecache_work"), "does not exist in variant 2.6.31"),
    (
        "2.6.30",
        _step("env_sysctl_write", ("name", "nf_conntrack_events"), ("value", 0)),
        "does not exist in variant 2.6.30",
    ),
    # missing and unexpected arguments
    ("2.6.31", _step("nf_conntrack_in", ("flow", 0), ("packet", "new")), "missing argument 'slot'"),
    ("2.6.31", _step("__nf_conntrack_confirm"), "missing argument 'slot'"),
    ("2.6.31", _step("early_drop"), "missing argument 'victim'"),
    ("2.6.31", _step("env_recv"), "missing argument 'listener'"),
    (
        "2.6.31",
        _step("nf_conntrack_flush_report", ("requester", "conntrack")),
        "missing argument 'order'",
    ),
    ("2.6.31", _step("__nf_conntrack_confirm", ("uid", 0)), "unexpected argument 'uid'"),
    ("2.6.31", _step("death_by_event", ("slot", 0), ("uid", 0)), "unexpected argument 'uid'"),
    ("2.6.31", _step("env_tick", ("slot", 0)), "unexpected argument 'slot'"),
    ("2.6.31", _step("nf_conntrack_in", *NEW, ("ctid", 0)), "unexpected argument 'ctid'"),
    ("2.6.31", _step("env_recv", ("nonsense", 1)), "unexpected argument 'nonsense'"),
    # wrong types
    ("2.6.31", _step("nf_conntrack_in", ("flow", "0"), *NEW[1:]), "'flow' must be an integer"),
    ("2.6.31", _step("nf_conntrack_in", ("flow", True), *NEW[1:]), "'flow' must be an integer"),
    ("2.6.31", _step("nf_conntrack_in", *NEW[:2], ("slot", (0,))), "'slot' must be an integer"),
    ("2.6.31", _step("nf_conntrack_in", NEW[0], ("packet", 1), NEW[2]), "'packet' must be one of"),
    ("2.6.31", _step("early_drop", ("victim", "none")), "'victim' must be an integer"),
    ("2.6.31", _step("env_recv", ("listener", 0)), "'listener' must be one of"),
    (
        "2.6.31",
        _step("nf_conntrack_flush_report", ("requester", "conntrack"), ("order", 0)),
        "'order' must be a list of slots",
    ),
    (
        "2.6.31",
        _step(
            "nf_conntrack_flush_report",
            ("requester", "conntrack"),
            ("order", cast(ArgValue, ("0",))),
        ),
        "'order' must be a list of slots",
    ),
    (
        "2.6.31",
        _step("nf_conntrack_flush_report", ("requester", "conntrack"), ("order", (True,))),
        "'order' must be a list of slots",
    ),
    (
        "2.6.31",
        _step("env_sysctl_write", ("name", "nf_conntrack_events"), ("value", "0")),
        "'value' must be an integer",
    ),
    # out of range
    ("2.6.31", _step("nf_conntrack_in", ("flow", 99), *NEW[1:]), "'flow' must be between 0 and 2"),
    ("2.6.31", _step("nf_conntrack_in", ("flow", -1), *NEW[1:]), "'flow' must be between 0 and 2"),
    ("2.6.31", _step("nf_conntrack_in", *NEW[:2], ("slot", 4)), "'slot' must be between -1 and 3"),
    ("2.6.31", _step("nf_conntrack_in", *NEW[:2], ("slot", -2)), "'slot' must be between -1 and 3"),
    ("2.6.31", _step("nf_conntrack_in", NEW[0], ("packet", "syn"), NEW[2]), "'packet' must be one"),
    ("2.6.31", _step("__nf_conntrack_confirm", ("slot", -1)), "'slot' must be between 0 and 3"),
    ("2.6.31", _step("destroy_conntrack", ("slot", 4)), "'slot' must be between 0 and 3"),
    ("2.6.31", _step("death_by_timeout", ("slot", 7)), "'slot' must be between 0 and 3"),
    ("2.6.31", _step("death_by_event", ("slot", -1)), "'slot' must be between 0 and 3"),
    ("6.x", _step("gc_worker", ("slot", 4)), "'slot' must be between 0 and 3"),
    ("2.6.31", _step("early_drop", ("victim", -2)), "'victim' must be between -1 and 3"),
    ("2.6.31", _step("early_drop", ("victim", 4)), "'victim' must be between -1 and 3"),
    ("2.6.31", _step("env_recv", ("listener", "nobody")), "'listener' must be one of"),
    (
        "2.6.31",
        _step("ctnetlink_del_conntrack", ("flow", 0), ("requester", "nobody")),
        "'requester' must be one of",
    ),
    (
        "2.6.31",
        _step("ctnetlink_del_conntrack", ("flow", 3), ("requester", "conntrack")),
        "'flow' must be between 0 and 2",
    ),
    (
        "2.6.31",
        _step("nf_conntrack_flush_report", ("requester", "conntrack"), ("order", (0, 0))),
        "'order' must list distinct slots between 0 and 3",
    ),
    (
        "2.6.31",
        _step("nf_conntrack_flush_report", ("requester", "conntrack"), ("order", (4,))),
        "'order' must list distinct slots between 0 and 3",
    ),
    ("2.6.31", _step("nf_ct_expect_related", ("flow", 5)), "'flow' must be between 0 and 2"),
    (
        "2.6.31",
        _step("env_sysctl_write", ("name", "nf_conntrack_max"), ("value", 1)),
        "'name' must be one of",
    ),
    ("2.6.31", _step("env_listener_open", ("listener", "nobody")), "'listener' must be one of"),
    ("2.6.31", _step("env_listener_close", ("listener", "")), "'listener' must be one of"),
]


def _id(case: tuple[str, Step, str]) -> str:
    return f"{case[0]}:{case[1]}"


PARAMS = [pytest.param(*case, id=_id(case)) for case in BAD]


@pytest.mark.parametrize(("variant", "bad", "message"), PARAMS)
def test_check_step_rejects_the_step_and_names_what_is_wrong(
    variant: str, bad: Step, message: str
) -> None:
    config = preset("ci", variant)
    with pytest.raises(StepError, match=re.escape(message)) as error:
        check_step(config, bad)
    assert str(error.value).startswith(bad.action) or "action" in str(error.value)


@pytest.mark.parametrize(("variant", "bad", "message"), PARAMS)
def test_apply_raises_the_same_step_error(variant: str, bad: Step, message: str) -> None:
    config = preset("ci", variant)
    with pytest.raises(StepError, match=re.escape(message)):
        apply(config, initial_state(config), bad)


def _states_where_nothing_else_runs(config: Config) -> list[State]:
    """A state with an allocation waiting for early_drop (every other step is disabled) and,
    in 2.6.31, a crashed kernel (every step is disabled)."""
    waiting = run(config, new(0, 0), new(1, 1), new(2, 2))
    assert waiting.kernel.alloc_pending == 2
    if config.variant != "2.6.31":
        return [waiting]
    crashed = run(
        config,
        step("env_sysctl_write", name="events_retry_timeout", value=0),
        *new_confirmed(0, 0),
        step("ctnetlink_del_conntrack", flow=0, requester="conntrack"),
    )
    assert crashed.kernel.crashed
    return [waiting, crashed]


@pytest.mark.parametrize(("variant", "bad", "message"), PARAMS)
def test_a_bad_step_is_an_error_even_where_no_step_is_enabled(
    variant: str, bad: Step, message: str
) -> None:
    config = preset("ci", variant)
    for state in _states_where_nothing_else_runs(config):
        with pytest.raises(StepError, match=re.escape(message)):
            apply(config, state, bad)


def test_a_step_error_is_a_value_error_so_callers_reporting_bad_input_catch_it() -> None:
    assert issubclass(StepError, ValueError)


def test_arguments_may_come_in_any_order() -> None:
    config = preset("ci", "2.6.31")
    shuffled = _step("nf_conntrack_in", ("slot", 0), ("packet", "new"), ("flow", 0))
    assert apply(config, initial_state(config), shuffled) == apply(
        config, initial_state(config), _step("nf_conntrack_in", *NEW)
    )


def test_a_well_formed_step_in_range_can_still_be_not_enabled() -> None:
    """The domains are static (what any state of the config could accept): whether the step
    is enabled is the state's business, and then apply returns None."""
    config = preset("ci", "2.6.31")
    state = initial_state(config)
    for well_formed in (
        _step("__nf_conntrack_confirm", ("slot", 3)),
        _step("early_drop", ("victim", -1)),
        _step("nf_conntrack_in", ("flow", 0), ("packet", "plain"), ("slot", -1)),
        _step("nf_conntrack_in", ("flow", 0), ("packet", "new"), ("slot", -1)),
        _step("nf_conntrack_flush_report", ("requester", "conntrack"), ("order", ())),
    ):
        assert check_step(config, well_formed).name == well_formed.action
        assert apply(config, state, well_formed) is None, well_formed
