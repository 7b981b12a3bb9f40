/**
 * The admission webhook server (istiod's port 15017): HTTPS with a certificate from Clew's CA
 * (istiod's Service name and the listen address, renewed in place), AdmissionReview v1 in and out.
 * Paths: `/validate` (Istio config) and `/inject` (sidecar injection), as istiod's. A handler is a
 * pure function of the review's request; anything that is not a well-formed review gets a 400.
 */
import * as https from 'node:https';
import type * as http from 'node:http';
import type { CertificateAuthority } from '../../security/ca/certificate-authority.js';
import { servingNames } from '../../security/ca/certificate-authority.js';
import { ServingCertProvider } from '../../security/cert-service/serving-cert-provider.js';
import type { AdmissionRequest, AdmissionResponse } from './webhook-validate.js';

/** The API server sends objects of at most ~3 MiB; a review carries old and new. */
const MAX_BODY = 8 * 1024 * 1024;

export type AdmissionHandler = (req: AdmissionRequest) => AdmissionResponse | Promise<AdmissionResponse>;

export interface WebhookServerOptions {
  ca: CertificateAuthority;
  host: string;
  port: number;
  handlers: Record<string, AdmissionHandler>;
  log?: (line: string) => void;
}

export interface WebhookServer {
  port: number;
  /** counts by path and outcome (allowed/denied/error) */
  counts: Map<string, number>;
  close(): Promise<void>;
}

export async function startWebhookServer(opts: WebhookServerOptions): Promise<WebhookServer> {
  const log = opts.log ?? (() => {});
  const provider = new ServingCertProvider(opts.ca, servingNames(opts.host), log);
  const first = await provider.start();
  const counts = new Map<string, number>();
  const count = (k: string) => counts.set(k, (counts.get(k) ?? 0) + 1);
  const server = https.createServer({
    cert: first.chainPem.slice(0, -1).join(''), key: first.keyPem, minVersion: 'TLSv1.2',
  }, (req, res) => void handle(req, res));
  provider.addIdentityCertificateListener((id) => {
    if (id) server.setSecureContext({ cert: id.certificate, key: id.privateKey, minVersion: 'TLSv1.2' });
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;

  const send = (res: http.ServerResponse, status: number, body: unknown) => {
    const data = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
    res.end(data);
  };

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    req.on('error', () => res.destroy());
    res.on('error', () => {});
    const path = (req.url ?? '').split('?')[0];
    const handler = Object.hasOwn(opts.handlers, path) ? opts.handlers[path] : undefined;
    if (!handler) return send(res, 404, { error: `no webhook at ${path}` });
    if (req.method !== 'POST') return send(res, 405, { error: 'POST an AdmissionReview' });
    if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) return send(res, 415, { error: 'content-type must be application/json' });
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const c of req as AsyncIterable<Buffer>) {
        size += c.length;
        if (size > MAX_BODY) return send(res, 413, { error: `body larger than ${MAX_BODY} bytes` });
        chunks.push(c);
      }
    } catch {
      return;
    }
    let review: any;
    try {
      review = JSON.parse(Buffer.concat(chunks).toString());
    } catch (err) {
      return send(res, 400, { error: `body is not JSON: ${(err as Error).message}` });
    }
    if (review?.apiVersion !== 'admission.k8s.io/v1' || review?.kind !== 'AdmissionReview' || typeof review?.request?.uid !== 'string') {
      return send(res, 400, { error: 'expected an admission.k8s.io/v1 AdmissionReview with request.uid' });
    }
    let response: AdmissionResponse;
    try {
      response = await handler(review.request as AdmissionRequest);
    } catch (err) {
      count(`${path} error`);
      log(`webhook ${path}: ${(err as Error).message}`);
      response = { uid: review.request.uid, allowed: false, status: { code: 500, message: `webhook failed: ${(err as Error).message}` } };
    }
    count(`${path} ${response.allowed ? 'allowed' : 'denied'}`);
    send(res, 200, { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log(`webhook server: ${err.message}`));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  log(`webhooks on https://${opts.host}:${port} (${Object.keys(opts.handlers).join(', ')})`);
  return {
    port,
    counts,
    close: () => new Promise<void>((resolve) => {
      provider.stop();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
