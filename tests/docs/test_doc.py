"""The generated document: every page opens, every internal link resolves, diagrams parse,
markers are checked, and the README's generated table is fresh."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from helpers import REUSED_SLOT, one_message_queues
from nfct_spec.cli import main
from nfct_spec.docs.build import GENERATED, generated, regenerate, update_readme
from nfct_spec.docs.configs import configs_page
from nfct_spec.docs.content import (
    DocError,
    chapters,
    expand_markers,
    kernel_page,
    readme_markers,
    readme_table,
)
from nfct_spec.docs.figures import RECORD, load_figures, record_block
from nfct_spec.docs.msc import render_svg
from nfct_spec.minimize import replay_steps
from nfct_spec.models.observers import Ghost, Record, Seen
from nfct_spec.models.presets import preset, suite
from nfct_spec.models.state import Conntrack, Kernel, Message, Socket, initial_state
from nfct_spec.traces import make_trace

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
HREF = re.compile(r'(?:href|src)="([^"]+)"')


@pytest.fixture(scope="module")
def site(checked: tuple[int, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    _, out = checked
    site = tmp_path_factory.mktemp("doc") / "site"
    assert main(["doc", "--results", str(out / "results.json"), "-o", str(site)]) == 0
    return site


def test_doc_without_results_says_what_to_run_first(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "nfct_spec.cli",
            "doc",
            "--results",
            str(tmp_path / "none.json"),
            "-o",
            str(tmp_path / "site"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2 and "run `nfct-spec check` first" in result.stderr
    assert not (tmp_path / "site").exists()


def test_every_internal_link_and_anchor_resolves(site: Path) -> None:
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= 8
    for page in pages:
        text = page.read_text()
        for target in HREF.findall(text):
            if target.startswith(("http:", "https:", "data:", "#")):
                continue
            path, _, anchor = target.partition("#")
            resolved = (page.parent / path).resolve()
            assert resolved.exists(), f"{page.name}: broken link {target}"
            if anchor and resolved.suffix == ".html":
                html = resolved.read_text()
                assert f'id="{anchor}"' in html, f"{page.name}: missing anchor {target}"


def test_every_diagram_is_well_formed_svg(site: Path) -> None:
    diagrams = sorted((site / "diagrams").glob("*.svg"))
    assert diagrams
    for svg in diagrams:
        root = ET.parse(svg).getroot()
        assert (
            root.tag.endswith("svg") and root.find("{http://www.w3.org/2000/svg}line") is not None
        )


def test_a_diagram_names_each_message_by_its_conntrack_flow_and_id() -> None:
    """Conntrackd reads messages of two conntracks with the same tuple and id (the slot is
    allocated again); the logger's DESTROY of the first is refused."""
    config = one_message_queues(preset("ci", "2.6.31"))
    path = replay_steps(config, REUSED_SLOT)
    assert path is not None
    svg = render_svg(make_trace(config, path, initial_state(config), {}))
    texts = [t.text for t in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}text")]
    assert "step 3: ct0 NEW (flow 1 id 2) (read)" in texts
    assert "step 4: ct0 DESTROY (flow 1 id 2) (refused)" in texts
    assert "step 8: ct1 NEW (flow 1 id 2) (read)" in texts


def test_the_kernel_pages_list_every_field_of_the_state_records() -> None:
    lines = kernel_page("2.6.31").markdown.splitlines()
    for cls in (Kernel, Conntrack, Socket, Message, Ghost, Record, Seen):
        (line,) = [x for x in lines if x.startswith(f"- **{cls.__name__}**: ")]
        assert line.endswith(", ".join(f"`{name}`" for name in cls._fields) + ".")


def test_every_seed_sentence_has_a_status_backed_by_a_result(site: Path) -> None:
    claims = (site / "md" / "claims.md").read_text()
    from nfct_spec.spec.claims import CLAIMS

    for claim in CLAIMS:
        assert claim.sentence.replace("|", "\\|") in claims
        if claim.properties:
            row = next(line for line in claims.splitlines() if claim.sentence[:60] in line)
            assert "(hypothesis)" in row, f"no result backs: {claim.sentence[:50]}"


def test_an_unknown_property_marker_is_an_error() -> None:
    with pytest.raises(DocError, match="no-such-id"):
        expand_markers("see {{prop:no-such-id}}", "chapter x.md")


def test_the_readme_table_is_fresh() -> None:
    begin, end = readme_markers()
    text = (ROOT / "README.md").read_text()
    current = text.split(begin, 1)[1].split(end, 1)[0].strip()
    assert current == readme_table(), "run: nfct-spec doc --update-readme README.md"


def test_every_generated_block_of_the_readme_is_fresh() -> None:
    text = (ROOT / "README.md").read_text()
    figures = load_figures(ROOT / RECORD)
    stale = [
        m["name"]
        for m in GENERATED.finditer(text)
        if m["body"].strip() != generated(m["name"], figures)
    ]
    assert not stale, f"stale {stale}: run nfct-spec doc --update-readme README.md"
    assert regenerate(text, figures) == text


def test_every_block_of_the_figures_record_is_in_the_readme() -> None:
    text = (ROOT / "README.md").read_text()
    shown = {m["name"] for m in GENERATED.finditer(text)}
    assert {f"figures:{name}" for name in load_figures(ROOT / RECORD)} <= shown


