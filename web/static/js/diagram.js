// Draws any Amazon States Language definition as an SVG graph and highlights the path one
// execution took, from its Step Functions-style event history. Nothing here knows about tickets
// or about the shape of notify.asl.json: states, Next/Default/Choices/Catch edges and End are
// read from the definition.
import { s, h, clear, prettyJSON, formatDate, append } from './dom.js';

export const START = '\u0000start';
export const END = '\u0000end';

const NODE_H = 50;
const RANK_GAP = 78;
const COL_GAP = 44;
const PAD = 24;
const BACK_LANE = 40;

/** graph turns a definition into nodes and edges, including virtual Start and End nodes. */
export function graph(def) {
  const nodes = new Map();
  nodes.set(START, { name: START, label: 'Start', type: 'Start', virtual: true });
  for (const [name, st] of Object.entries(def?.States || {})) {
    nodes.set(name, { name, label: name, type: st?.Type || '?', state: st || {} });
  }
  nodes.set(END, { name: END, label: 'End', type: 'End', virtual: true });
  const edges = [];
  const add = (from, to, kind, label = '') => {
    if (typeof to === 'string' && nodes.has(to)) edges.push({ from, to, kind, label, key: `${edges.length}` });
  };
  add(START, def?.StartAt, 'next');
  for (const [name, st] of Object.entries(def?.States || {})) {
    if (!st || typeof st !== 'object') continue;
    if (Array.isArray(st.Choices)) {
      st.Choices.forEach((c) => add(name, c?.Next, 'choice', choiceLabel(c)));
    }
    if (st.Default) add(name, st.Default, 'default', 'Default');
    if (st.Next) add(name, st.Next, 'next');
    if (Array.isArray(st.Catch)) {
      st.Catch.forEach((c) => add(name, c?.Next, 'catch', `Catch ${(c?.ErrorEquals || []).join(', ')}`));
    }
    if (st.End === true || st.Type === 'Succeed' || st.Type === 'Fail') add(name, END, 'end');
  }
  return { nodes, edges };
}

const CMP = /^(String|Numeric|Boolean|Timestamp)(Equals|LessThan|GreaterThan|LessThanEquals|GreaterThanEquals|Matches)(Path)?$|^Is(Null|Present|Numeric|String|Boolean|Timestamp)$/;

const OPS = { Equals: '=', LessThan: '<', GreaterThan: '>', LessThanEquals: '≤', GreaterThanEquals: '≥', Matches: '~' };

/** field is the last step of a JSONPath ("$.publish.status" → "status"), short enough for an edge. */
const field = (path) => String(path || '').replace(/^\$+\.?/, '').split('.').pop() || String(path || '$');

/** choiceLabel says a Choice rule briefly ("status = SENT"); the full rule is in the state's tooltip. */
function choiceLabel(c) {
  if (!c || typeof c !== 'object') return '';
  if (typeof c.Condition === 'string') return c.Condition;
  for (const op of ['And', 'Or']) if (Array.isArray(c[op])) return c[op].map(choiceLabel).join(op === 'And' ? ' and ' : ' or ');
  if (c.Not) return `not ${choiceLabel(c.Not)}`;
  const k = Object.keys(c).find((x) => CMP.test(x));
  if (!k) return 'Rule';
  const m = k.match(CMP);
  if (m[4]) return `${field(c.Variable)} is ${m[4].toLowerCase()}${c[k] === false ? ' (no)' : ''}`;
  const value = m[3] ? field(c[k]) : (typeof c[k] === 'string' ? c[k] : JSON.stringify(c[k]));
  return `${field(c.Variable)} ${OPS[m[2]]} ${value}`;
}

const clip = (text, n) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

