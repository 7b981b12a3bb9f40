/** A small httpbin: the endpoints Istio's circuit-breaking and fault tasks use. */
import http from 'node:http';
import { safeHandler, sendJson, sendText } from '../common/sample-server.js';

const MAX_DELAY_S = 10;

/** httpbin shows header names in Title-Case. */
function titleCase(name: string): string {
  return name.split('-').map((p) => (p ? p[0].toUpperCase() + p.slice(1) : p)).join('-');
}

function headersOf(req: http.IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = titleCase(req.rawHeaders[i].toLowerCase());
    const value = req.rawHeaders[i + 1];
    out[name] = out[name] === undefined ? value : `${out[name]},${value}`;
  }
  return out;
}

function originOf(req: http.IncomingMessage): string {
  const xff = req.headers['x-forwarded-for'];
  const first = (Array.isArray(xff) ? xff[0] : xff)?.split(',')[0]?.trim();
  return first || (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
}

function argsOf(url: URL): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of url.searchParams) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

function getBody(req: http.IncomingMessage, url: URL): Record<string, unknown> {
  return {
    args: argsOf(url),
    headers: headersOf(req),
    origin: originOf(req),
    url: `http://${req.headers.host ?? 'httpbin'}${url.pathname}${url.search}`,
  };
}

const INDEX = `<!DOCTYPE html><html><head><title>httpbin (clew sample)</title></head><body>
<h1>httpbin</h1><ul>
<li><a href="/get">/get</a> the request's args, headers, origin and url</li>
<li><a href="/headers">/headers</a> the request's headers</li>
<li><a href="/ip">/ip</a> the caller's address</li>
<li><a href="/status/418">/status/:code</a> answers with that status (a comma list picks one at random)</li>
<li><a href="/delay/1">/delay/:seconds</a> answers after a delay (at most ${MAX_DELAY_S} s)</li>
</ul></body></html>
`;

export function createHttpbinServer(): http.Server {
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer(safeHandler(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    if (path === '/' ) return sendText(res, 200, INDEX, 'text/html; charset=utf-8');
    if (path === '/health') return sendJson(res, 200, { status: 'httpbin is healthy' });
    if (path === '/get') return sendJson(res, 200, getBody(req, url));
    if (path === '/headers') return sendJson(res, 200, { headers: headersOf(req) });
    if (path === '/ip') return sendJson(res, 200, { origin: originOf(req) });
    let m = /^\/status\/([0-9,]+)$/.exec(path);
    if (m) {
      const codes = m[1].split(',').filter(Boolean).map(Number);
      const code = codes[Math.floor(Math.random() * codes.length)];
      if (!Number.isInteger(code) || code < 100 || code > 599) return sendText(res, 400, 'Invalid status code\n');
      res.writeHead(code, { 'content-length': 0 });
      return void res.end();
    }
    m = /^\/delay\/([0-9.]+)$/.exec(path);
    if (m) {
      const seconds = Math.min(Number(m[1]), MAX_DELAY_S);
      if (!Number.isFinite(seconds)) return sendText(res, 400, 'Invalid delay\n');
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => { timers.delete(t); resolve(); }, seconds * 1000);
        timers.add(t);
        res.on('close', () => { clearTimeout(t); timers.delete(t); resolve(); });
      });
      if (res.destroyed) return;
      return sendJson(res, 200, getBody(req, url));
    }
    sendText(res, 404, 'not found\n');
  }));
  server.on('close', () => { for (const t of timers) clearTimeout(t); });
  return server;
}