def test_update_readme_renders_tables_and_inline_phrases_from_the_record(tmp_path: Path) -> None:
    begin, end = readme_markers()
    record = tmp_path / "figures.json"
    record_block(
        record,
        "speed",
        {
            "command": "python scripts/bench.py",
            "columns": [["what", "what"], ["command", "command", "code"], ["seconds", "s"]],
            "rows": [{"what": "all", "command": "nfct-spec check", "seconds": 253.04}],
            "after": "In {n:,} runs.",
            "values": {"n": 3000},
        },
    )
    record_block(
        record, "cases", {"command": "pytest", "inline": "{n:,} cases", "values": {"n": 1000}}
    )
    readme = tmp_path / "README.md"
    readme.write_text(
        f"{begin}\nx\n{end}\nWe check <!-- BEGIN GENERATED: figures:cases -->old"
        "<!-- END GENERATED: figures:cases --> per action.\n\n"
        "<!-- BEGIN GENERATED: figures:speed -->\nold\n<!-- END GENERATED: figures:speed -->\n"
    )
    assert update_readme(readme, record)
    text = readme.read_text()
    assert "figures:cases -->1,000 cases<!-- END" in text
    assert "| all | `nfct-spec check` | 253.0 |\n\nIn 3,000 runs.\n<!-- END" in text
    assert not update_readme(readme, record)


def test_a_readme_block_the_record_does_not_have_is_an_error(tmp_path: Path) -> None:
    begin, end = readme_markers()
    readme = tmp_path / "README.md"
    readme.write_text(
        f"{begin}\nx\n{end}\n<!-- BEGIN GENERATED: figures:gone -->\n"
        "<!-- END GENERATED: figures:gone -->\n"
    )
    record = tmp_path / "figures.json"
    record.write_text("{}")
    with pytest.raises(DocError, match="no block 'gone'"):
        update_readme(readme, record)


def test_update_readme_rewrites_only_between_the_markers(tmp_path: Path) -> None:
    begin, end = readme_markers()
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{begin}\nstale-table\n{end}\noutro\n")
    assert update_readme(readme)
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "stale-table" not in text


def test_pages_open_in_headless_chromium_without_console_errors(site: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            for html in sorted(site.rglob("*.html")):
                page.goto(html.as_uri())
                assert page.title(), html
            page.goto((site / "properties.html").as_uri())
            broken = page.evaluate(
                "Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)"
                ".map(i => i.src)"
            )
            assert page.locator("img").count() > 0 and not broken, broken
            page.goto((site / "index.html").as_uri())
            page.screenshot(path=str(ARTIFACTS / "doc-property-matrix.png"), full_page=True)
            assert page.locator("table").count() >= 1
            assert not errors, errors
        finally:
            browser.close()


def test_every_auxiliary_invariant_of_the_proofs_has_an_entry() -> None:
    from nfct_spec.docs.content import auxiliary_page, properties_page
    from nfct_spec.spec.invariants import INVARIANTS

    text = auxiliary_page().markdown
    entries = properties_page({}).markdown
    aux = [inv.id for inv in INVARIANTS if inv.id.startswith("aux-")]
    assert aux and all(f"(properties.md#{i})" in text for i in aux)
    assert all(f'<a id="{i}"></a>' in entries for i in aux)
    assert "2.6.31: missed-only-undelivered" in text
    assert "6.x: destroy-eventually (stated fairness)" in text


def test_the_configs_page_lists_every_config_a_verdict_was_found_on() -> None:
    configs = {f"2.6.31/{c.name}": c.to_json() for c in suite("ci", "2.6.31")}
    configs["2.6.31"] = preset("ci", "2.6.31").to_json()
    page = configs_page(configs)
    rows = [line for line in page.markdown.splitlines() if line.startswith("| `")]
    assert [row.split(" | ")[0] for row in rows] == [f"| `{key}`" for key in configs]
    listeners = next(row for row in rows if "ci.listeners" in row)
    assert "conntrackd (new/update/destroy, broadcast_error, no_enobufs, queue 1)" in listeners
    assert "logger (new/destroy, queue 1)" in listeners
    assert "events_retry_timeout=0" in next(row for row in rows if "ci.sysctl" in row)
    assert "expectations, listener churn" in rows[-1]
    assert next(row for row in rows if "ci.allocations" in row).split(" | ")[4] == "3"
    assert "No configs recorded." in configs_page({}).markdown


def test_the_listener_chapter_explains_every_non_guarantee_and_the_reliable_destroy() -> None:
    """Every way the kernel can surprise a listener (each non-guarantee) and what it may rely
    on for DESTROY is linked from the chapter for listener authors."""
    from nfct_spec.spec.catalogue import CATALOGUE

    [page] = [p for p in chapters() if p.stem == "04-listeners"]
    source = (Path(__file__).parents[2] / "spec" / "chapters" / "04-listeners.md").read_text()
    wanted = {p.id for p in CATALOGUE if p.kind == "non-guarantee"}
    wanted |= {"destroy-before-free", "destroy-eventually", "identity-unique", "new-before-destroy"}
    assert sorted(i for i in wanted if f"{{{{prop:{i}}}}}" not in source) == []
    assert "{{prop:" not in page.markdown
