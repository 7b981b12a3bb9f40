/** Process entry: `node dist/samples/httpbin/httpbin.js` (env HOST, PORT default 8080). */
import { createHttpbinServer } from './httpbin-app.js';
import { runSample } from '../common/sample-server.js';

await runSample('httpbin', createHttpbinServer(), 8080);
