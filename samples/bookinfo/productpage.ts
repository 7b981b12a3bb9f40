/** Process entry: `node dist/samples/bookinfo/productpage.js` (env HOST, PORT, HTTP_PROXY, SESSION_SECRET). */
import { createProductpageServer } from './productpage-app.js';
import { productpageConfigFromEnv } from './productpage-backends.js';
import { runSample } from '../common/sample-server.js';

await runSample('productpage', createProductpageServer(productpageConfigFromEnv()), 9080);
