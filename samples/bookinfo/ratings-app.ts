/** Bookinfo `ratings`: the stars each reviewer gave. */
import http from 'node:http';
import { safeHandler, sendJson } from '../common/sample-server.js';

export function createRatingsServer(): http.Server {
  return http.createServer(safeHandler((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/health') return sendJson(res, 200, { status: 'Ratings is healthy' });
    const m = /^\/ratings\/([^/]*)$/.exec(path);
    if (m && req.method === 'GET') {
      const id = Number.parseInt(decodeURIComponent(m[1]), 10);
      if (Number.isNaN(id)) return sendJson(res, 400, { error: 'please provide numeric product ID' });
      return sendJson(res, 200, { id, ratings: { Reviewer1: 5, Reviewer2: 4 } });
    }
    sendJson(res, 404, { error: 'not found' });
  }));
}
