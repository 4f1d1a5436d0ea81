"""The history page: every known fault has its row; a modelled fault shows the verdicts the
explorer gives on the era configs of `configs/` (searched again here, one property at a time)
with a BFS-shortest trace that replays; the rows of the faults the model lacks say so."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from nfct_spec.docs.build import build
from nfct_spec.docs.eras import ERAS, era_config
from nfct_spec.docs.faults import FAULTS, Fault
from nfct_spec.docs.history import TITLE, outcomes
from nfct_spec.docs.worker_run import WORKER_CONFIG, WORKER_STEPS
from nfct_spec.engines.explorer import explore, trace_of, verdict
from nfct_spec.minimize import first_finding, replay_steps
from nfct_spec.models.config import config_from_json
from nfct_spec.models.registry import Step, apply
from nfct_spec.models.state import State, initial_state
from nfct_spec.spec.catalogue import BY_ID

ROOT = Path(__file__).resolve().parents[2]
HREF = re.compile(r'(?:href|src)="([^"]+)"')
SEARCHED = [f for f in FAULTS if f.kind == "searched"]
NUMBER = {f.title: n for n, f in enumerate(FAULTS, start=1)}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The document built from an empty results file (the history page needs none)."""
    out = tmp_path_factory.mktemp("history") / "site"
    build(out, out / "results.json", {"results": []})
    return out


def _section(markdown: str, fault: Fault) -> str:
    number = NUMBER[fault.title]
    start = markdown.index(f"## {number}. {fault.title}")
    end = markdown.find('<a id="fault-', start)
    return markdown[start : end if end >= 0 else len(markdown)]


def _row(section: str, prop: str) -> list[str]:
    (line,) = [x for x in section.splitlines() if x.startswith(f"| [`{prop}`]")]
    return [cell.strip() for cell in line.strip("|").split(" | ")]


def test_the_era_configs_of_the_page_are_the_files_of_configs() -> None:
    files = sorted(
        f for f in (ROOT / "configs").glob("*.json") if f.stem.startswith(("smp-", "worker-"))
    )
    assert sorted(ERAS) == sorted(f.stem for f in files)
    for path in files:
        assert era_config(path.stem) == config_from_json(json.loads(path.read_text()))


def test_the_page_is_in_the_document_and_lists_every_fault(site: Path) -> None:
    markdown = (site / "md" / "history.md").read_text()
    assert markdown.startswith(f"# {TITLE}")
    assert 'href="history.html"' in (site / "index.html").read_text()
    assert len(FAULTS) == 7
    for number, fault in enumerate(FAULTS, start=1):
        assert f"| [{number}](#fault-{number}) | {fault.title} |" in markdown
        assert f"## {number}. {fault.title}" in markdown


def test_every_link_of_the_page_resolves(site: Path) -> None:
    page = site / "history.html"
    html = page.read_text()
    targets = HREF.findall(html)
    assert any(t.startswith("traces/history-") for t in targets)
    for target in targets:
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.exists(), f"broken link {target}"
        if anchor:
            assert f'id="{anchor}"' in resolved.read_text(), f"missing anchor {target}"


