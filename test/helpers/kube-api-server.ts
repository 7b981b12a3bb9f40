/**
 * A real Kubernetes API server for tests, the way controller-runtime's envtest runs one: etcd and
 * kube-apiserver (built from the k8s.io/kubernetes module by scripts/kube-tools.sh into a cache
 * outside the checkout) on loopback ports, with certificates made here by openssl (a CA, the
 * server's certificate for 127.0.0.1, an admin client certificate in system:masters), an admin
 * bearer token (--token-auth-file) and a service-account signing key. No kubelet, no controller
 * manager unless asked: tests create Pods and EndpointSlices and patch their status themselves.
 *
 * `kubeApiServerSkip()` says why tests that need it skip: only when CLEW_KUBE_TESTS=0 (CI never
 * sets it). A missing build is an error, not a skip.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as https from 'node:https';
import { REPO_ROOT } from './paths.js';
import { freePorts } from '../../src/local/local-ports.js';

export function kubeApiServerSkip(): string | false {
  return process.env.CLEW_KUBE_TESTS === '0' ? 'CLEW_KUBE_TESTS=0: Kubernetes API server tests disabled' : false;
}

/** The directory holding kube-apiserver, etcd, kubectl, helm (scripts/kube-tools.sh dir). */
export function kubeToolsDir(): string {
  const dir = execFileSync('bash', [path.join(REPO_ROOT, 'scripts', 'kube-tools.sh'), 'dir']).toString().trim();
  for (const t of ['etcd', 'kube-apiserver', 'kubectl']) {
    if (!fs.existsSync(path.join(dir, t))) {
      throw new Error(`${path.join(dir, t)} is missing: run scripts/kube-tools.sh build (CI does it in .ci/run)`);
    }
  }
  return dir;
}

export interface KubeApiServerOptions {
  /** false: kube-apiserver serves watches from etcd (--watch-cache=false), so an etcd compaction expires them (410) */
  watchCache?: boolean;
  /** more kube-apiserver flags */
  extraArgs?: string[];
}

