"""A rendered trace page in headless Chromium (Debian's package, driven by Playwright)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helpers import step
from nfct_spec.minimize import replay_steps
from nfct_spec.models.presets import preset
from nfct_spec.models.state import initial_state
from nfct_spec.spec.catalogue import BY_ID
from nfct_spec.traces import make_trace
from nfct_spec.viewer.html import write_page

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def test_page_steps_forward_and_back_and_the_state_panel_follows(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    steps = [
        step("nf_conntrack_in", flow=0, packet="new", slot=0),
        step("nf_conntrack_in", flow=2, packet="new", slot=1),
        step("__nf_conntrack_confirm", slot=1),
        step("nf_conntrack_in", flow=1, packet="new", slot=2),
        step("early_drop", victim=1),
    ]
    config = preset("ci", "2.6.31")
    path = replay_steps(config, steps)
    assert path is not None
    meta = {"property": "table-bound", "statement": BY_ID["table-bound"].statement}
    meta.update(finding="violated", step=5)
    trace = make_trace(config, path, initial_state(config), meta)
    page_file = write_page(trace, tmp_path / "table-bound.html")
    errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(page_file.as_uri())
        assert page.get_attribute("body", "data-step") == "0"
        labels = page.eval_on_selector_all("#lanes .label", "els => els.map(e => e.textContent)")
        assert labels[:3] == ["ct0 flow 0 id 0", "ct1 flow 2 id 1", "ct2 flow 1 id 2"]
        victim = page.eval_on_selector_all(
            "#lanes .row:nth-child(2) .cell", "els => els.map(e => e.className)"
        )
        assert victim == ["cell p-unconfirmed", "cell p-hash", "cell p-hash", "cell p-dying"]
        assert "queue ct1 NEW (flow 2 id 1)" in page.inner_text("#msc")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("j")
        page.keyboard.press("ArrowRight")
        assert page.get_attribute("body", "data-step") == "3"
        changed = page.eval_on_selector_all(
            "#state-panel .changed", "els => els.map(e => e.dataset.path)"
        )
        assert "conntracks.ct1.place" in changed
        assert "listeners.conntrackd.queue" in changed
        page.keyboard.press("k")
        assert page.get_attribute("body", "data-step") == "2"
        changed = page.eval_on_selector_all(
            "#state-panel .changed", "els => els.map(e => e.dataset.path)"
        )
        assert "conntracks.ct1" in changed and "conntracks.ct1.place" not in changed
        page.keyboard.press("End")
        assert "active" in (page.get_attribute("#finding", "class") or "")
        changed = page.eval_on_selector_all(
            "#state-panel .changed", "els => els.map(e => e.dataset.path)"
        )
        assert "table.dying" in changed
        assert "headroom\t-1" in page.inner_text("#state-panel")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "trace-page.png"), full_page=True)
        browser.close()
    assert errors == []