/** layout ranks nodes top to bottom (longest path over forward edges) and orders each rank. */
export function layout(g) {
  const out = new Map([...g.nodes.keys()].map((k) => [k, []]));
  for (const e of g.edges) out.get(e.from).push(e);
  // Back edges (loops) are found by DFS from Start; unreachable states are walked afterwards.
  const mark = new Map();
  const order = [];
  const dfs = (n) => {
    mark.set(n, 1);
    order.push(n);
    for (const e of out.get(n)) {
      if (mark.get(e.to) === 1) e.back = true;
      else if (!mark.has(e.to)) dfs(e.to);
    }
    mark.set(n, 2);
  };
  dfs(START);
  for (const n of g.nodes.keys()) if (!mark.has(n) && n !== END) dfs(n);
  if (!mark.has(END)) order.push(END);
  const rank = new Map([...g.nodes.keys()].map((k) => [k, 0]));
  // Longest path by relaxation over forward edges in DFS order (a DAG once back edges are out).
  for (let changed = true, guard = 0; changed && guard < g.nodes.size + 2; guard += 1) {
    changed = false;
    for (const e of g.edges) {
      if (e.back || e.to === END) continue;
      if (rank.get(e.to) < rank.get(e.from) + 1) { rank.set(e.to, rank.get(e.from) + 1); changed = true; }
    }
  }
  let maxRank = 0;
  for (const [k, r] of rank) if (k !== END) maxRank = Math.max(maxRank, r);
  rank.set(END, maxRank + 1);
  const ranks = [];
  for (const n of order) {
    const r = rank.get(n);
    (ranks[r] ||= []).push(n);
  }
  // Two barycenter sweeps: put each node under the average position of its parents.
  const pos = new Map();
  const setPos = () => ranks.forEach((row) => row?.forEach((n, i) => pos.set(n, (i + 1) / (row.length + 1))));
  setPos();
  const parents = new Map([...g.nodes.keys()].map((k) => [k, []]));
  for (const e of g.edges) if (!e.back) parents.get(e.to).push(e.from);
  for (let sweep = 0; sweep < 2; sweep += 1) {
    for (let r = 1; r < ranks.length; r += 1) {
      const row = ranks[r];
      if (!row || row.length < 2) continue;
      const bary = (n) => {
        const ps = parents.get(n);
        return ps.length ? ps.reduce((a, p) => a + pos.get(p), 0) / ps.length : pos.get(n);
      };
      row.sort((a, b) => bary(a) - bary(b));
      row.forEach((n, i) => pos.set(n, (i + 1) / (row.length + 1)));
    }
  }
  const size = (n) => {
    const node = g.nodes.get(n);
    if (node.virtual) return { w: 84, h: 34 };
    return { w: Math.max(150, Math.min(230, clip(node.label, 26).length * 8 + 40)), h: NODE_H };
  };
  const rowWidth = (row) => row.reduce((a, n) => a + size(n).w, 0) + COL_GAP * (row.length - 1);
  const inner = Math.max(...ranks.filter(Boolean).map(rowWidth));
  const hasBack = g.edges.some((e) => e.back);
  const width = inner + PAD * 2 + (hasBack ? BACK_LANE * 2 : 0);
  const box = new Map();
  let y = PAD;
  ranks.forEach((row) => {
    if (!row) return;
    let x = PAD + (inner - rowWidth(row)) / 2;
    const rowH = Math.max(...row.map((n) => size(n).h));
    for (const n of row) {
      const { w, h: hh } = size(n);
      box.set(n, { x, y: y + (rowH - hh) / 2, w, h: hh });
      x += w + COL_GAP;
    }
    y += rowH + RANK_GAP;
  });
  return { box, width, height: y - RANK_GAP + PAD, innerRight: PAD + inner };
}

function details(e) {
  for (const [k, v] of Object.entries(e)) if (k.endsWith('EventDetails') && v && typeof v === 'object') return v;
  return {};
}

/**
 * analyze reads an execution's events into what each state did (visits with input, output,
 * errors and attempts) and which edges were taken.
 */
