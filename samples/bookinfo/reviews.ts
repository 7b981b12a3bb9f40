/** Process entry: `SERVICE_VERSION=v2 node dist/samples/bookinfo/reviews.js` (env HOST, PORT). */
import { createReviewsServer, reviewsConfigFromEnv } from './reviews-app.js';
import { runSample } from '../common/sample-server.js';

const cfg = reviewsConfigFromEnv();
await runSample(`reviews-${cfg.version}`, createReviewsServer(cfg), 9080);
