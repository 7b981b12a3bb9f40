/**
 * Workload credentials in local mode: `clew run` and `clew demo` mint a workload token per pod
 * (`POST /apis/v1/workload-tokens` with the admin token) bound to the pod's namespace, service
 * account, name, address and labels, keep it in a 0600 file the sidecar reads at each use
 * (`clew proxy --token-file`, like a projected token), renew it at half its life, and fetch the
 * control plane's root certificate (`GET /debug/root-cert`, loopback) for `--root-cert`. The
 * sidecar then gets its certificate from the CA and speaks ADS over TLS on the secure port.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import { API_PATHS } from '../api/api-paths.js';
import { LocalError } from './local-errors.js';
import { localStateDir } from './local-state-dir.js';

export interface ControlPlaneAccess {
  /** http://127.0.0.1:15014 */
  debugUrl: string;
  /** the admin token (writes, token minting) */
  adminToken: string;
  /** host:port of the TLS port (certificate service and ADS over TLS) */
  secureAddress: string;
}

/** What a sidecar is started with (`clew proxy --token-file --root-cert --ca-address --xds-tls`). */
export interface PodCredentials {
  tokenFile: string;
  rootCertFile: string;
  /** the secure address: CreateCertificate and ADS over TLS */
  secureAddress: string;
}

export interface PodIdentity {
  name: string;
  namespace: string;
  serviceAccount: string;
  address: string;
  labels: Record<string, string>;
}

function credentialsDir(stateDir?: string): string {
  const dir = path.join(localStateDir(stateDir ? { ...process.env, CLEW_STATE_DIR: stateDir } : process.env), 'credentials');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  return dir;
}

function writeFile(file: string, text: string, mode: number, owner?: number): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.rmSync(tmp, { force: true });
  fs.writeFileSync(tmp, text, { mode });
  fs.chmodSync(tmp, mode);
  if (owner !== undefined) fs.chownSync(tmp, owner, owner);
  fs.renameSync(tmp, file);
}

export interface PodFileOptions {
  /** the state dir whose `credentials/` holds the files (default: the user's) */
  stateDir?: string;
  /** a directory of the caller's choosing instead (e.g. one the sidecar's own user can enter) */
  dir?: string;
  /** the uid (and gid) that owns the files: a sidecar running as another user (netns pods: 1337) */
  owner?: number;
  log?: (line: string) => void;
}

/** The admin token kept under a control plane's config dir (the demo owns its config dir). */
export function adminTokenOf(configDir: string): string {
  try {
    return fs.readFileSync(path.join(configDir, '.clew', 'secrets', 'admin-token'), 'utf8').trim();
  } catch (err) {
    throw new LocalError('CLEW_LOCAL_CREDENTIALS', `cannot read the control plane's admin token in ${configDir}/.clew/secrets: ${(err as Error).message}`);
  }
}

async function call(access: ControlPlaneAccess, method: 'GET' | 'POST', p: string, body?: unknown): Promise<{ status: number; text: string }> {
  try {
    const res = await request(new URL(p, access.debugUrl), {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json', authorization: `Bearer ${access.adminToken}` },
      body: body === undefined ? undefined : JSON.stringify(body),
      headersTimeout: 15_000,
      bodyTimeout: 15_000,
    });
    return { status: res.statusCode, text: await res.body.text() };
  } catch (err) {
    throw new LocalError('CLEW_LOCAL_CREDENTIALS', `cannot reach the control plane at ${access.debugUrl}: ${(err as Error).message}`);
  }
}

/** The control plane's root certificate (PEM), for the sidecars' `--root-cert`. */
export async function fetchRootCert(access: ControlPlaneAccess): Promise<string> {
  const r = await call(access, 'GET', '/debug/root-cert');
  if (r.status !== 200 || !r.text.includes('BEGIN CERTIFICATE')) {
    throw new LocalError('CLEW_LOCAL_CREDENTIALS', `${access.debugUrl}/debug/root-cert answered ${r.status}: is it a Clew control plane with a CA?`);
  }
  return r.text;
}

export async function mintToken(access: ControlPlaneAccess, pod: PodIdentity): Promise<{ token: string; expiresAt: number }> {
  const r = await call(access, 'POST', API_PATHS.workloadTokens, {
    namespace: pod.namespace, serviceAccount: pod.serviceAccount, podName: pod.name, addresses: [pod.address], labels: pod.labels,
  });
  if (r.status !== 200) {
    let why = r.text;
    try {
      why = JSON.parse(r.text).error ?? r.text;
    } catch {
      /* not JSON */
    }
    throw new LocalError('CLEW_LOCAL_CREDENTIALS', `minting a workload token for ${pod.name}.${pod.namespace} failed (${r.status}): ${why}`);
  }
  const body = JSON.parse(r.text) as { token: string; expiresAt: string };
  return { token: body.token, expiresAt: Date.parse(body.expiresAt) };
}

/**
 * A pod's token file, minted now and renewed at half of each token's life while the pod runs
 * (a failed renewal is retried every 30 s; the sidecar keeps its certificate meanwhile), and its
 * copy of the root certificate. Both are the pod's own (unique names: two pods of one name, two
 * `clew run` or two tests must not share or remove each other's files) and go at `stop()`.
 */
export class PodTokenFile {
  readonly file: string;
  readonly rootCertFile: string;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  private constructor(
    private readonly access: ControlPlaneAccess, private readonly pod: PodIdentity, dir: string,
    private readonly log: (line: string) => void, private readonly owner: number | undefined,
  ) {
    const base = path.join(dir, `${pod.namespace}.${pod.name}-${process.pid}-${randomBytes(4).toString('hex')}`);
    this.file = `${base}.token`;
    this.rootCertFile = `${base}.root-cert.pem`;
  }

  static async create(
    access: ControlPlaneAccess, pod: PodIdentity, rootCertPem: string, o: PodFileOptions = {},
  ): Promise<PodTokenFile> {
    const t = new PodTokenFile(access, pod, o.dir ?? credentialsDir(o.stateDir), o.log ?? (() => {}), o.owner);
    writeFile(t.rootCertFile, rootCertPem, 0o644, o.owner);
    try {
      await t.renew();
    } catch (err) {
      t.stop();
      throw err;
    }
    return t;
  }

  /** What the pod's sidecar is started with. */
  credentials(): PodCredentials {
    return { tokenFile: this.file, rootCertFile: this.rootCertFile, secureAddress: this.access.secureAddress };
  }

  private async renew(): Promise<void> {
    const { token, expiresAt } = await mintToken(this.access, this.pod);
    if (this.stopped) return;
    writeFile(this.file, `${token}\n`, 0o600, this.owner);
    this.schedule(Math.max(1000, (expiresAt - Date.now()) / 2));
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.renew().catch((err) => {
        this.log(`workload token of ${this.pod.name}.${this.pod.namespace}: ${(err as Error).message}; retrying in 30 s`);
        if (!this.stopped) this.schedule(30_000);
      });
    }, Math.min(ms, 2 ** 31 - 1));
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    fs.rmSync(this.file, { force: true });
    fs.rmSync(this.rootCertFile, { force: true });
  }
}

/** The `clew proxy` flags for a pod's credentials. */
export function credentialArgs(c: PodCredentials): string[] {
  return ['--root-cert', c.rootCertFile, '--token-file', c.tokenFile, '--ca-address', c.secureAddress, '--xds-tls'];
}