export function analyze(g, execution) {
  const events = (execution?.events || []).slice().sort((a, b) => Number(a.id) - Number(b.id));
  const states = new Map();
  const visits = [];
  const taken = [];
  let current = null;
  for (const e of events) {
    const type = String(e.type || '');
    const d = details(e);
    if (type.endsWith('StateEntered') && g.nodes.has(d.name)) {
      const v = { name: d.name, input: d.input, output: undefined, at: e.timestamp, exited: false, errors: [], attempts: 0, lastFailed: false, failed: false };
      if (current) taken.push({ from: current.name, to: v.name, caught: current.lastFailed });
      else taken.push({ from: START, to: v.name, caught: false });
      if (type === 'FailStateEntered') v.failed = true;
      visits.push(v);
      current = v;
      if (!states.has(v.name)) states.set(v.name, []);
      states.get(v.name).push(v);
    } else if (type.endsWith('StateExited') && current && d.name === current.name) {
      current.exited = true;
      current.output = d.output;
      current.exitedAt = e.timestamp;
    } else if (!current) {
      continue;
    } else if (/Scheduled$/.test(type) && !type.startsWith('Execution')) {
      current.attempts += 1;
    } else if (/(Failed|TimedOut|ScheduleFailed|StartFailed|SubmitFailed)$/.test(type) && !type.startsWith('Execution') && !type.endsWith('StateEntered')) {
      current.errors.push({ type, error: d.error || '', cause: d.cause || '', at: e.timestamp });
      current.lastFailed = true;
    } else if (/Succeeded$/.test(type) && !type.startsWith('Execution')) {
      current.lastFailed = false;
    } else if (/^Execution(Failed|TimedOut|Aborted)$/.test(type) && !current.exited) {
      current.failed = true;
      current.errors.push({ type, error: d.error || '', cause: d.cause || '', at: e.timestamp });
    }
  }
  const status = execution?.status || '';
  if (current && (status === 'SUCCEEDED' || status === 'FAILED') && g.edges.some((e) => e.from === current.name && e.to === END)) {
    taken.push({ from: current.name, to: END, caught: false });
  }
  for (const v of visits) if (v.lastFailed) v.failed = true;
  return { states, visits, taken, status, running: status === 'RUNNING', current };
}

function pickEdge(g, t) {
  const all = g.edges.filter((e) => e.from === t.from && e.to === t.to);
  if (!all.length) return null;
  return (t.caught ? all.find((e) => e.kind === 'catch') : all.find((e) => e.kind !== 'catch')) || all[0];
}

function nodeState(node, runs, a) {
  if (node.name === START) return a && a.visits.length ? 'visited' : '';
  if (node.name === END) return a && a.taken.some((t) => t.to === END) ? (a.status === 'FAILED' ? 'failed' : 'visited') : '';
  if (!runs || !runs.length) return '';
  if (runs.some((v) => v.failed)) return 'failed';
  if (a.running && runs.some((v) => !v.exited)) return 'running';
  return 'visited';
}

/** typeLine is the second line of a state's box: its type, attempts, and whether it failed. */
function typeLine(node, attempts, st) {
  return `${node.type}${attempts > 1 ? ` · ${attempts} attempts` : ''}${st === 'failed' ? ' · failed' : ''}`;
}

const STATE_WORDS = { visited: 'taken', failed: 'failed', running: 'running now', '': 'not taken' };

/**
 * drawWorkflow returns {element, select(name)} showing def; with execution, the taken path is
 * highlighted and clicking a state shows its input and output in the panel under the drawing.
 */
