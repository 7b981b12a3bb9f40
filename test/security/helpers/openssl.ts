/**
 * Certificates and CSRs made with the real openssl CLI, for the security tests: plug-in CA
 * directories in Istio's cacerts layout, CSRs of several key types, verification of chains.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export function openssl(args: string[], cwd?: string, input?: string): string {
  return execFileSync('openssl', args, { cwd, input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Runs openssl; returns its exit status and combined output instead of throwing. */
export function opensslStatus(args: string[], cwd?: string, input?: string): { status: number; out: string } {
  const r = spawnSync('openssl', args, { cwd, input, encoding: 'utf8' });
  return { status: r.status ?? -1, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/**
 * Runs openssl without blocking the event loop (needed when it talks to a server in this
 * process); stdin gets `input` then closes. Killed after `timeoutMs`.
 */
export function opensslAsync(args: string[], input = '', timeoutMs = 15_000): Promise<{ status: number; out: string }> {
  return new Promise((resolve) => {
    const p = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', (err) => {
      clearTimeout(t);
      resolve({ status: -1, out: `${out}${err.message}` });
    });
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ status: code ?? -1, out });
    });
    p.stdin.on('error', () => {});
    p.stdin.end(input);
  });
}

const CA_EXT = 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\nsubjectKeyIdentifier=hash\n';

export interface TestCa {
  dir: string;
  rootPem: string;
  intermediatePem: string;
}

/**
 * A root and an intermediate made by openssl, written as Istio's cacerts files in `dir`
 * (ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem = intermediate + root).
 * `intermediateDays` may be negative to make an expired intermediate.
 */
export function makePluginCa(dir: string, o: { intermediateDays?: number; rootName?: string; keyType?: 'rsa' | 'ec' } = {}): TestCa {
  fs.mkdirSync(dir, { recursive: true });
  const key = o.keyType === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', 'rsa:2048'];
  fs.writeFileSync(path.join(dir, 'ca.ext'), CA_EXT);
  openssl(['req', '-x509', ...key, '-nodes', '-keyout', 'root-key.pem', '-out', 'root-cert.pem', '-days', '30',
    '-subj', `/O=${o.rootName ?? 'Test Root'}/CN=Root CA`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  openssl(['req', '-new', ...key, '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.csr', '-subj', '/O=Test/CN=Intermediate CA'], dir);
  openssl(['x509', '-req', '-in', 'ca.csr', '-CA', 'root-cert.pem', '-CAkey', 'root-key.pem', '-set_serial', '7',
    '-days', String(o.intermediateDays ?? 20), '-extfile', 'ca.ext', '-out', 'ca-cert.pem'], dir);
  const rootPem = fs.readFileSync(path.join(dir, 'root-cert.pem'), 'utf8');
  const intermediatePem = fs.readFileSync(path.join(dir, 'ca-cert.pem'), 'utf8');
  fs.writeFileSync(path.join(dir, 'cert-chain.pem'), intermediatePem + rootPem);
  for (const f of ['ca.ext', 'ca.csr']) fs.rmSync(path.join(dir, f));
  return { dir, rootPem, intermediatePem };
}

/** A CSR (PEM) with the given subject and SANs, and its key, made by openssl. */
export function makeCsr(dir: string, o: { keyType?: 'rsa' | 'rsa1024' | 'ec' | 'ec384'; subject?: string; sans?: string[] } = {}): { csrPem: string; keyPem: string } {
  fs.mkdirSync(dir, { recursive: true });
  const key = {
    rsa: ['-newkey', 'rsa:2048'],
    rsa1024: ['-newkey', 'rsa:1024'],
    ec: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
    ec384: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  }[o.keyType ?? 'rsa'];
  const args = ['req', '-new', ...key, '-nodes', '-keyout', 'leaf-key.pem', '-out', 'leaf.csr', '-subj', o.subject ?? '/'];
  if (o.sans?.length) args.push('-addext', `subjectAltName=${o.sans.join(',')}`);
  openssl(args, dir);
  return { csrPem: fs.readFileSync(path.join(dir, 'leaf.csr'), 'utf8'), keyPem: fs.readFileSync(path.join(dir, 'leaf-key.pem'), 'utf8') };
}

/** `openssl x509 -text` of a PEM certificate. */
export function certText(pem: string): string {
  return openssl(['x509', '-noout', '-text'], undefined, pem);
}

/** `openssl verify` of a leaf against a root (intermediates untrusted): status 0 = OK. */
export function verifyChain(dir: string, chainPem: string[]): { status: number; out: string } {
  fs.mkdirSync(dir, { recursive: true });
  const leaf = path.join(dir, 'verify-leaf.pem');
  const root = path.join(dir, 'verify-root.pem');
  const mid = path.join(dir, 'verify-untrusted.pem');
  fs.writeFileSync(leaf, chainPem[0]);
  fs.writeFileSync(root, chainPem.at(-1)!);
  const args = ['verify', '-CAfile', root, '-purpose', 'sslclient'];
  if (chainPem.length > 2) {
    fs.writeFileSync(mid, chainPem.slice(1, -1).join(''));
    args.push('-untrusted', mid);
  }
  return opensslStatus([...args, leaf]);
}
