/**
 * A tiny app for `clew run` tests: answers with its environment on $HOST:$PORT. With
 * FAKE_APP_EXIT_CODE it exits with that code after FAKE_APP_EXIT_AFTER_MS.
 */
import { createServer } from 'node:http';

const keys = ['HOST', 'PORT', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'POD_NAME', 'POD_NAMESPACE'];
createServer((req, res) => {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => keys.includes(k) || k.startsWith('PORT_')));
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ pid: process.pid, env }));
}).listen(Number(process.env.PORT), process.env.HOST, () => console.log(`app listening on ${process.env.HOST}:${process.env.PORT}`));
if (process.env.FAKE_APP_EXIT_CODE) {
  setTimeout(() => process.exit(Number(process.env.FAKE_APP_EXIT_CODE)), Number(process.env.FAKE_APP_EXIT_AFTER_MS ?? 300));
}
process.on('SIGTERM', () => {
  console.log('app: SIGTERM');
  process.exit(0);
});