export function drawWorkflow(def, execution, { idPrefix = 'wf' } = {}) {
  const g = graph(def);
  const L = layout(g);
  const a = execution ? analyze(g, execution) : null;
  const takenEdges = new Set();
  if (a) for (const t of a.taken) { const e = pickEdge(g, t); if (e) takenEdges.add(e); }
  const failedPath = a && a.status === 'FAILED';

  const markers = ['plain', 'taken', 'failed'].map((k) => s('marker', {
    id: `${idPrefix}-arrow-${k}`, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 11, markerHeight: 11, markerUnits: 'userSpaceOnUse', orient: 'auto-start-reverse',
  }, s('path', { d: 'M0,0 L10,5 L0,10 z', class: `arrow arrow-${k}` })));

  // Spread the ends of several edges along a node's side so they do not overlap.
  const outs = new Map();
  const ins = new Map();
  for (const e of g.edges) {
    if (e.back) continue;
    (outs.get(e.from) || outs.set(e.from, []).get(e.from)).push(e);
    (ins.get(e.to) || ins.set(e.to, []).get(e.to)).push(e);
  }
  const cx = (n) => L.box.get(n).x + L.box.get(n).w / 2;
  for (const list of outs.values()) list.sort((p, q) => cx(p.to) - cx(q.to));
  for (const list of ins.values()) list.sort((p, q) => cx(p.from) - cx(q.from));
  const slot = (list, e, b) => {
    const i = list.indexOf(e);
    return b.x + (b.w * (i + 1)) / (list.length + 1);
  };

  const edgeEls = [];
  const labelEls = [];
  let backIndex = 0;
  for (const e of g.edges) {
    const sb = L.box.get(e.from);
    const tb = L.box.get(e.to);
    let d;
    let mid;
    if (e.back || tb.y <= sb.y) {
      backIndex += 1;
      const lane = L.innerRight + 12 + backIndex * 10;
      const y1 = sb.y + sb.h / 2;
      const y2 = tb.y + tb.h / 2;
      d = `M${sb.x + sb.w},${y1} C${lane},${y1} ${lane},${y2} ${tb.x + tb.w},${y2}`;
      mid = { x: lane - 4, y: (y1 + y2) / 2 };
    } else {
      const x1 = slot(outs.get(e.from), e, sb);
      const y1 = sb.y + sb.h;
      const x2 = slot(ins.get(e.to), e, tb);
      const y2 = tb.y;
      // An edge that skips ranks would cut through the nodes in between: route it beside them.
      const blockers = [...L.box.entries()].filter(([n, b]) => n !== e.from && n !== e.to
        && b.y > y1 && b.y + b.h < y2 && b.x < Math.max(x1, x2) + 12 && b.x + b.w > Math.min(x1, x2) - 12).map(([, b]) => b);
      if (blockers.length) {
        const left = Math.min(...blockers.map((b) => b.x)) - 18;
        const right = Math.max(...blockers.map((b) => b.x + b.w)) + 18;
        const lane = Math.abs(left - (x1 + x2) / 2) <= Math.abs(right - (x1 + x2) / 2) ? left : right;
        const top = Math.min(...blockers.map((b) => b.y));
        const bottom = Math.max(...blockers.map((b) => b.y + b.h));
        d = `M${x1},${y1} C${x1},${top} ${lane},${y1 + 8} ${lane},${top} L${lane},${bottom} C${lane},${y2 - 8} ${x2},${bottom} ${x2},${y2}`;
        mid = { x: lane, y: (top + bottom) / 2 };
      } else {
        const bend = Math.max(24, (y2 - y1) / 2);
        d = `M${x1},${y1} C${x1},${y1 + bend} ${x2},${y2 - bend} ${x2},${y2}`;
        mid = { x: (x1 + x2) / 2, y: (y1 + y2) / 2 };
      }
    }
    const isTaken = takenEdges.has(e);
    const kind = isTaken ? (e.kind === 'catch' || (failedPath && e.to === END) ? 'failed' : 'taken') : 'plain';
    const cls = ['edge', `edge-${e.kind}`, isTaken ? 'is-taken' : '', isTaken && kind === 'failed' ? 'is-failed' : '', a && !isTaken ? 'is-dim' : ''].filter(Boolean).join(' ');
    edgeEls.push(s('path', {
      d, class: cls, 'marker-end': `url(#${idPrefix}-arrow-${kind})`,
      dataset: { from: g.nodes.get(e.from).label, to: g.nodes.get(e.to).label, kind: e.kind },
    }, s('title', {}, `${g.nodes.get(e.from).label} → ${g.nodes.get(e.to).label}${e.label ? ` (${e.label})` : ''}${isTaken ? ', taken' : ''}`)));
    if (e.label) {
      const text = clip(e.label, 30);
      const w = text.length * 6.1 + 10;
      labelEls.push(s('g', { class: `edge-label ${isTaken ? 'is-taken' : ''} ${a && !isTaken ? 'is-dim' : ''}`, transform: `translate(${mid.x - w / 2},${mid.y - 9})` },
        s('rect', { width: w, height: 18, rx: 4 }),
        s('text', { x: w / 2, y: 13, 'text-anchor': 'middle' }, text)));
    }
  }

  const panel = h('div', { class: 'state-panel', id: `${idPrefix}-panel`, 'aria-live': 'polite' },
    h('p', { class: 'muted' }, a ? 'Select a state in the diagram to see its input and output.' : ''));
  const nodeEls = new Map();
  let selected = null;

  function select(name) {
    if (!a || !g.nodes.has(name) || g.nodes.get(name).virtual) return;
    if (selected) nodeEls.get(selected)?.classList.remove('is-selected');
    selected = name;
    nodeEls.get(name)?.classList.add('is-selected');
    for (const [n, el] of nodeEls) el.setAttribute('aria-pressed', n === name ? 'true' : 'false');
    showState(panel, g.nodes.get(name), a.states.get(name) || []);
  }

  for (const [name, node] of g.nodes) {
    const b = L.box.get(name);
    const runs = a?.states.get(name);
    const st = a ? nodeState(node, runs, a) : '';
    const attempts = runs?.reduce((n, v) => n + v.attempts, 0) || 0;
    const cls = ['node', node.virtual ? 'node-terminal' : 'state', `type-${String(node.type).toLowerCase()}`,
      st ? `is-${st}` : '', a && !st ? 'is-dim' : ''].filter(Boolean).join(' ');
    const label = clip(node.label, 26);
    const children = node.virtual
      ? [s('rect', { width: b.w, height: b.h, rx: b.h / 2 }), s('text', { x: b.w / 2, y: b.h / 2 + 5, 'text-anchor': 'middle', class: 'node-name' }, label)]
      : [
        s('rect', { width: b.w, height: b.h, rx: 8 }),
        // One text with two lines, a space between them: read as "Publish Task", the start of
        // the node's accessible name.
        s('text', { 'text-anchor': 'middle' },
          s('tspan', { x: b.w / 2, y: 21, class: 'node-name' }, label), ' ',
          s('tspan', { x: b.w / 2, y: 38, class: 'node-type' }, typeLine(node, attempts, st))),
      ];
    const gEl = s('g', {
      class: cls,
      transform: `translate(${b.x},${b.y})`,
      dataset: { state: node.virtual ? '' : name, status: st || 'none' },
    }, a ? null : s('title', {}, node.virtual ? node.label : `${name} (${node.type})`), children);
    if (!node.virtual) {
      nodeEls.set(name, gEl);
      if (a) {
        gEl.setAttribute('tabindex', '0');
        gEl.setAttribute('role', 'button');
        gEl.setAttribute('aria-pressed', 'false');
        // The name starts with the text the node shows (WCAG 2.5.3, label in name), so a
        // speech user can say what they see.
        gEl.setAttribute('aria-label', `${label} ${typeLine(node, attempts, st)}: ${STATE_WORDS[st]}. Show input and output.`);
        gEl.addEventListener('click', () => select(name));
        gEl.addEventListener('keydown', (ev) => {
          if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); select(name); }
        });
      }
    }
  }

  const svg = s('svg', {
    class: 'workflow-svg', viewBox: `0 0 ${L.width} ${L.height}`, width: L.width, height: L.height,
    role: 'group', 'aria-label': a ? 'Workflow diagram with the path this execution took highlighted' : 'Workflow diagram',
  }, s('defs', {}, markers), edgeEls, labelEls, [...g.nodes.keys()].map((n) => (nodeEls.get(n) || null)),
  // Start and End are drawn too, but are not interactive.
  [...g.nodes.values()].filter((n) => n.virtual).map((n) => {
    const b = L.box.get(n.name);
    const st = a ? nodeState(n, null, a) : '';
    return s('g', { class: `node node-terminal ${st ? `is-${st}` : ''} ${a && !st ? 'is-dim' : ''}`, transform: `translate(${b.x},${b.y})` },
      s('rect', { width: b.w, height: b.h, rx: b.h / 2 }),
      s('text', { x: b.w / 2, y: b.h / 2 + 5, 'text-anchor': 'middle', class: 'node-name' }, n.label));
  }));

  const pathText = a ? a.taken.map((t) => g.nodes.get(t.to).label) : [];
  const legend = h('ul', { class: 'legend', 'aria-hidden': 'true' },
    h('li', {}, h('span', { class: 'swatch swatch-taken' }), 'Path taken'),
    h('li', {}, h('span', { class: 'swatch swatch-failed' }), 'Failed or caught'),
    h('li', {}, h('span', { class: 'swatch swatch-dim' }), 'Not taken'));
  const element = h('div', { class: 'workflow' },
    a ? legend : null,
    // Wide diagrams scroll sideways on small screens: the region takes focus so the keyboard
    // can scroll it too.
    h('div', { class: 'workflow-scroll', tabindex: '0', role: 'region', 'aria-label': 'Workflow diagram (scrolls sideways when wider than the screen)' }, svg),
    a ? h('p', { class: 'path-text', id: `${idPrefix}-path` }, h('strong', {}, 'Path taken: '),
      ['Start', ...pathText].join(' → ') || 'none yet') : null,
    a ? panel : null);
  return { element, select, analysis: a };
}