export interface KubeApiServer {
  /** https://127.0.0.1:<port> */
  url: string;
  port: number;
  dir: string;
  /** admin kubeconfig (client certificate, system:masters) */
  kubeconfig: string;
  /** admin bearer token (--token-auth-file) */
  token: string;
  caFile: string;
  caPem: string;
  /** http://127.0.0.1:<port> of etcd's client API */
  etcdUrl: string;
  toolsDir: string;
  /**
   * runs kubectl with the admin kubeconfig; resolves with stdout, rejects with stderr. Never
   * synchronous: the API server may call back into this process (webhooks) while kubectl waits.
   */
  kubectl(args: string[], input?: string): Promise<string>;
  /** JSON request as the admin (token); resolves with status and parsed body */
  request(method: string, urlPath: string, body?: unknown, contentType?: string): Promise<{ status: number; body: any }>;
  /** stops kube-apiserver only (etcd keeps the data) */
  stopApiServer(): Promise<void>;
  /** starts kube-apiserver again on the same port */
  startApiServer(): Promise<void>;
  /** compacts etcd's history up to its current revision (older watches then expire with 410) */
  compactEtcd(): Promise<number>;
  /** deletes one etcd key (e.g. /registry/services/specs/<ns>/<name>) behind the API server's back */
  etcdDelete(key: string): Promise<void>;
  log(): string;
  stop(): Promise<void>;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCerts(dir: string): void {
  const ext = (name: string, text: string) => fs.writeFileSync(path.join(dir, name), text);
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key'], dir);
  openssl(['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=clew-test-kube-ca', '-days', '3', '-out', 'ca.crt',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  const leaf = (name: string, subj: string, extFile: string) => {
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key.ec`], dir);
    // PKCS#8: both kube-apiserver and Node read it
    openssl(['pkcs8', '-topk8', '-nocrypt', '-in', `${name}.key.ec`, '-out', `${name}.key`], dir);
    openssl(['req', '-new', '-key', `${name}.key`, '-subj', subj, '-out', `${name}.csr`], dir);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '3',
      '-out', `${name}.crt`, '-extfile', extFile], dir);
  };
  ext('server.ext', 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n');
  ext('client.ext', 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n');
  leaf('server', '/CN=kube-apiserver', 'server.ext');
  leaf('admin', '/O=system:masters/CN=clew-test-admin', 'client.ext');
  // service-account token signing key
  openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'sa.key'], dir);
  openssl(['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
}

function waitExit(p: ChildProcess, ms: number): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => p.kill('SIGKILL'), ms);
    p.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

async function stopChild(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  p.kill('SIGTERM');
  await waitExit(p, 5000);
}

async function until<T>(what: string, ms: number, fn: () => Promise<T | undefined>, out: () => string): Promise<T> {
  const deadline = Date.now() + ms;
  let last = '';
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${what} not ready after ${ms} ms (${last})\n${out().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Starts etcd and kube-apiserver; call stop() in after(). */
export async function startKubeApiServer(opts: KubeApiServerOptions = {}): Promise<KubeApiServer> {
  const toolsDir = kubeToolsDir();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-kube-'));
  makeCerts(dir);
  const token = crypto.randomBytes(24).toString('hex');
  fs.writeFileSync(path.join(dir, 'tokens.csv'), `${token},clew-test-admin,clew-test-admin-uid,system:masters\n`, { mode: 0o600 });
  const [etcdClient, etcdPeer, port] = await freePorts('127.0.0.1', 3);
  const etcdUrl = `http://127.0.0.1:${etcdClient}`;
  const url = `https://127.0.0.1:${port}`;
  // the servers log into files (a pipe this process stops reading, e.g. during a synchronous
  // call, would block their logging and then their requests)
  const logFile = path.join(dir, 'servers.log');
  const logFd = fs.openSync(logFile, 'a');
  const logText = () => {
    try {
      const text = fs.readFileSync(logFile, 'utf8');
      return text.slice(-200_000);
    } catch {
      return '';
    }
  };
  const etcd = spawn(path.join(toolsDir, 'etcd'), [
    '--name', 'clew-test', '--data-dir', path.join(dir, 'etcd'),
    '--listen-client-urls', etcdUrl, '--advertise-client-urls', etcdUrl,
    '--listen-peer-urls', `http://127.0.0.1:${etcdPeer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${etcdPeer}`,
    '--initial-cluster', `clew-test=http://127.0.0.1:${etcdPeer}`,
    '--unsafe-no-fsync', '--log-level', 'warn',
  ], { stdio: ['ignore', logFd, logFd] });
  let apiserver: ChildProcess | undefined;
  const caPem = fs.readFileSync(path.join(dir, 'ca.crt'), 'utf8');
  const agent = new https.Agent({ ca: caPem, keepAlive: false });

  const request = (method: string, urlPath: string, body?: unknown, contentType = 'application/json') =>
    new Promise<{ status: number; body: any }>((resolve, reject) => {
      const data = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
      const req = https.request(`${url}${urlPath}`, {
        method, agent,
        headers: {
          authorization: `Bearer ${token}`, accept: 'application/json',
          ...(data ? { 'content-type': contentType, 'content-length': data.length } : {}),
        },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let parsed: any = text;
          try { parsed = JSON.parse(text); } catch { /* text */ }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(data);
    });

  const startApiServer = async (): Promise<void> => {
    const p = spawn(path.join(toolsDir, 'kube-apiserver'), [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1', `--secure-port=${port}`,
      `--cert-dir=${path.join(dir, 'apiserver-certs')}`,
      `--tls-cert-file=${path.join(dir, 'server.crt')}`, `--tls-private-key-file=${path.join(dir, 'server.key')}`,
      `--client-ca-file=${path.join(dir, 'ca.crt')}`,
      `--token-auth-file=${path.join(dir, 'tokens.csv')}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${path.join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${path.join(dir, 'sa.key')}`,
      '--service-cluster-ip-range=10.96.0.0/16',
      '--authorization-mode=RBAC',
      '--allow-privileged=true',
      '--enable-priority-and-fairness=false',
      '--endpoint-reconciler-type=none',
      `--watch-cache=${opts.watchCache === false ? 'false' : 'true'}`,
      ...(opts.extraArgs ?? []),
    ], { stdio: ['ignore', logFd, logFd] });
    apiserver = p;
    await until('kube-apiserver', 90_000, async () => {
      if (p.exitCode !== null) throw new Error(`kube-apiserver exited with ${p.exitCode}`);
      const r = await request('GET', '/readyz');
      return r.status === 200 ? true : undefined;
    }, logText);
  };

  const etcdPost = async (p: string, body: unknown): Promise<any> => {
    const r = await fetch(`${etcdUrl}${p}`, { method: 'POST', body: JSON.stringify(body) });
    if (!r.ok) throw new Error(`etcd ${p}: ${r.status} ${await r.text()}`);
    return r.json();
  };

  const kubeconfig = path.join(dir, 'kubeconfig');
  fs.writeFileSync(kubeconfig, [
    'apiVersion: v1', 'kind: Config',
    'clusters:', '- name: test', '  cluster:', `    server: ${url}`, `    certificate-authority: ${path.join(dir, 'ca.crt')}`,
    'users:', '- name: admin', '  user:', `    client-certificate: ${path.join(dir, 'admin.crt')}`, `    client-key: ${path.join(dir, 'admin.key')}`,
    'contexts:', '- name: test', '  context:', '    cluster: test', '    user: admin', '    namespace: default',
    'current-context: test', '',
  ].join('\n'), { mode: 0o600 });

  const stop = async () => {
    await stopChild(apiserver);
    await stopChild(etcd);
    agent.destroy();
    fs.closeSync(logFd);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await until('etcd', 30_000, async () => {
      if (etcd.exitCode !== null) throw new Error(`etcd exited with ${etcd.exitCode}`);
      const r = await fetch(`${etcdUrl}/health`);
      return r.ok ? true : undefined;
    }, logText);
    await startApiServer();
    // the default namespace and its ServiceAccount (no controller manager creates them here)
    await until('default namespace', 30_000, async () => {
      const r = await request('GET', '/api/v1/namespaces/default');
      return r.status === 200 ? true : undefined;
    }, logText);
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    url, port, dir, kubeconfig, token, caFile: path.join(dir, 'ca.crt'), caPem, etcdUrl, toolsDir,
    kubectl(args: string[], input?: string): Promise<string> {
      return new Promise((resolve, reject) => {
        const p = spawn(path.join(toolsDir, 'kubectl'), ['--kubeconfig', kubeconfig, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        p.stdout.on('data', (c: Buffer) => out.push(c));
        p.stderr.on('data', (c: Buffer) => err.push(c));
        p.stdin.on('error', () => {});
        p.on('error', reject);
        p.on('close', (code) => {
          const stdout = Buffer.concat(out).toString();
          const stderr = Buffer.concat(err).toString();
          if (code === 0) return resolve(stdout);
          const error = new Error(`kubectl ${args.join(' ')}: exit ${code}: ${stderr}`) as Error & { stderr?: string; stdout?: string };
          error.stderr = stderr;
          error.stdout = stdout;
          reject(error);
        });
        p.stdin.end(input ?? '');
      });
    },
    request,
    stopApiServer: () => stopChild(apiserver),
    startApiServer,
    async compactEtcd(): Promise<number> {
      const st = await etcdPost('/v3/kv/range', { key: Buffer.from('/').toString('base64'), limit: 1 });
      const revision = Number(st.header.revision);
      await etcdPost('/v3/kv/compaction', { revision: String(revision), physical: true });
      return revision;
    },
    async etcdDelete(key: string): Promise<void> {
      const r = await etcdPost('/v3/kv/deleterange', { key: Buffer.from(key).toString('base64') });
      if (String(r.deleted ?? '0') !== '1') throw new Error(`etcd: ${key} not found`);
    },
    log: logText,
    stop,
  };
}
