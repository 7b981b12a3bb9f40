/**
 * The proxy's client of Istio's certificate service: `CreateCertificate` over gRPC with TLS to the
 * control plane (`--ca-address`, default the xDS host at port 15012), the server verified against
 * `--root-cert`, the workload token (`--token-file`, read at each call like a projected token)
 * as `authorization: Bearer`. On node:http2 through the ADS channel code, not grpc-js.
 */
import * as fs from 'node:fs';
import { AdsChannel, type AdsCallError } from '../xds-client/xds-client-transport.js';
import { CREATE_CERTIFICATE_PATH, decodeCsrResponse, encodeCsrRequest } from './istio-ca-codec.js';

export interface CaClientOptions {
  /** host:port of the certificate service */
  address: string;
  /** PEM file the CA's serving certificate must chain to */
  rootCertFile: string | undefined;
  /** file holding the bearer token (read at each call) */
  tokenFile: string | undefined;
  timeoutMs?: number;
}

export class CaClientError extends Error {
  readonly code = 'CLEW_CA_CLIENT';
  constructor(message: string) {
    super(message);
    this.name = 'CaClientError';
  }
}

/** Reads a token file for `authorization: Bearer` (trailing whitespace trimmed); never logged. */
export function bearerMetadata(tokenFile: string | undefined): Record<string, string> {
  if (!tokenFile) return {};
  let token: string;
  try {
    token = fs.readFileSync(tokenFile, 'utf8').trim();
  } catch (err) {
    throw new CaClientError(`cannot read the token file ${tokenFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return token ? { authorization: `Bearer ${token}` } : {};
}

export function readRoot(file: string | undefined): { ca: string } | undefined {
  if (!file) return undefined;
  try {
    return { ca: fs.readFileSync(file, 'utf8') };
  } catch (err) {
    throw new CaClientError(`cannot read the root certificate ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

export class CaClient {
  private readonly channel: AdsChannel;

  constructor(private readonly opts: CaClientOptions) {
    if (!opts.rootCertFile) throw new CaClientError('the certificate service needs --root-cert (the CA is verified before the token is sent)');
    this.channel = new AdsChannel({
      address: opts.address,
      keepaliveMs: 60_000,
      maxMessageBytes: 4 * 1024 * 1024,
      // the certificate service is only ever called over TLS (the token is a credential)
      tls: () => readRoot(opts.rootCertFile) ?? { ca: '' },
      metadata: () => bearerMetadata(opts.tokenFile),
    });
  }

  /** Signs a CSR: the chain, leaf first and root last (Istio rejects a chain of one). */
  createCertificate(csrPem: string, validitySeconds: number): Promise<string[]> {
    return new Promise((resolve, reject) => {
      const call = this.channel.open(CREATE_CERTIFICATE_PATH, encodeCsrRequest, decodeCsrResponse);
      let chain: string[] | undefined;
      const timer = setTimeout(() => {
        call.cancel();
        reject(new CaClientError(`CreateCertificate to ${this.opts.address}: no answer in ${this.opts.timeoutMs ?? 10_000} ms`));
      }, this.opts.timeoutMs ?? 10_000);
      timer.unref();
      call.on('data', (m: { certChain: string[] }) => (chain = m.certChain));
      call.on('error', (err: AdsCallError) => {
        clearTimeout(timer);
        reject(new CaClientError(`CreateCertificate to ${this.opts.address}: ${err.message}`));
      });
      call.on('status', (st: { code: number }) => {
        clearTimeout(timer);
        if (st.code !== 0) return; // 'error' came first
        if (!chain || chain.length < 2) reject(new CaClientError(`CreateCertificate to ${this.opts.address}: a chain of ${chain?.length ?? 0} certificate(s) (leaf and root expected)`));
        else resolve(chain);
      });
      call.write({ csr: csrPem, validityDuration: validitySeconds });
      call.end();
    });
  }

  close(): void {
    this.channel.close();
  }
}
