/**
 * What `clew demo` starts: one entry per workload (pod-like name, labels, service account,
 * ports, compiled script, env) and the config files to apply. Paths are relative to the package
 * root; `samplePath()` resolves them.
 */
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

export interface SampleWorkload {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  serviceAccount: string;
  ports: number[];
  /** Path of the compiled JS relative to the package root, e.g. 'dist/samples/bookinfo/reviews.js'. */
  script: string;
  /** Extra environment; the launcher adds HOST, PORT and HTTP_PROXY. */
  env: Record<string, string>;
}

function bookinfo(app: string, version: string, script: string, env: Record<string, string> = {}): SampleWorkload {
  const name = `${app}-${version}`;
  return {
    name,
    namespace: 'default',
    labels: { app, version },
    serviceAccount: `bookinfo-${app}`,
    ports: [9080],
    script: `dist/samples/bookinfo/${script}`,
    env: { POD_NAME: name, ...env },
  };
}

export const BOOKINFO_WORKLOADS: SampleWorkload[] = [
  bookinfo('productpage', 'v1', 'productpage.js'),
  bookinfo('details', 'v1', 'details.js'),
  bookinfo('reviews', 'v1', 'reviews.js', { SERVICE_VERSION: 'v1' }),
  bookinfo('reviews', 'v2', 'reviews.js', { SERVICE_VERSION: 'v2' }),
  bookinfo('reviews', 'v3', 'reviews.js', { SERVICE_VERSION: 'v3' }),
  bookinfo('ratings', 'v1', 'ratings.js'),
];

export const HTTPBIN_WORKLOADS: SampleWorkload[] = [{
  name: 'httpbin-v1',
  namespace: 'default',
  labels: { app: 'httpbin', version: 'v1' },
  serviceAccount: 'httpbin',
  ports: [8080],
  script: 'dist/samples/httpbin/httpbin.js',
  env: { POD_NAME: 'httpbin-v1' },
}];

/** Services, then the ingress gateway, then subsets: what the demo applies at start. */
export const SAMPLE_CONFIG_FILES: string[] = [
  'samples/bookinfo/platform/bookinfo.yaml',
  'samples/httpbin/httpbin.yaml',
  'samples/bookinfo/networking/bookinfo-gateway.yaml',
  'samples/bookinfo/networking/destination-rule-all.yaml',
];

/** The package root (this file compiles to <root>/dist/samples/manifest.js). */
export function samplesPackageRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

/** Resolves a manifest path (script or config file) against the package root. */
export function samplePath(relative: string): string {
  return resolve(samplesPackageRoot(), relative);
}
