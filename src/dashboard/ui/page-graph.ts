/**
 * The traffic graph: Cytoscape.js over GET /api/graph. Workloads (circles) inside their app's
 * box, services (triangles), edges coloured by health and labelled with rate, error share and a
 * padlock when on mTLS; a time window, live refresh, and details of what is clicked. The same
 * edges are listed in a table under the graph.
 */
import cytoscape from 'cytoscape';
import type { GraphEdge, GraphNode, GraphResponse } from '../../api/api-types.js';
import { api, bytes, el, healthDot, ms, percent, rate, setStatus, table } from './ui-util.js';

const COLORS: Record<string, string> = { healthy: '#3e8635', degraded: '#f0ab00', failure: '#c9190b', idle: '#8a8d90' };
const LOCK = '\u{1F512}';

interface GraphState {
  cy: cytoscape.Core;
  timer?: number;
  last?: GraphResponse;
  selected?: string;
  elementKeys: string;
}

declare global {
  interface Window {
    /** the live graph, for debugging from the browser console */
    clewGraph?: { cy: cytoscape.Core; last?: GraphResponse };
  }
}

let state: GraphState | undefined;

export function edgeLabel(e: GraphEdge): string {
  const lock = e.mtls > 0 ? `${LOCK} ` : '';
  if (e.protocol === 'tcp') return `${lock}${e.tcpBytesRate ? bytes(e.tcpBytesRate) : `${rate(e.rate)} conn/s`}`;
  return `${lock}${rate(e.rate)} rps${e.errorRate > 0 ? ` ${percent(e.errorRate)} err` : ''}`;
}

function nodeLabel(n: GraphNode): string {
  if (n.kind === 'workload') return n.version ? `${n.name}\n${n.version}` : n.name;
  return n.name;
}

function elements(g: GraphResponse): cytoscape.ElementDefinition[] {
  const els: cytoscape.ElementDefinition[] = [];
  for (const n of g.nodes) {
    els.push({ data: { id: n.id, parent: n.parent, label: nodeLabel(n), kind: n.kind, health: n.health, color: COLORS[n.health] } });
  }
  for (const e of g.edges) {
    els.push({ data: { id: e.id, source: e.source, target: e.target, label: edgeLabel(e), health: e.health, color: COLORS[e.health], width: Math.min(8, 1 + Math.log10(1 + e.rate * 10)) } });
  }
  return els;
}

function style(): cytoscape.StylesheetJson {
  return [
    { selector: 'node', style: { label: 'data(label)', 'text-wrap': 'wrap', 'font-size': 10, 'text-valign': 'bottom', 'text-margin-y': 4, 'background-color': '#fff', 'border-width': 3, 'border-color': 'data(color)', width: 26, height: 26 } },
    { selector: 'node[kind="service"]', style: { shape: 'triangle' } },
    { selector: 'node[kind="unknown"]', style: { shape: 'diamond' } },
    { selector: 'node[kind="app"]', style: { shape: 'round-rectangle', 'background-color': '#f3f8fd', 'border-style': 'dashed', 'border-width': 1, 'text-valign': 'top', 'font-size': 11, padding: '12px' } },
    { selector: 'edge', style: { 'curve-style': 'bezier', 'target-arrow-shape': 'triangle', 'line-color': 'data(color)', 'target-arrow-color': 'data(color)', width: 'data(width)', label: 'data(label)', 'font-size': 9, 'text-background-color': '#fff', 'text-background-opacity': 0.85, 'text-background-padding': '1px', 'text-rotation': 'autorotate' } },
    { selector: ':selected', style: { 'overlay-color': '#0066cc', 'overlay-opacity': 0.15 } },
  ];
}

