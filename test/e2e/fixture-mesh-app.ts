/**
 * The app of the `clew run` end-to-end test: listens on $HOST:$PORT (given by `clew run`) and
 *   GET /hello        -> {name, uid, headers} (what reached the app)
 *   GET /call/<svc>   -> calls http://<svc>:8080/hello by service name through $HTTP_PROXY (its
 *                        sidecar) with undici's EnvHttpProxyAgent, answers {from, status, reply}
 */
import { createServer } from 'node:http';
import { EnvHttpProxyAgent, request } from 'undici';

const name = process.env.POD_NAME ?? '?';
const dispatcher = new EnvHttpProxyAgent();

const server = createServer((req, res) => {
  const send = (status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const call = /^\/call\/([a-z0-9-]+)$/.exec(req.url ?? '');
  if (!call) return send(200, { name, uid: process.getuid?.(), headers: req.headers });
  request(`http://${call[1]}:8080/hello`, { dispatcher, headersTimeout: 5000, bodyTimeout: 5000 })
    .then(async (r) => send(200, { from: name, status: r.statusCode, reply: JSON.parse(await r.body.text()) }))
    .catch((err: Error) => send(502, { from: name, error: err.message }));
});
server.listen(Number(process.env.PORT), process.env.HOST, () => console.log(`app ${name} listening on ${process.env.HOST}:${process.env.PORT}`));
process.on('SIGTERM', () => {
  server.close();
  void dispatcher.close();
  process.exit(0);
});
