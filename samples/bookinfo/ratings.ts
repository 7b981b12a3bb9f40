/** Process entry: `node dist/samples/bookinfo/ratings.js` (env HOST, PORT). */
import { createRatingsServer } from './ratings-app.js';
import { runSample } from '../common/sample-server.js';

await runSample('ratings', createRatingsServer(), 9080);
