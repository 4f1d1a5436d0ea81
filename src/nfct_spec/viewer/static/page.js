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