function details(g: GraphResponse, id: string | undefined): HTMLElement {
  const box = el('div', { id: 'details-body' });
  if (!id) {
    box.append(el('p', { class: 'muted' }, 'Click a node or an edge for its details.'));
    return box;
  }
  const node = g.nodes.find((n) => n.id === id);
  const edge = g.edges.find((e) => e.id === id);
  const row = (k: string, v: string | Node): HTMLTableRowElement => el('tr', {}, el('th', {}, k), el('td', {}, v));
  if (node) {
    const ins = g.edges.filter((e) => e.target === id);
    const outs = g.edges.filter((e) => e.source === id);
    box.append(
      el('h3', {}, healthDot(node.health), `${node.kind} ${node.name}`),
      table([], [
        row('namespace', node.namespace || '-'), row('app', node.app ?? '-'), row('version', node.version ?? '-'),
        ...(node.kind === 'workload' ? [row('sidecar', node.sidecar ? 'yes' : 'no')] : []),
        row('inbound', `${rate(node.inRate)} rps`), row('outbound', `${rate(node.outRate)} rps`),
        row('errors', percent(node.errorRate)), row('health', node.health),
      ]),
      el('h3', {}, 'Inbound'), ...ins.map((e) => el('div', {}, `${e.source} → ${edgeLabel(e)}`)),
      el('h3', {}, 'Outbound'), ...outs.map((e) => el('div', {}, `→ ${e.target} ${edgeLabel(e)}`)),
    );
  } else if (edge) {
    box.append(
      el('h3', {}, healthDot(edge.health), 'Edge'),
      table([], [
        row('from', edge.source), row('to', edge.target), row('protocol', edge.protocol),
        row(edge.protocol === 'tcp' ? 'connections/s' : 'requests/s', rate(edge.rate)),
        row('errors', percent(edge.errorRate)), row('p50', ms(edge.p50)), row('p99', ms(edge.p99)),
        row('mTLS', edge.mtls > 0 ? `${LOCK} ${percent(edge.mtls)}` : 'no'),
        ...(edge.tcpBytesRate ? [row('bytes', bytes(edge.tcpBytesRate))] : []),
        row('codes', Object.entries(edge.codes).map(([c, r]) => `${c}: ${rate(r)}/s`).join(', ') || '-'),
        row('flags', Object.entries(edge.flags).map(([c, r]) => `${c}: ${rate(r)}/s`).join(', ') || '-'),
      ]),
    );
  }
  return box;
}

function edgeTable(g: GraphResponse): HTMLTableElement {
  const rows = [...g.edges].sort((a, b) => a.id.localeCompare(b.id)).map((e) => {
    const tr = el('tr', { class: 'clickable', 'data-edge': e.id, 'data-source': e.source, 'data-target': e.target, 'data-rate': String(e.rate), 'data-error-rate': String(e.errorRate), 'data-health': e.health },
      el('td', {}, healthDot(e.health), e.source), el('td', {}, e.target), el('td', {}, e.protocol),
      el('td', {}, rate(e.rate)), el('td', {}, percent(e.errorRate)), el('td', {}, ms(e.p50)), el('td', {}, ms(e.p99)),
      el('td', {}, e.mtls > 0 ? LOCK : ''));
    tr.addEventListener('click', () => select(e.id));
    return tr;
  });
  return table(['From', 'To', 'Protocol', 'Rate/s', 'Errors', 'p50', 'p99', 'mTLS'], rows, { id: 'edges' });
}

function select(id: string | undefined): void {
  if (!state) return;
  state.selected = id;
  state.cy.$(':selected').unselect();
  if (id) state.cy.getElementById(id).select();
  const d = document.getElementById('details');
  if (d && state.last) d.replaceChildren(details(state.last, id));
}

/**
 * The force-directed layout (cose) reads best for the graphs people look at (Bookinfo's 20-odd
 * nodes), but costs O(nodes^2) per iteration: 670 nodes (200 services) take tens of seconds in
 * Chromium. Past LARGE_GRAPH nodes the graph is laid out in layers from the callers that nobody
 * calls (breadthfirst: linear in nodes and edges), which is also how a request tree reads.
 */
const LARGE_GRAPH = 150;

function layoutFor(nodes: number): cytoscape.LayoutOptions {
  if (nodes <= LARGE_GRAPH) return { name: 'cose', animate: false, nodeDimensionsIncludeLabels: true, randomize: false, padding: 20 } as cytoscape.LayoutOptions;
  return { name: 'breadthfirst', directed: true, animate: false, spacingFactor: 1, padding: 20 } as cytoscape.LayoutOptions;
}

