/** Bookinfo `details`: book facts for a product id. */
import http from 'node:http';
import { safeHandler, sendJson } from '../common/sample-server.js';

export function bookDetails(id: number): Record<string, unknown> {
  return {
    id,
    author: 'William Shakespeare',
    year: 1595,
    type: 'paperback',
    pages: 200,
    publisher: 'PublisherA',
    language: 'English',
    'ISBN-10': '1234567890',
    'ISBN-13': '123-1234567890',
  };
}

export function createDetailsServer(): http.Server {
  return http.createServer(safeHandler((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/health') return sendJson(res, 200, { status: 'Details is healthy' });
    const m = /^\/details\/([^/]*)$/.exec(path);
    if (m) {
      const raw = decodeURIComponent(m[1]);
      if (!/^[+-]?\d+$/.test(raw)) return sendJson(res, 400, { error: 'please provide numeric product ID' });
      return sendJson(res, 200, bookDetails(Number(raw)));
    }
    sendJson(res, 404, { error: 'not found' });
  }));
}
