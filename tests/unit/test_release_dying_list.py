"""2.6.31: another namespace's exit runs nf_ct_release_dying_list() on init_net's dying list
(`Config.other_netns_exit`), and the kill under nf_conntrack_lock self-deadlocks once a held
conntrack's DESTROY is delivered (fault 6 of the history page)."""

from __future__ import annotations

import json

import pytest

from helpers import RELIABLE, ROOT, new_confirmed, run, step
from nfct_spec.docs.eras import era_config
from nfct_spec.engines.explorer import explore, trace_of, verdict
from nfct_spec.models.config import Config, ConfigError, config_from_json
from nfct_spec.models.registry import apply, successors
from nfct_spec.models.state import CRASH_DEADLOCK_CONNTRACK_LOCK, DEADLOCK, State
from nfct_spec.proofs.guard import NOT_ENCODED_NETNS_EXIT, encoding_gap
from nfct_spec.spec.catalogue import BY_ID
from nfct_spec.spec.properties import deadlock_free, no_crash

RELEASE = step("nf_ct_release_dying_list")
READ = step("env_recv", listener="conntrackd")


def config(**changes: object) -> Config:
    base = Config(
        variant="2.6.31",
        nf_conntrack_max=0,
        flows=2,
        slots=2,
        listeners=(RELIABLE,),
        ct_timeout=2,
        events_retry_timeout=2,
        other_netns_exit=True,
    )
    return base.with_(**changes)


def _held(cfg: Config) -> State:
    """A conntrack whose `conntrack -D` DESTROY failed: on the dying list with its retry."""
    return run(
        cfg,
        *new_confirmed(0, 0),
        step("ctnetlink_del_conntrack", flow=0, requester="conntrack"),
    )


def test_a_delivered_destroy_inside_the_walk_deadlocks_on_nf_conntrack_lock() -> None:
    cfg = config()
    held = _held(cfg)
    drained = run(cfg, READ, start=held)
    assert drained.kernel.dying == (0,) and drained.kernel.sockets[0].queue == ()
    stuck = run(cfg, RELEASE, start=drained)
    assert stuck.kernel.crashed == CRASH_DEADLOCK_CONNTRACK_LOCK
    assert stuck.kernel.crashed.startswith(DEADLOCK)
    assert not deadlock_free(cfg, stuck) and no_crash(cfg, stuck), "a deadlock, not a fault"
    assert [m.slot for m in stuck.kernel.sockets[0].queue] == [0], "the DESTROY went out first"
    assert list(successors(cfg, stuck)) == [], "a deadlocked CPU is a terminal state"


def test_a_failed_destroy_inside_the_walk_re_arms_the_retry_and_goes_on() -> None:
    cfg = config()
    held = _held(cfg)
    after = run(cfg, RELEASE, start=held)
    assert not after.kernel.crashed
    ct = after.ct(0)
    assert ct is not None and after.kernel.dying == (0,)
    assert ct.timer == cfg.events_retry_timeout - 1 and not ct.dying
    assert after.kernel.sockets[0].queue == held.kernel.sockets[0].queue, "still full"


def test_an_exit_that_finds_no_held_conntrack_is_no_step() -> None:
    cfg = config()
    assert apply(cfg, run(cfg, *new_confirmed(0, 0)), RELEASE) is None
    assert apply(cfg, run(cfg), RELEASE) is None


@pytest.mark.parametrize(
    "fix", [{"release_own_dying_list": True}, {"other_netns_exit": False}], ids=["own-list", "off"]
)
def test_the_walk_of_the_own_list_leaves_init_nets_held_conntracks_alone(
    fix: dict[str, bool],
) -> None:
    cfg = config(**fix)
    assert (
        apply(
            cfg,
            run(
                cfg,
                *new_confirmed(0, 0),
                step("ctnetlink_del_conntrack", flow=0, requester="conntrack"),
            ),
            RELEASE,
        )
        is None
    )


def test_with_the_retry_off_ct_timeout_the_kill_finds_no_timer() -> None:
    cfg = era_config("smp-netns-exit").with_(delete_takes_timer=True, retry_timer_separate=True)
    assert BY_ID["deadlock-free"].expected_for(cfg) == "holds"
    exploration = explore(cfg, [BY_ID["deadlock-free"]])
    assert verdict(BY_ID["deadlock-free"], exploration)[0] == "exhausted"


def test_the_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="other_netns_exit"):
        config(variant="6.x")
    with pytest.raises(ConfigError, match="other_netns_exit"):
        config(netns_exit=True)
    with pytest.raises(ConfigError, match="release_own_dying_list"):
        config(other_netns_exit=False, release_own_dying_list=True)
    assert "other_netns_exit" not in config(other_netns_exit=False).to_json()


def test_the_atomic_search_finds_the_deadlock_in_five_steps() -> None:
    """A new flow, its confirm, a `conntrack -D` whose DESTROY fails on the full listener,
    one read, the other namespace's exit."""
    cfg = config(flows=1, slots=1, ct_timeout=1)
    exploration = explore(cfg, [BY_ID["deadlock-free"]])
    assert verdict(BY_ID["deadlock-free"], exploration)[0] == "violated"
    trace = trace_of(exploration, BY_ID["deadlock-free"])
    assert len(trace.steps) == 5 and trace.steps[-1].action == "nf_ct_release_dying_list"


@pytest.mark.parametrize(
    ("name", "expected"), [("smp-netns-exit", "violated"), ("smp-netns-exit-own-list", "holds")]
)
def test_the_era_configs_of_the_fault(name: str, expected: str) -> None:
    cfg = config_from_json(json.loads((ROOT / "configs" / f"{name}.json").read_text()))
    assert cfg == era_config(name)
    assert BY_ID["deadlock-free"].expected_for(cfg) == expected


def test_deadlock_free_is_generic_and_holds_without_the_option() -> None:
    for variant in ("2.6.30", "2.6.31", "6.x"):
        plain = Config(variant=variant, listeners=(RELIABLE,))
        assert BY_ID["deadlock-free"].expected_for(plain) == "holds"
    assert BY_ID["deadlock-free"].expected_for(config()) == "violated"
    assert BY_ID["no-crash"].expected_for(config()) == "holds", "a deadlock is no fault"
    assert BY_ID["deadlock-free"].expected_for(era_config("smp-2.6.31")) == "holds"


def test_z3_encodes_another_namespaces_exit_but_not_the_own_one() -> None:
    assert encoding_gap(config()) is None
    assert encoding_gap(config(other_netns_exit=False, netns_exit=True)) == NOT_ENCODED_NETNS_EXIT
