/**
 * Certificates for TLS tests, made with the openssl command line in a temporary directory: a CA
 * (root, optionally an intermediate), leaf certificates with SPIFFE URI / DNS / IP SANs shaped
 * like Istio's (empty subject, critical SAN, server+client auth), and expired ones (`openssl ca`
 * with explicit dates). `cleanup()` removes the directory.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface Pem {
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
}

export interface TestCa extends Pem {
  /** a leaf signed by this CA */
  leaf(name: string, sans: string[], opts?: { expired?: boolean; days?: number; ec?: boolean }): Pem;
  /** an intermediate CA signed by this one (its chain file: intermediate then this root) */
  intermediate(name: string): TestCa & { chain: string };
}

export interface TestPki {
  dir: string;
  ca(name: string): TestCa;
  cleanup(): void;
}

function openssl(args: string[], cwd: string): string {
  return execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

export function makePki(): TestPki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-pki-'));
  let serial = 1;
  const makeCa = (name: string, signer?: { certFile: string; keyFile: string }): TestCa => {
    const keyFile = path.join(dir, `${name}.key`);
    const certFile = path.join(dir, `${name}.crt`);
    const ext = path.join(dir, `${name}.ext`);
    fs.writeFileSync(ext, 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\nsubjectKeyIdentifier=hash\n');
    openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', keyFile], dir);
    if (!signer) {
      openssl(['req', '-x509', '-new', '-key', keyFile, '-subj', `/O=clew-test/CN=${name}`, '-days', '3650', '-out', certFile, '-extensions', 'v3', '-config', caConfig(dir, name)], dir);
    } else {
      const csr = path.join(dir, `${name}.csr`);
      openssl(['req', '-new', '-key', keyFile, '-subj', `/O=clew-test/CN=${name}`, '-out', csr], dir);
      openssl(['x509', '-req', '-in', csr, '-CA', signer.certFile, '-CAkey', signer.keyFile, '-set_serial', String(serial++ * 1000), '-days', '3650', '-extfile', ext, '-out', certFile], dir);
    }
    const ca: TestCa = {
      cert: fs.readFileSync(certFile, 'utf8'),
      key: fs.readFileSync(keyFile, 'utf8'),
      certFile,
      keyFile,
      leaf: (leafName, sans, opts = {}) => {
        const lk = path.join(dir, `${leafName}.key`);
        const lc = path.join(dir, `${leafName}.crt`);
        const lcsr = path.join(dir, `${leafName}.csr`);
        const lext = path.join(dir, `${leafName}.ext`);
        if (opts.ec) openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', lk], dir);
        else openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', lk], dir);
        // Istio's shape: empty subject, SAN critical, server and client auth
        openssl(['req', '-new', '-key', lk, '-subj', '/', '-out', lcsr], dir);
        const extText = `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=critical,${sans.join(',')}\n`;
        fs.writeFileSync(lext, extText);
        if (opts.expired) {
          const db = path.join(dir, `${leafName}.db`);
          fs.writeFileSync(db, '');
          const conf = path.join(dir, `${leafName}.ca.cnf`);
          fs.writeFileSync(
            conf,
            `[ca]\ndefault_ca=c\n[c]\ndatabase=${db}\nnew_certs_dir=${dir}\nserial=${path.join(dir, `${leafName}.srl`)}\ndefault_md=sha256\npolicy=p\nunique_subject=no\ncopy_extensions=none\n[p]\n[ext]\n${extText}`,
          );
          fs.writeFileSync(path.join(dir, `${leafName}.srl`), `${(serial++ * 7919).toString(16).padStart(4, '0')}\n`);
          openssl(['ca', '-batch', '-config', conf, '-extensions', 'ext', '-cert', certFile, '-keyfile', keyFile, '-startdate', '20200101000000Z', '-enddate', '20200102000000Z', '-in', lcsr, '-out', lc, '-notext'], dir);
        } else {
          openssl(['x509', '-req', '-in', lcsr, '-CA', certFile, '-CAkey', keyFile, '-set_serial', String(serial++ * 7919), '-days', String(opts.days ?? 30), '-extfile', lext, '-out', lc], dir);
        }
        let cert = fs.readFileSync(lc, 'utf8');
        // the chain as Istio sends it: leaf then the issuing CAs (not the root when it is the signer)
        if (signer) cert += ca.cert;
        fs.writeFileSync(lc, cert);
        return { cert, key: fs.readFileSync(lk, 'utf8'), certFile: lc, keyFile: lk };
      },
      intermediate: (n) => {
        const i = makeCa(n, { certFile, keyFile });
        return Object.assign(i, { chain: i.cert + ca.cert });
      },
    };
    return ca;
  };
  return {
    dir,
    ca: (name) => makeCa(name),
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

function caConfig(dir: string, name: string): string {
  const f = path.join(dir, `${name}.req.cnf`);
  fs.writeFileSync(f, '[req]\ndistinguished_name=dn\n[dn]\n[v3]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\nsubjectKeyIdentifier=hash\n');
  return f;
}

/** Istio's SPIFFE URI SAN of a service account. */
export function spiffe(ns: string, sa: string, td = 'cluster.local'): string {
  return `URI:spiffe://${td}/ns/${ns}/sa/${sa}`;
}
