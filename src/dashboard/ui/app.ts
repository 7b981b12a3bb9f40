/** The dashboard's entry: a hash router over the pages (#/graph, #/services, ...). */
import { leaveGraph, showGraph } from './page-graph.js';
import { showConfig, showProxies, showServices, showWorkloads } from './page-lists.js';
import { showTrace, showTraces } from './page-traces.js';

function route(): void {
  const main = document.getElementById('page')!;
  const [, page = 'graph', arg] = location.hash.replace(/^#/, '').split('/');
  document.querySelectorAll('header nav a').forEach((a) => a.classList.toggle('active', a.getAttribute('data-page') === page));
  leaveGraph();
  switch (page) {
    case 'services': void showServices(main); break;
    case 'workloads': void showWorkloads(main); break;
    case 'config': void showConfig(main); break;
    case 'traces': void (arg ? showTrace(main, decodeURIComponent(arg)) : showTraces(main)); break;
    case 'proxies': void showProxies(main, arg ? decodeURIComponent(arg) : undefined); break;
    default: showGraph(main);
  }
}

window.addEventListener('hashchange', route);
route();
