"""`nfct-spec trace html`: one self-contained HTML page per trace (no server, no network).

The page embeds the trace's views (see `lanes.state_view`), the per-step changes, the lanes
and the netlink deliveries as JSON, with inline CSS and JavaScript that draw: the step list
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
from pathlib import Path
from typing import Any

from nfct_spec.models.registry import BY_NAME
from nfct_spec.traces import Trace, TraceError, load_trace
from nfct_spec.viewer.lanes import ct_lanes, deliveries, diff, listener_lanes, trace_views

PAGES_DIR = "html"
_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"

_CSS = """
body{font:13px/1.4 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{padding:8px 14px;background:#263238;color:#fff}
header h1{font-size:16px;margin:0}
header .meta{opacity:.8}
#finding{margin:8px 14px;padding:8px 10px;border-left:6px solid #c62828;background:#fdecea}
#finding.witness{border-color:#2e7d32;background:#e8f5e9}
#finding.active{outline:3px solid #c62828}
#finding.witness.active{outline-color:#2e7d32}
#nav{padding:4px 14px}
#nav button{font:inherit}
main{display:grid;grid-template-columns:300px 1fr;gap:10px;padding:0 14px 14px}
#step-list{list-style:none;margin:0;padding:0;max-height:70vh;overflow:auto;border:1px solid #ccc;
 background:#fff}
#step-list li{padding:2px 6px;cursor:pointer;font-family:monospace;white-space:nowrap}
#step-list li.current{background:#1565c0;color:#fff}
#step-list li.finding{border-left:5px solid #c62828}
#step-list li.loop{box-shadow:inset -5px 0 #8e24aa}
#step-list li.env{color:#555}
#step-list li.current.env{color:#fff}
section{background:#fff;border:1px solid #ccc;margin-bottom:10px;padding:6px 8px}
section h2{font-size:13px;margin:0 0 4px}
.strip{display:flex;align-items:stretch;overflow-x:auto}
.lanes .row{display:flex;align-items:center}
.lanes .label{width:170px;flex:none;font-family:monospace;font-size:12px}
.lanes .gap{flex:none;height:14px}
.cell{flex:none;width:9px;height:14px;margin-right:1px;background:#eee;cursor:pointer}
.cell.cur{outline:2px solid #1565c0}
.t-kernel{background:#90a4ae}.t-env{background:#cfd8dc}
.t-finding{background:#c62828}.t-loop{border-bottom:3px solid #8e24aa}
.p-unconfirmed{background:#ffe082}.p-hash{background:#81c784}.p-dying{background:#e57373}
.p-freed{background:#bdbdbd}
.l-closed{background:#616161}.l-empty{background:#e3f2fd}.l-queued{background:#64b5f6}
.l-congested{background:#fb8c00}.l-err{background:#d81b60}
#state-panel table{border-collapse:collapse;font-family:monospace;font-size:12px}
#state-panel td{padding:1px 6px;border-bottom:1px solid #eee;vertical-align:top}
#state-panel td.k{color:#555}
#state-panel .changed{background:#fff176;font-weight:bold}
#changes{font-family:monospace;font-size:12px;margin:0;padding-left:16px}
#changes .before{color:#c62828}#changes .after{color:#2e7d32}
#citation{color:#555;font-style:italic}
.legend span{display:inline-block;padding:0 4px;margin-right:4px}
#msc svg text{font:11px monospace}
#msc .row.cur rect{fill:#bbdefb}
"""

_JS = r"""
(function () {
  const D = JSON.parse(document.getElementById('trace-data').textContent);
  const n = D.views.length;
  let cur = 0;
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const fmt = (v) => {
    if (v === null || v === undefined) return '(none)';
    if (Array.isArray(v)) return '[' + v.map(fmt).join(', ') + ']';
    if (typeof v === 'object') {
      return '{' + Object.keys(v).map(k => k + '=' + fmt(v[k])).join(' ') + '}';
    }
    if (v === '') return '""';
    return String(v);
  };
  const inLoop = (i) => D.loop !== null && i > D.loop;
  const list = document.getElementById('step-list');
  const items = [];
  for (let i = 0; i < n; i++) {
    const s = D.steps[i];
    const li = el('li', s.kind, i + ' ' + (i ? s.title : 'init'));
    li.dataset.index = i;
    if (i === D.finding_step) li.classList.add('finding');
    if (inLoop(i)) { li.classList.add('loop'); li.title = 'inside the loop'; }
    li.addEventListener('click', () => go(i));
    list.appendChild(li); items.push(li);
  }
  const columns = [];
  const addCell = (row, i, cls, title) => {
    const c = el('div', 'cell ' + cls);
    c.title = title;
    c.addEventListener('click', () => go(i));
    row.appendChild(c);
    (columns[i] = columns[i] || []).push(c);
  };
  const timeline = document.getElementById('timeline');
  for (let i = 0; i < n; i++) {
    let cls = i === D.finding_step ? 't-finding' : 't-' + D.steps[i].kind;
    if (inLoop(i)) cls += ' t-loop';
    addCell(timeline, i, cls, i + ' ' + (i ? D.steps[i].title : 'init'));
  }
  const lanes = document.getElementById('lanes');
  const laneRow = (label) => {
    const row = el('div', 'row');
    row.appendChild(el('div', 'label', label));
    lanes.appendChild(row);
    return row;
  };
  const gap = (row, cells) => {
    if (cells > 0) {
      const g = el('div', 'gap');
      g.style.width = (cells * 10) + 'px';
      row.appendChild(g);
    }
  };
  for (const lane of D.ct_lanes) {
    const row = laneRow(lane.label);
    row.title = lane.label;
    gap(row, lane.first);
    lane.cells.forEach((c, j) => addCell(row, lane.first + j, 'p-' + c.place,
      lane.key + ' ' + fmt(c)));
    gap(row, n - lane.first - lane.cells.length);
  }
  for (const name of Object.keys(D.listener_lanes)) {
    const row = laneRow(name);
    D.listener_lanes[name].forEach((c, i) => {
      let cls = !c.open ? 'l-closed' : c.sk_err ? 'l-err' : c.congested ? 'l-congested'
        : c.queue.length ? 'l-queued' : 'l-empty';
      addCell(row, i, cls, name + ' ' + fmt(c));
    });
  }
  const mscRows = [];
  (function msc() {
    const box = document.getElementById('msc');
    const names = ['kernel'].concat(D.listeners);
    const byStep = {};
    for (const d of D.deliveries) (byStep[d.step] = byStep[d.step] || []).push(d);
    const stepsWith = Object.keys(byStep).map(Number).sort((a, b) => a - b);
    const rows = [];
    for (const s of stepsWith) for (const d of byStep[s]) rows.push(d);
    const colW = 190, rowH = 18, top = 24, left = 60;
    const w = left + colW * names.length + 120, h = top + rowH * rows.length + 10;
    const NS = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('width', w); svg.setAttribute('height', h);
    const mk = (tag, attrs, parent, text) => {
      const e = document.createElementNS(NS, tag);
      for (const k in attrs) e.setAttribute(k, attrs[k]);
      if (text !== undefined) e.textContent = text;
      (parent || svg).appendChild(e);
      return e;
    };
    const defs = mk('defs', {});
    const m = mk('marker', {id: 'arrow', markerWidth: 8, markerHeight: 8, refX: 7, refY: 4,
      orient: 'auto'}, defs);
    mk('path', {d: 'M0,0 L8,4 L0,8 z', fill: '#333'}, m);
    const x = (name) => left + colW * names.indexOf(name) + colW / 2;
    const label = (d) => d.ident ? d.text + ' (' + d.ident + ')' : d.text;
    rows.forEach((d, r) => {
      const y = top + r * rowH;
      const g = mk('g', {'class': 'row'});
      g.dataset.step = d.step;
      mk('rect', {x: 0, y: y - 2, width: w, height: rowH, fill: 'transparent'}, g);
      mk('text', {x: 4, y: y + 11}, g, 'step ' + d.step);
      const xl = x(d.listener), xk = x('kernel');
      if (d.kind === 'queued') {
        mk('line', {x1: xk, y1: y + 8, x2: xl - 4, y2: y + 8, stroke: '#777',
          'stroke-dasharray': '4 3', 'marker-end': 'url(#arrow)'}, g);
        mk('text', {x: xk + 6, y: y + 6, fill: '#555'}, g, 'queue ' + label(d));
      } else if (d.kind === 'received' || d.kind === 'enobufs') {
        const colour = d.kind === 'received' ? '#2e7d32' : '#d81b60';
        mk('circle', {cx: xl, cy: y + 8, r: 5, fill: colour}, g);
        mk('text', {x: xl + 8, y: y + 12, fill: colour}, g, 'recv ' + label(d));
      } else {
        mk('line', {x1: xk, y1: y + 8, x2: xl - 10, y2: y + 8, stroke: '#c62828',
          'stroke-dasharray': '2 3'}, g);
        mk('text', {x: xl - 8, y: y + 12, fill: '#c62828'}, g, '\u2715 ' + label(d));
      }
      g.addEventListener('click', () => go(d.step));
      mscRows.push(g);
    });
    names.forEach((name) => {
      mk('text', {x: x(name) - name.length * 3, y: 14, 'font-weight': 'bold'}, svg, name);
      mk('line', {x1: x(name), y1: 18, x2: x(name), y2: h, stroke: '#999'}, svg);
    });
    box.appendChild(svg);
    if (!rows.length) box.appendChild(el('p', '', 'no netlink traffic in this trace'));
  })();
  const renderView = (v, path, changed) => {
    const t = el('table');
    for (const k of Object.keys(v)) {
      const p = path ? path + '.' + k : k;
      const tr = el('tr');
      tr.appendChild(el('td', 'k', k));
      const td = el('td');
      td.dataset.path = p;
      const val = v[k];
      if (val && typeof val === 'object' && !Array.isArray(val) && Object.keys(val).length) {
        td.appendChild(renderView(val, p, changed));
      } else {
        td.textContent = fmt(val);
      }
      if (changed.has(p)) td.classList.add('changed');
      tr.appendChild(td); t.appendChild(tr);
    }
    return t;
  };
  function go(i) {
    cur = Math.max(0, Math.min(n - 1, i));
    items.forEach((li, j) => li.classList.toggle('current', j === cur));
    items[cur].scrollIntoView({block: 'nearest'});
    document.querySelectorAll('.cell.cur').forEach(c => c.classList.remove('cur'));
    (columns[cur] || []).forEach(c => c.classList.add('cur'));
    mscRows.forEach(g => g.classList.toggle('cur', Number(g.dataset.step) === cur));
    const changes = D.changes[cur];
    const changed = new Set(changes.map(c => c.path));
    const panel = document.getElementById('state-panel');
    panel.replaceChildren(renderView(D.views[cur], '', changed));
    const ul = document.getElementById('changes');
    ul.replaceChildren();
    for (const c of changes) {
      const li = el('li', '', c.path + ': ');
      li.appendChild(el('span', 'before', fmt(c.before)));
      li.appendChild(document.createTextNode(' \u2192 '));
      li.appendChild(el('span', 'after', fmt(c.after)));
      ul.appendChild(li);
    }
    if (cur > 0 && !changes.length) ul.appendChild(el('li', '', '(nothing changed)'));
    const s = D.steps[cur];
    document.getElementById('position').textContent =
      'state ' + cur + ' of ' + (n - 1) + (inLoop(cur) ? ' (in the loop)' : '');
    document.getElementById('action').textContent = cur ? s.title : 'initial state';
    document.getElementById('citation').textContent = cur ? s.citation : '';
    const f = document.getElementById('finding');
    if (f) f.classList.toggle('active', cur === D.finding_step);
    document.body.dataset.step = cur;
  }
  document.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowRight' || e.key === 'j') go(cur + 1);
    else if (e.key === 'ArrowLeft' || e.key === 'k') go(cur - 1);
    else if (e.key === 'Home') go(0);
    else if (e.key === 'End') go(n - 1);
    else return;
    e.preventDefault();
  });
  document.getElementById('prev').addEventListener('click', () => go(cur - 1));
  document.getElementById('next').addEventListener('click', () => go(cur + 1));
  go(0);
})();
"""


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
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<title>{html.escape(name)} - nfct-spec trace</title>
<style>{_CSS}</style></head>
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
<script>{_JS}</script>
</body></html>
"""


def write_page(trace: Trace, page: Path, title: str | None = None) -> Path:
    """Render one trace to `page` (parent folders are created)."""
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(render_page(trace, title), encoding="utf-8")
    return page


def write_pages(out_dir: Path, results_json_path: Path) -> Path:
    """One page per trace that results.json lists (under `out_dir/html/`), plus
    `out_dir/html/index.html` linking them; returns the index path.

    Trace paths in results.json are relative to `out_dir`. A trace listed by several engines
    is rendered once; a trace that cannot be read raises TraceError naming it.
    """
    try:
        doc = json.loads(Path(results_json_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TraceError(f"{results_json_path}: cannot read results ({exc})") from None
    results = doc.get("results", []) if isinstance(doc, dict) else []
    pages_dir = Path(out_dir) / PAGES_DIR
    rows: list[str] = []
    seen: set[str] = set()
    for result in results:
        rel = result.get("trace") if isinstance(result, dict) else None
        if not isinstance(rel, str) or rel in seen:
            continue
        seen.add(rel)
        trace = load_trace(Path(out_dir) / rel)
        variant = str(result.get("variant", trace.config.variant))
        prop = str(result.get("property", trace.property_id or Path(rel).stem))
        engine = str(result.get("engine", "hypothesis"))
        stem = prop if engine == "hypothesis" else f"{prop}.{engine}"
        page = pages_dir / variant / f"{stem}.html"
        write_page(trace, page, f"{prop} ({variant}, {engine})")
        rows.append(
            f'<tr><td>{html.escape(variant)}</td><td><a href="{html.escape(variant)}/'
            f'{html.escape(stem)}.html">{html.escape(prop)}</a> ({html.escape(engine)})</td>'
            f"<td>{html.escape(str(trace.meta.get('finding', '')))}</td>"
            f"<td>{len(trace.steps)}</td><td>{html.escape(str(result.get('status', '')))}</td>"
            f"<td>{html.escape(str(trace.meta.get('statement', '')))}</td></tr>"
        )
    pages_dir.mkdir(parents=True, exist_ok=True)
    index = pages_dir / "index.html"
    index.write_text(
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>nfct-spec findings</title><style>body{font:13px system-ui,sans-serif;"
        "margin:14px}td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}"
        "</style></head><body><h1>nfct-spec findings</h1>"
        f"<p>{len(rows)} traces.</p><table><tr><th>variant</th><th>property</th>"
        "<th>finding</th><th>steps</th><th>status</th><th>statement</th></tr>"
        + "".join(rows)
        + "</table></body></html>\n",
        encoding="utf-8",
    )
    return index