function showState(panel, node, runs) {
  clear(panel);
  append(panel, h('h3', { class: 'state-title' }, `${node.name} `, h('span', { class: 'muted' }, `(${node.type})`)));
  if (node.state?.Comment) append(panel, h('p', { class: 'muted' }, node.state.Comment));
  if (!runs.length) {
    append(panel, h('p', {}, 'This execution did not enter this state.'));
    return;
  }
  runs.forEach((v, i) => {
    const block = h('div', { class: 'state-visit' },
      runs.length > 1 ? h('h4', {}, `Visit ${i + 1}`) : null,
      h('p', { class: 'muted small' }, `Entered ${formatDate(v.at)}${v.exitedAt ? `, left ${formatDate(v.exitedAt)}` : ''}${v.attempts ? ` · ${v.attempts} ${v.attempts === 1 ? 'attempt' : 'attempts'}` : ''}`),
      v.errors.length ? h('div', { class: 'state-errors' }, h('h4', {}, 'Errors'),
        h('ul', {}, v.errors.map((e) => h('li', {}, h('code', {}, e.error || e.type), e.cause ? ` — ${e.cause}` : '')))) : null,
      h('div', { class: 'io' },
        h('div', {}, h('h4', {}, 'Input'), h('pre', { class: 'json state-input', tabindex: '0', 'aria-label': `Input of ${node.name}` }, prettyJSON(v.input) || '—')),
        h('div', {}, h('h4', {}, 'Output'), h('pre', { class: 'json state-output', tabindex: '0', 'aria-label': `Output of ${node.name}` }, v.exited ? (prettyJSON(v.output) || '—') : 'No output (the state did not finish).'))));
    append(panel, block);
  });
}
