/**
 * Workload tokens (the join token of local mode; Kubernetes' projected service-account token in
 * spirit): JWTs the control plane signs (ES256, jose) with a key kept in
 * `<config-dir>/.clew/secrets/workload-token-key.pem` (0600; made on first start, so tokens stay
 * valid across restarts). Claims: iss `clew-control-plane`, aud `istio-ca`, sub
 * `system:serviceaccount:<ns>:<sa>`, exp, and Kubernetes' own claim layout
 * (`kubernetes.io: {namespace, pod: {name}, serviceaccount: {name}}`) plus `clew.dev` with the
 * addresses and labels the pod may register.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { jwtVerify, SignJWT, errors as joseErrors } from 'jose';
import { SecurityError } from '../security-errors.js';
import { writeSecretFile } from '../secret-files.js';
import { isValidName } from '../spiffe.js';
import type { Caller } from './authenticator.js';

export const TOKEN_ISSUER = 'clew-control-plane';
export const TOKEN_AUDIENCE = 'istio-ca';
/** Istio's projected token lifetime (`expirationSeconds: 43200`) */
export const DEFAULT_TOKEN_TTL_S = 43_200;
export const MAX_TOKEN_TTL_S = 365 * 24 * 3600;
const SUBJECT = /^system:serviceaccount:([^:]+):([^:]+)$/;

export interface WorkloadTokenRequest {
  namespace: string;
  serviceAccount: string;
  podName: string;
  addresses?: string[];
  labels?: Record<string, string>;
  /** default 12h (Istio's projected token), at most a year */
  expirationSeconds?: number;
}

export interface MintedToken {
  token: string;
  expiresAt: number;
}

export function tokenKeyFile(configDir: string): string {
  return path.join(configDir, '.clew', 'secrets', 'workload-token-key.pem');
}

/** Checks a mint request; the messages name the field. */
export function checkTokenRequest(body: unknown): WorkloadTokenRequest {
  const bad = (field: string, why: string): never => {
    throw new SecurityError('INVALID_REQUEST', `${field}: ${why}`);
  };
  if (typeof body !== 'object' || body === null || Array.isArray(body)) bad('body', 'expected a JSON object {namespace, serviceAccount, podName, addresses?, labels?, expirationSeconds?}');
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) {
    if (!['namespace', 'serviceAccount', 'podName', 'addresses', 'labels', 'expirationSeconds'].includes(k)) bad(k, 'unknown field');
  }
  for (const f of ['namespace', 'serviceAccount', 'podName']) {
    if (typeof b[f] !== 'string' || !isValidName(b[f] as string)) bad(f, 'required, a lower-case DNS name');
  }
  if (b.addresses !== undefined) {
    if (!Array.isArray(b.addresses) || b.addresses.length === 0 || b.addresses.length > 16) bad('addresses', 'a list of 1 to 16 IP addresses');
    (b.addresses as unknown[]).forEach((a, i) => {
      if (typeof a !== 'string' || !isIpAddress(a)) bad(`addresses[${i}]`, 'not an IP address');
    });
  }
  if (b.labels !== undefined) {
    if (typeof b.labels !== 'object' || b.labels === null || Array.isArray(b.labels)) bad('labels', 'a map of label names to values');
    for (const [k, v] of Object.entries(b.labels as object)) if (typeof v !== 'string') bad(`labels.${k}`, 'must be a string');
  }
  if (b.expirationSeconds !== undefined) {
    const e = b.expirationSeconds;
    if (typeof e !== 'number' || !Number.isInteger(e) || e < 60 || e > MAX_TOKEN_TTL_S) bad('expirationSeconds', `a whole number from 60 to ${MAX_TOKEN_TTL_S}`);
  }
  return b as unknown as WorkloadTokenRequest;
}

function isIpAddress(a: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(a) || (a.includes(':') && /^[0-9a-f:.]+$/i.test(a));
}

export class WorkloadTokens {
  private constructor(
    private readonly privateKey: crypto.KeyObject,
    private readonly publicKey: crypto.KeyObject,
    private readonly now: () => number,
  ) {}

  /** Loads the signing key kept under the config dir, or makes it on first start. */
  static open(configDir: string, now: () => number = Date.now): WorkloadTokens {
    const file = tokenKeyFile(configDir);
    let key: crypto.KeyObject;
    if (fs.existsSync(file)) {
      try {
        key = crypto.createPrivateKey(fs.readFileSync(file, 'utf8'));
      } catch (err) {
        throw new SecurityError('CA_FILE_INVALID', `${file}: not a PEM private key: ${(err as Error).message}; remove it to make a new one (every workload token issued before stops working)`);
      }
      if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
        throw new SecurityError('CA_FILE_INVALID', `${file}: expected an EC P-256 key`);
      }
    } else {
      key = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      writeSecretFile(file, key.export({ format: 'pem', type: 'pkcs8' }).toString());
    }
    return new WorkloadTokens(key, crypto.createPublicKey(key), now);
  }

  async mint(req: WorkloadTokenRequest): Promise<MintedToken> {
    const ttl = req.expirationSeconds ?? DEFAULT_TOKEN_TTL_S;
    const iat = Math.floor(this.now() / 1000);
    const exp = iat + ttl;
    const clew: Record<string, unknown> = {};
    if (req.addresses) clew.addresses = [...req.addresses];
    if (req.labels) clew.labels = { ...req.labels };
    const token = await new SignJWT({
      'kubernetes.io': { namespace: req.namespace, pod: { name: req.podName }, serviceaccount: { name: req.serviceAccount } },
      'clew.dev': clew,
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
      .setIssuer(TOKEN_ISSUER)
      .setAudience(TOKEN_AUDIENCE)
      .setSubject(`system:serviceaccount:${req.namespace}:${req.serviceAccount}`)
      .setIssuedAt(iat)
      .setNotBefore(iat - 60)
      .setExpirationTime(exp)
      .setJti(crypto.randomUUID())
      .sign(this.privateKey);
    return { token, expiresAt: exp * 1000 };
  }

  /** The caller a token proves; SecurityError UNAUTHENTICATED when it does not hold. */
  async verify(token: string): Promise<Caller> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.publicKey, {
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
        algorithms: ['ES256'],
        currentDate: new Date(this.now()),
      }));
    } catch (err) {
      throw new SecurityError('UNAUTHENTICATED', `workload token rejected: ${describeJoseError(err)}`);
    }
    const m = SUBJECT.exec(String(payload.sub ?? ''));
    const k8s = payload['kubernetes.io'] as { namespace?: unknown; pod?: { name?: unknown } } | undefined;
    if (!m || typeof k8s?.namespace !== 'string' || k8s.namespace !== m[1]) {
      throw new SecurityError('UNAUTHENTICATED', 'workload token rejected: the subject is not system:serviceaccount:<namespace>:<name> of its namespace');
    }
    const clew = (payload['clew.dev'] ?? {}) as { addresses?: unknown; labels?: unknown };
    return {
      authenticator: 'workload-token',
      namespace: m[1],
      serviceAccount: m[2],
      podName: typeof k8s.pod?.name === 'string' ? k8s.pod.name : undefined,
      addresses: Array.isArray(clew.addresses) ? clew.addresses.filter((a): a is string => typeof a === 'string') : undefined,
      labels: clew.labels && typeof clew.labels === 'object' ? { ...(clew.labels as Record<string, string>) } : undefined,
      expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : undefined,
    };
  }
}

function describeJoseError(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `claim ${err.claim}: ${err.reason}`;
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature does not verify (not signed by this control plane)';
  if (err instanceof joseErrors.JOSEError) return err.code;
  return (err as Error).message;
}
