"""`nfct-spec trace html`: one self-contained HTML page per trace (no server, no network).

The page embeds the trace's views (see `lanes.state_view`), the per-step changes, the lanes
and the netlink deliveries as JSON, with the CSS and JavaScript of `static/` (package data,
inlined when the page is written, so the page needs no other file) that draw: the step list
(action names), a timeline, swim-lanes per conntrack instance (labelled with the flow and id a
listener sees, spanning the states from its allocation to its free) and per listener, the
state panel with the values the current step changed highlighted, the finding (property,
statement, step) and the lasso's loop, and a message-sequence chart (SVG) of what each listener
was queued, received or lost. Left/right arrows or j/k step through the trace; Home/End jump.

`write_pages` renders every trace that a results.json names, plus an index page linking
them; `nfct-spec check` calls it.
"""

from __future__ import annotations

import html
import itertools
import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from nfct_spec.files import write_text
from nfct_spec.models.registry import BY_NAME
from nfct_spec.results import load_results
from nfct_spec.traces import Trace, load_trace
from nfct_spec.viewer.lanes import ct_lanes, deliveries, diff, listener_lanes, trace_views

PAGES_DIR = "html"
_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
GENERATOR = '<meta name="generator" content="nfct-spec">'
"""In the head of every page nfct-spec writes: only such a file is ever replaced by a page."""


@cache
def static(name: str) -> str:
    """A file of the viewer's `static/` package data (the page's CSS or JavaScript)."""
    return resources.files("nfct_spec.viewer").joinpath("static", name).read_text("utf-8")


def page_data(trace: Trace) -> dict[str, Any]:
    """What the page's script draws, as JSON-able data."""
    views = trace_views(trace)
    steps: list[dict[str, Any]] = [{"title": "init", "kind": "env", "citation": ""}]
    for step in trace.steps:
        action = BY_NAME.get(step.action)
        steps.append(
            {
                "title": str(step),
                "kind": action.kind if action is not None else "env",
                "citation": action.summary if action is not None else "",
            }
        )
    changes: list[list[dict[str, Any]]] = [[]]
    for before, after in itertools.pairwise(views):
        changes.append(
            [{"path": c.path, "before": c.before, "after": c.after} for c in diff(before, after)]
        )
    at = trace.meta.get("step")
    return {
        "views": views,
        "steps": steps,
        "changes": changes,
        "loop": trace.loop,
        "finding_step": at if isinstance(at, int) else None,
        "listeners": [listener.name for listener in trace.config.listeners],
        "ct_lanes": [
            {
                "key": lane.key,
                "label": lane.label,
                "flow": lane.flow,
                "slot": lane.slot,
                "first": lane.first,
                "cells": lane.cells,
            }
            for lane in ct_lanes(views)
        ],
        "listener_lanes": listener_lanes(views),
        "deliveries": [
            {
                "step": d.step,
                "listener": d.listener,
                "kind": d.kind,
                "text": d.text,
                "ident": d.ident,
            }
            for d in deliveries(trace)
        ],
    }


def _finding_html(trace: Trace) -> str:
    prop = trace.property_id
    if prop is None:
        return ""
    finding = str(trace.meta.get("finding", "finding"))
    cls = "witness" if finding == "witness" else "violated"
    return (
        f'<div id="finding" class="{cls}"><b>{html.escape(prop)}: {html.escape(finding)} '
        f"at step {html.escape(str(trace.meta.get('step', '?')))}</b><br>"
        f"{html.escape(str(trace.meta.get('statement', '')))}</div>"
    )