async function refresh(): Promise<void> {
  if (!state) return;
  const windowSel = document.getElementById('window') as HTMLSelectElement | null;
  const win = windowSel?.value ?? '1m';
  let g: GraphResponse;
  try {
    g = await api<GraphResponse>(`graph?window=${encodeURIComponent(win)}`);
  } catch (err) {
    setStatus((err as Error).message, true);
    return;
  }
  if (!state) return;
  state.last = g;
  window.clewGraph = { cy: state.cy, last: g };
  const cy = state.cy;
  const els = elements(g);
  const keys = els.map((e) => e.data.id).sort().join('|');
  cy.batch(() => {
    const ids = new Set(els.map((e) => e.data.id));
    cy.elements().filter((e) => !ids.has(e.id())).remove();
    for (const e of els) {
      const have = cy.getElementById(e.data.id!);
      if (have.nonempty()) have.data(e.data);
      else cy.add(e);
    }
  });
  if (keys !== state.elementKeys) {
    state.elementKeys = keys;
    cy.layout(layoutFor(g.nodes.length)).run();
  }
  document.getElementById('edges')?.replaceWith(edgeTable(g));
  const d = document.getElementById('details');
  if (d) d.replaceChildren(details(g, state.selected));
  const s = g.scrape;
  const updated = document.getElementById('updated');
  if (updated) {
    updated.textContent = `updated ${new Date(g.timestamp).toLocaleTimeString()} · ${g.nodes.length} nodes · ${g.edges.length} edges · source ${g.source}` +
      (s ? ` · ${s.targets} proxies scraped${s.failedTargets.length ? `, ${s.failedTargets.length} failing` : ''}${s.droppedSeries ? `, ${s.droppedSeries} series dropped` : ''}` : '');
    updated.setAttribute('data-timestamp', String(g.timestamp));
    updated.setAttribute('data-nodes', String(g.nodes.length));
    updated.setAttribute('data-edges', String(g.edges.length));
  }
  setStatus('');
}

function schedule(): void {
  if (!state) return;
  if (state.timer !== undefined) clearInterval(state.timer);
  state.timer = undefined;
  const sec = Number((document.getElementById('refresh') as HTMLSelectElement | null)?.value ?? '5');
  if (sec > 0) state.timer = window.setInterval(() => void refresh(), sec * 1000);
}

export function showGraph(main: HTMLElement): void {
  const windowSel = el('select', { id: 'window', 'aria-label': 'time window' },
    el('option', { value: '1m' }, 'Last 1m'), el('option', { value: '5m' }, 'Last 5m'), el('option', { value: '1h' }, 'Last 1h'));
  const refreshSel = el('select', { id: 'refresh', 'aria-label': 'refresh interval' },
    el('option', { value: '5' }, 'Every 5s'), el('option', { value: '10' }, 'Every 10s'), el('option', { value: '30' }, 'Every 30s'), el('option', { value: '0' }, 'Paused'));
  const now = el('button', { id: 'refresh-now', type: 'button' }, 'Refresh');
  const legend = el('span', { class: 'legend' }, ...Object.keys(COLORS).map((h) => el('span', {}, el('span', { class: `dot health-${h}` }), h)), el('span', {}, `${LOCK} mTLS`));
  main.replaceChildren(
    el('div', { class: 'toolbar' }, windowSel, refreshSel, now, el('span', { id: 'updated', class: 'muted' }), legend),
    el('div', { class: 'graph-wrap' }, el('div', { id: 'cy' }), el('aside', { id: 'details' })),
    el('h2', {}, 'Edges'),
    el('table', { id: 'edges' }),
  );
  const cy = cytoscape({ container: document.getElementById('cy'), style: style(), wheelSensitivity: 0.3, minZoom: 0.2, maxZoom: 3 });
  cy.on('tap', 'node, edge', (ev) => select(ev.target.id()));
  cy.on('tap', (ev) => {
    if (ev.target === cy) select(undefined);
  });
  state = { cy, elementKeys: '' };
  windowSel.addEventListener('change', () => void refresh());
  refreshSel.addEventListener('change', schedule);
  now.addEventListener('click', () => void refresh());
  void refresh();
  schedule();
}

export function leaveGraph(): void {
  if (!state) return;
  if (state.timer !== undefined) clearInterval(state.timer);
  state.cy.destroy();
  state = undefined;
  window.clewGraph = undefined;
}
