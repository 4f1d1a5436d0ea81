"""Writing the document: Markdown pages, the same pages as a static HTML site, one SVG
message-sequence diagram and one HTML trace page per finding (of the results, and of the
history page's searches), and the README's table."""

from __future__ import annotations

import re
from html import escape
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt

from nfct_spec.docs.configs import configs_page
from nfct_spec.docs.content import (
    DocError,
    Page,
    all_pages,
    index_results,
    readme_markers,
    readme_table,
)
from nfct_spec.docs.figures import PREFIX, RECORD, Block, load_figures, render
from nfct_spec.docs.history import history_page
from nfct_spec.docs.msc import render_svg
from nfct_spec.files import read_text, write_text
from nfct_spec.results import load_results as read_results
from nfct_spec.traces import Trace, load_trace
from nfct_spec.viewer.html import GENERATOR, write_page

STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:0 auto;padding:0 1.2em 3em;
line-height:1.45;color:#1a1a1a}
nav{padding:.8em 0;border-bottom:1px solid #ddd;margin-bottom:1em}
nav a{margin-right:1em}
table{border-collapse:collapse;margin:1em 0;font-size:.92em}
th,td{border:1px solid #ccc;padding:.3em .5em;vertical-align:top;text-align:left}
th{background:#f3f3f3}
code{background:#f5f5f5;padding:0 .2em}
img{max-width:100%;border:1px solid #eee}
"""
LINK = re.compile(r'href="([^":#]+)\.md(#[^"]*)?"')


def _html(page: Page, pages: list[Page]) -> str:
    md = MarkdownIt("commonmark", {"html": True}).enable("table")
    body = LINK.sub(
        lambda m: f'href="{m.group(1)}.html{m.group(2) or ""}"', md.render(page.markdown)
    )
    nav = " ".join(f'<a href="{p.stem}.html">{escape(p.title)}</a>' for p in pages)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">{GENERATOR}'
        f"<title>{escape(page.title)} — nfct-spec</title><style>{STYLE}</style></head>"
        f"<body><nav>{nav}</nav>\n{body}</body></html>\n"
    )


def load_results(path: Path) -> dict[str, Any]:
    """The results file; DocError (exit 2) when there is none yet, InputError when it cannot
    be read."""
    if not path.exists() and not path.is_symlink():
        raise DocError(f"no results at {path}: run `nfct-spec check` first (or pass --results)")
    return read_results(path)


def _draw(out: Path, stem: str, trace: Trace, title: str) -> None:
    """One finding's message-sequence diagram and trace page."""
    (out / "diagrams").mkdir(exist_ok=True)
    write_text(out / "diagrams" / f"{stem}.svg", render_svg(trace), "diagram", None)
    write_page(trace, out / "traces" / f"{stem}.html", title, signature=None)


def _findings(out: Path, results_path: Path, doc: dict[str, Any]) -> int:
    count = 0
    for r in doc["results"]:
        if not r.get("trace"):
            continue
        trace = load_trace(results_path.parent / r["trace"])
        stem = f"{r['variant']}-{r['engine']}-{r['property']}"
        _draw(out, stem, trace, f"{r['property']} on {r['variant']}")
        count += 1
    return count


def build(out: Path, results_path: Path, doc: dict[str, Any]) -> list[Path]:
    """Write the site (HTML) and its Markdown twin under `out`, from the results `doc` read
    from `results_path` (`load_results`); returns the HTML pages."""
    pages = all_pages(index_results(doc), doc.get("runs", {}).get("check", doc.get("run", {})))
    pages.append(configs_page(dict(doc.get("configs") or {})))
    history, traces = history_page()
    pages.append(history)
    (out / "md").mkdir(parents=True, exist_ok=True)
    written = []
    for page in pages:
        write_text(out / "md" / f"{page.stem}.md", page.markdown + "\n", "page", None)
        path = out / f"{page.stem}.html"
        write_text(path, _html(page, pages), "page", None)
        written.append(path)
    _findings(out, results_path, doc)
    for stem, trace in traces.items():
        _draw(out, stem, trace, f"History: {stem.removeprefix('history-')}")
    return written


GENERATED = re.compile(
    r"<!-- BEGIN GENERATED: (?P<name>[a-z0-9:.-]+) -->(?P<body>.*?)"
    r"<!-- END GENERATED: (?P=name) -->",
    re.DOTALL,
)
"""A generated block of the README: a table on lines of its own, or a phrase inside a
sentence (no line break after the begin marker)."""


def generated(name: str, figures: dict[str, Block]) -> str:
    """What the README's block `name` must contain: `properties` from the catalogue,
    `figures:KEY` from block KEY of the figures record."""
    if name == "properties":
        return readme_table()
    if name.startswith(PREFIX):
        key = name.removeprefix(PREFIX)
        if key not in figures:
            raise DocError(f"README block {name}: the figures record has no block {key!r}")
        return render(figures[key])
    raise DocError(f"README block {name}: unknown kind of generated block")


def regenerate(text: str, figures: dict[str, Block]) -> str:
    """The README text with every generated block rewritten from its source."""

    def block(match: re.Match[str]) -> str:
        name, body = match["name"], generated(match["name"], figures)
        inner = f"\n{body}\n" if match["body"].startswith("\n") else body
        return f"<!-- BEGIN GENERATED: {name} -->{inner}<!-- END GENERATED: {name} -->"

    return GENERATED.sub(block, text)


def readme_figures(readme: Path, text: str, figures_path: Path | None) -> dict[str, Block]:
    """The figures record a README's blocks are rendered from (none needed if it has no
    figures block): `figures_path`, by default docs/figures.json beside the README."""
    if not any(m["name"].startswith(PREFIX) for m in GENERATED.finditer(text)):
        return {}
    return load_figures(figures_path or readme.parent / RECORD)


def update_readme(readme: Path, figures_path: Path | None = None) -> bool:
    """Regenerate every generated block of the README; True if the file changed."""
    begin, end = readme_markers()
    text = read_text(readme, "README")
    if begin not in text or end not in text:
        raise DocError(f"{readme}: the markers {begin} ... {end} are missing")
    new = regenerate(text, readme_figures(readme, text, figures_path))
    if new == text:
        return False
    write_text(readme, new, "README", None)
    return True