def render_page(trace: Trace, title: str | None = None) -> str:
    """The complete HTML document for one trace."""
    config = trace.config
    name = title or trace.property_id or "trace"
    data = json.dumps(page_data(trace), separators=(",", ":")).replace("</", "<\\/")
    meta = ", ".join(
        f"{k} {trace.meta[k]}" for k in ("variant", "engine", "profile", "seed") if k in trace.meta
    )
    loop = "" if trace.loop is None else f"; lasso: loops back to state {trace.loop}"
    listeners = "; ".join(
        f"{lis.name} ({'/'.join(lis.groups)}, capacity {lis.capacity}"
        f"{', BROADCAST_ERROR' if lis.broadcast_error else ''}"
        f"{', NO_ENOBUFS' if lis.no_enobufs else ''})"
        for lis in config.listeners
    )
    legend = (
        '<div class="legend"><span class="p-unconfirmed">unconfirmed</span>'
        '<span class="p-hash">hash</span><span class="p-dying">dying</span>'
        '<span class="p-freed">freed</span> | listener: <span class="l-empty">empty</span>'
        '<span class="l-queued">queued</span><span class="l-congested">congested</span>'
        '<span class="l-err">sk_err</span><span class="l-closed" style="color:#fff">closed</span>'
        "</div>"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">{GENERATOR}
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<title>{html.escape(name)} - nfct-spec trace</title>
<style>{static("page.css")}</style></head>
<body data-step="0">
<header><h1>{html.escape(name)}</h1>
<div class="meta">{html.escape(meta)}; {len(trace.steps)} steps{html.escape(loop)}</div>
<div class="meta">{html.escape(config.variant)}: nf_conntrack_max {config.nf_conntrack_max},
{config.flows} flows, {config.slots} memory slots,
events_retry_timeout {config.events_retry_timeout};
listeners {html.escape(listeners)}</div></header>
{_finding_html(trace)}
<div id="nav"><button id="prev">&larr; prev (k)</button> <button id="next">next (j) &rarr;</button>
<b id="position"></b> <code id="action"></code> <span id="citation"></span></div>
<main><ol id="step-list"></ol><div>
<section><h2>timeline</h2><div id="timeline" class="strip"></div></section>
<section class="lanes"><h2>swim-lanes (conntracks from allocation to free, by flow and id;
listeners)</h2>{legend}
<div id="lanes"></div></section>
<section><h2>changed by this step</h2><ul id="changes"></ul></section>
<section><h2>state</h2><div id="state-panel"></div></section>
<section><h2>message sequence (netlink)</h2><div id="msc"></div></section>
</div></main>
<script type="application/json" id="trace-data">{data}</script>
<script>{static("page.js")}</script>
</body></html>
"""


def write_page(
    trace: Trace, page: Path, title: str | None = None, signature: str | None = GENERATOR
) -> Path:
    """Render one trace to `page` (parent folders are created). An existing file is replaced
    only if it holds `signature` (None: the caller owns the folder, as in an output folder)."""
    write_text(page, render_page(trace, title), "page", signature)
    return page


def write_pages(out_dir: Path, results_json_path: Path) -> Path:
    """One page per trace that results.json lists (under `out_dir/html/`), plus
    `out_dir/html/index.html` linking them; returns the index path.

    Trace paths in results.json are relative to `out_dir`. A trace listed by several engines
    is rendered once; a results file or trace that cannot be read raises InputError naming it.
    """
    doc = load_results(Path(results_json_path))
    pages_dir = Path(out_dir) / PAGES_DIR
    rows: list[str] = []
    seen: set[str] = set()
    for result in doc["results"]:
        rel = result.get("trace")
        if rel is None or rel in seen:
            continue
        seen.add(rel)
        trace = load_trace(Path(out_dir) / rel)
        variant, prop, engine = result["variant"], result["property"], result["engine"]
        stem = prop if engine == "hypothesis" else f"{prop}.{engine}"
        page = pages_dir / variant / f"{stem}.html"
        write_page(trace, page, f"{prop} ({variant}, {engine})", signature=None)
        rows.append(
            f'<tr><td>{html.escape(variant)}</td><td><a href="{html.escape(variant)}/'
            f'{html.escape(stem)}.html">{html.escape(prop)}</a> ({html.escape(engine)})</td>'
            f"<td>{html.escape(str(trace.meta.get('finding', '')))}</td>"
            f"<td>{len(trace.steps)}</td><td>{html.escape(str(result['status']))}</td>"
            f"<td>{html.escape(str(trace.meta.get('statement', '')))}</td></tr>"
        )
    index = pages_dir / "index.html"
    write_text(
        index,
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>nfct-spec findings</title><style>body{font:13px system-ui,sans-serif;"
        "margin:14px}td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}"
        "</style></head><body><h1>nfct-spec findings</h1>"
        f"<p>{len(rows)} traces.</p><table><tr><th>variant</th><th>property</th>"
        "<th>finding</th><th>steps</th><th>status</th><th>statement</th></tr>"
        + "".join(rows)
        + "</table></body></html>\n",
        "page",
        None,
    )
    return index