@pytest.mark.parametrize("fault", SEARCHED, ids=lambda f: f.flag)
def test_a_modelled_fault_shows_the_explorers_verdicts_on_the_era_configs(
    site: Path, fault: Fault
) -> None:
    """Each cell is what the explorer gives when it searches the config file for that one
    property: violated in as many steps as its BFS-shortest trace where the fault is, and
    exhausted where the fix is. (The state counts shown are the page's search of all the
    fault's properties at once, which keeps the observers of all of them.)"""
    section = _section((site / "md" / "history.md").read_text(), fault)
    assert f"config flag `{fault.flag}`" in section and "NOT AS EXPECTED" not in section
    assert era_config(fault.fixed) == era_config(fault.shipped).with_(
        name=fault.fixed, **{fault.flag: fault.fixed_value}
    )
    for column, name in ((1, fault.shipped), (2, fault.fixed)):
        config = config_from_json(json.loads((ROOT / "configs" / f"{name}.json").read_text()))
        for prop_id in fault.properties:
            exploration = explore(config, [BY_ID[prop_id]])
            found, scope = verdict(BY_ID[prop_id], exploration)
            cell = _row(section, prop_id)[column]
            if column == 1:
                assert found == "violated", (name, prop_id, scope)
                steps = len(trace_of(exploration, BY_ID[prop_id]).steps)
                assert cell.startswith(f"**violated** in {steps} steps"), cell
            else:
                assert found == "exhausted", (name, prop_id, scope)
                assert cell.startswith("**exhausted**: holds (") and " states" in cell, cell


@pytest.mark.parametrize("fault", SEARCHED, ids=lambda f: f.flag)
def test_each_shown_trace_replays_to_its_finding_at_its_last_step(site: Path, fault: Fault) -> None:
    section = _section((site / "md" / "history.md").read_text(), fault)
    for outcome in outcomes(fault.shipped, fault.properties):
        assert outcome.trace is not None
        steps = outcome.trace.steps
        header = f"#### `{outcome.prop}` on `{outcome.config}`: {len(steps)} steps"
        listed = section.split(header, 1)[1].split("####", 1)[0]
        assert [f"{i}. `{s}`" for i, s in enumerate(steps, start=1)] == [
            line for line in listed.splitlines() if line[:1].isdigit()
        ]
        config = era_config(outcome.config)
        path = replay_steps(config, steps)
        assert path is not None
        assert first_finding(config, BY_ID[outcome.prop], path) == len(steps)
        assert (site / "diagrams" / f"{outcome.stem}.svg").exists()
        assert (site / "traces" / f"{outcome.stem}.html").exists()


def _worker_runs_once(fixed: bool) -> tuple[State, State]:
    config = WORKER_CONFIG.with_(ecache_work_fixed=fixed)
    state = initial_state(config)
    for step in WORKER_STEPS[:-1]:
        after = apply(config, state, step)
        assert after is not None, step
        state = after
    after = apply(config, state, Step("ecache_work"))
    assert after is not None
    return state, after


def test_the_worker_row_shows_what_one_run_of_each_worker_does(site: Path) -> None:
    """As shipped, a run delivers one DESTROY and queues the worker again at once; fixed, it
    empties the list. No verdict is claimed for it."""
    (fault,) = [f for f in FAULTS if f.kind == "scripted"]
    assert fault.flag == "ecache_work_fixed" and WORKER_STEPS[-1] == Step("ecache_work")
    section = _section((site / "md" / "history.md").read_text(), fault)
    before, shipped = _worker_runs_once(False)
    assert (len(before.kernel.dying), len(shipped.kernel.dying), shipped.kernel.worker) == (2, 1, 0)
    _, fixed = _worker_runs_once(True)
    assert (len(fixed.kernel.dying), fixed.kernel.worker) == (0, -1)
    assert "- as shipped: delivered 1 of the 2 DESTROYs" in section
    assert "1 left; the worker is queued again at once" in section
    assert "- with `ecache_work_fixed`: delivered 2 of the 2 DESTROYs" in section
    assert "0 left; the worker is not scheduled" in section
    assert "violated" not in section and "exhausted" not in section


def test_every_fault_of_the_history_is_modelled(site: Path) -> None:
    """Each fault is searched on its era configs, but the 5.19 worker's time test, which no
    catalogue entry is about and whose run the page replays."""
    kinds = {NUMBER[f.title]: f.kind for f in FAULTS}
    assert kinds == {n: "scripted" if n == 5 else "searched" for n in range(1, 8)}
    markdown = (site / "md" / "history.md").read_text()
    assert "not modelled" not in markdown


