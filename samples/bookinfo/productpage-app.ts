/** Bookinfo `productpage`: the HTML front end and the /api/v1/products API. */
import http from 'node:http';
import { safeHandler, sendJson, sendText } from '../common/sample-server.js';
import { forwardedHeaders } from '../common/sample-headers.js';
import { getDetails, getRatings, getReviews, type ProductpageConfig } from './productpage-backends.js';
import { PRODUCTS, productpageCss, renderIndex, renderProductpage } from './productpage-html.js';
import { SESSION_COOKIE, encodeSession, sessionUser } from './productpage-session.js';

const MAX_FORM_BYTES = 64 * 1024;

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_FORM_BYTES) {
        reject(new Error('form too large'));
        req.destroy();
      } else {
        chunks.push(c);
      }
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Redirect target after login/logout: the referring page's path, else /productpage. */
function backTo(req: http.IncomingMessage): string {
  const ref = req.headers.referer;
  if (ref) {
    try {
      const u = new URL(ref, 'http://x');
      if (u.pathname.startsWith('/')) return `${u.pathname}${u.search}`;
    } catch {
      // fall through to the default
    }
  }
  return '/productpage';
}

function redirect(res: http.ServerResponse, location: string, cookie?: string): void {
  const headers: http.OutgoingHttpHeaders = { location, 'content-length': 0 };
  if (cookie) headers['set-cookie'] = cookie;
  res.writeHead(302, headers);
  res.end();
}

/** Headers sent to details/reviews/ratings: trace and identity headers, plus end-user. */
function outboundHeaders(req: http.IncomingMessage, user: string | undefined): Record<string, string> {
  const headers = forwardedHeaders(req.headers, true);
  // The session user wins; an incoming end-user passes through otherwise (handy for load tests).
  if (user) headers['end-user'] = user;
  return headers;
}

export function createProductpageServer(cfg: ProductpageConfig): http.Server {
  return http.createServer(safeHandler(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const user = sessionUser(req.headers.cookie, cfg.sessionSecret);

    if (path === '/health') return sendText(res, 200, 'Product page is healthy');
    if (path === '/' || path === '/index.html') return sendText(res, 200, renderIndex(), 'text/html; charset=utf-8');
    if (path.startsWith('/static/')) {
      if (path === '/static/bookinfo.css') return sendText(res, 200, productpageCss(), 'text/css; charset=utf-8');
      return sendText(res, 404, 'not found\n');
    }
    if (path === '/login') {
      if (method !== 'POST') return sendText(res, 405, 'method not allowed\n');
      const form = new URLSearchParams(await readBody(req));
      const name = (form.get('username') ?? '').trim();
      if (!name) return redirect(res, backTo(req));
      return redirect(res, backTo(req), `${SESSION_COOKIE}=${encodeSession(name, cfg.sessionSecret)}; Path=/; HttpOnly; SameSite=Lax`);
    }
    if (path === '/logout') {
      return redirect(res, backTo(req), `${SESSION_COOKIE}=; Path=/; HttpOnly; Max-Age=0`);
    }
    if (path === '/productpage') {
      const product = PRODUCTS[0];
      const headers = outboundHeaders(req, user);
      const id = String(product.id);
      const [details, reviews] = await Promise.all([getDetails(cfg, id, headers), getReviews(cfg, id, headers)]);
      return sendText(res, 200, renderProductpage(product, details.body, reviews.body, user), 'text/html; charset=utf-8');
    }
    if (path === '/api/v1/products') return sendJson(res, 200, PRODUCTS);
    const m = /^\/api\/v1\/products\/([^/]+)(?:\/(reviews|ratings))?$/.exec(path);
    if (m) {
      const id = decodeURIComponent(m[1]);
      const headers = outboundHeaders(req, user);
      const r = m[2] === 'reviews' ? await getReviews(cfg, id, headers)
        : m[2] === 'ratings' ? await getRatings(cfg, id, headers)
          : await getDetails(cfg, id, headers);
      return sendJson(res, r.status, r.body);
    }
    sendText(res, 404, 'not found\n');
  }));
}
