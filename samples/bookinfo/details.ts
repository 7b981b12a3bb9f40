/** Process entry: `node dist/samples/bookinfo/details.js` (env HOST, PORT). */
import { createDetailsServer } from './details-app.js';
import { runSample } from '../common/sample-server.js';

await runSample('details', createDetailsServer(), 9080);
