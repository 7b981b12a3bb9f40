/** Real HTTP servers on 127.0.0.1 for the load tests, closed after the file's tests. */
import { after } from 'node:test';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const servers: http.Server[] = [];
after(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

export async function serve(handler: http.RequestListener): Promise<number> {
  const s = http.createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as AddressInfo).port;
}