def test_the_dying_bit_row_shows_the_released_scheme_exhausted_beside_the_fault(
    site: Path,
) -> None:
    """No released kernel had the fault: 3.17 to 4.8 guard nf_ct_delete() with del_timer(),
    and 4.9 has the three-state. The page searches the released scheme too, and the property
    holds there; the fault's config differs from it by the guard of the timer removal."""
    (fault,) = [f for f in SEARCHED if f.released]
    assert fault.flag == "ecache_destroy_state" and "no released kernel" in fault.kernels
    assert era_config(fault.shipped) == era_config(fault.released).with_(
        name=fault.shipped, delete_test_and_set_dying=True
    )
    section = _section((site / "md" / "history.md").read_text(), fault)
    assert f"`{fault.shipped}` without `delete_test_and_set_dying`" in section
    for prop_id in fault.properties:
        line = next(
            x for x in section.splitlines() if x.startswith(f"- as released, [`{prop_id}`]")
        )
        assert "**exhausted**: holds (" in line and "NOT AS EXPECTED" not in line
        exploration = explore(era_config(fault.released), [BY_ID[prop_id]])
        assert verdict(BY_ID[prop_id], exploration)[0] == "exhausted"


def test_the_review_worker_is_searched_with_the_released_one_as_its_fix(site: Path) -> None:
    """Fault 7 is an era before the released code: its flag puts the deadlock in, the fixed
    column is the worker as released, and the row says why both era configs fix the time test
    (the finding about fault 5's inverted test)."""
    fault = FAULTS[6]
    assert fault.kind == "searched" and fault.flag_adds_fault and not fault.fixed_value
    assert era_config(fault.shipped).worker_relocks_twice
    assert not era_config(fault.fixed).worker_relocks_twice
    assert all(era_config(n).ecache_work_fixed for n in (fault.shipped, fault.fixed))
    markdown = (site / "md" / "history.md").read_text()
    section = _section(markdown, fault)
    assert "is the same without `worker_relocks_twice` (as released)" in section
    assert f"- finding: {fault.finding}" in section and "`ecache_work_fixed`" in fault.finding
    assert f"| {fault.title} | {fault.kernels} | `deadlock-free` |" in markdown
    trace = outcomes(fault.shipped, fault.properties)[0].trace
    assert trace is not None and trace.steps[-1] == Step("ecache_work")


def test_the_namespace_exit_fault_is_searched_for_the_deadlock_it_causes() -> None:
    (fault,) = [f for f in FAULTS if f.flag == "release_own_dying_list"]
    assert NUMBER[fault.title] == 6 and fault.kind == "searched"
    assert fault.properties == ("deadlock-free",)
    assert era_config(fault.shipped).other_netns_exit


def test_the_fixed_eras_show_z3_proofs_of_the_crash_entries(site: Path) -> None:
    """Fault 1 fixed (the delete guard) proves the timer and use-after-free entries, fault 2
    fixed (the separate retry timer) the double unlink, fault 3 fixed (the 3.12 iterator) the
    single handler body, the three-state ecache the DESTROY before the free, the exit that
    walks its own dying list and the released worker freedom from deadlock; no proof is
    claimed elsewhere."""
    markdown = (site / "md" / "history.md").read_text()
    proved = re.findall(
        r"- Z3 on the era of `([^`]+)`, \[`([^`]+)`\][^:]*: \*\*proved\*\*", markdown
    )
    assert sorted(proved) == [
        ("smp-delete-guard", "no-timer-rearm"),
        ("smp-delete-guard", "no-use-after-free"),
        ("smp-dying-worker-ecache-state", "destroy-before-free"),
        ("smp-ecache-timer-flush", "no-double-unlink"),
        ("smp-iterator-guard-flush", "timeout-handler-once"),
        ("smp-netns-exit-own-list", "deadlock-free"),
        ("worker-released-relock", "deadlock-free"),
    ]
    assert "**not proved**" not in markdown
