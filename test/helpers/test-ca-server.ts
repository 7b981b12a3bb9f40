/**
 * A real Istio CreateCertificate server for tests (grpc-js, TLS), signing with a CA the test made
 * with openssl: the caller's bearer token names its identity (a fixed table), the CSR's own SANs
 * are ignored, the certificate is Istio-shaped (URI SAN, critical, empty subject) with the
 * requested lifetime in seconds (`openssl ca` with explicit dates). Records every call.
 */
import * as grpc from '@grpc/grpc-js';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import protobuf from 'protobufjs/light.js';
import type { TestCa } from './test-pki.js';

const root = protobuf.Root.fromJSON({
  nested: {
    Req: { fields: { csr: { type: 'string', id: 1 }, validity_duration: { type: 'int64', id: 3 } } },
    Res: { fields: { cert_chain: { rule: 'repeated', type: 'string', id: 1 } } },
  },
});
const Req = root.lookupType('Req');
const Res = root.lookupType('Res');

export interface CaCall {
  authorization: string | undefined;
  validitySeconds: number;
  identity: string | undefined;
  serial?: string;
}

export interface TestCaServer {
  port: number;
  calls: CaCall[];
  close(): void;
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
}

/** `tokens`: bearer token -> SPIFFE ID; `serving`: the server's own certificate (chain + key). */
export async function startTestCaServer(ca: TestCa, dir: string, tokens: Record<string, string>, serving: { cert: string; key: string }): Promise<TestCaServer> {
  const calls: CaCall[] = [];
  let n = 0;
  const server = new grpc.Server();
  server.addService(
    {
      CreateCertificate: {
        path: '/istio.v1.auth.IstioCertificateService/CreateCertificate',
        requestStream: false,
        responseStream: false,
        requestSerialize: (o: object) => Buffer.from(Req.encode(Req.fromObject(o)).finish()),
        requestDeserialize: (b: Buffer) => Req.toObject(Req.decode(b), { longs: Number, defaults: true }),
        responseSerialize: (o: object) => Buffer.from(Res.encode(Res.fromObject(o)).finish()),
        responseDeserialize: (b: Buffer) => Res.toObject(Res.decode(b)),
      },
    } as unknown as grpc.ServiceDefinition,
    {
      CreateCertificate: (call: grpc.ServerUnaryCall<{ csr: string; validity_duration: number }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        const auth = call.metadata.get('authorization')[0] as string | undefined;
        const token = /^Bearer (.+)$/.exec(auth ?? '')?.[1];
        const identity = token ? tokens[token] : undefined;
        const rec: CaCall = { authorization: auth, validitySeconds: Number(call.request.validity_duration), identity };
        calls.push(rec);
        if (!identity) return cb({ code: grpc.status.UNAUTHENTICATED, details: 'no valid token' });
        const i = ++n;
        const csr = path.join(dir, `ca-call-${i}.csr`);
        const out = path.join(dir, `ca-call-${i}.crt`);
        const conf = path.join(dir, `ca-call-${i}.cnf`);
        const db = path.join(dir, `ca-call-${i}.db`);
        fs.writeFileSync(csr, call.request.csr);
        fs.writeFileSync(db, '');
        fs.writeFileSync(path.join(dir, `ca-call-${i}.srl`), `${(0x1000 + i * 17).toString(16)}\n`);
        fs.writeFileSync(
          conf,
          `[ca]\ndefault_ca=c\n[c]\ndatabase=${db}\nnew_certs_dir=${dir}\nserial=${path.join(dir, `ca-call-${i}.srl`)}\ndefault_md=sha256\npolicy=p\nunique_subject=no\ncopy_extensions=none\n[p]\n[ext]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=critical,URI:${identity}\n`,
        );
        const now = Date.now();
        const ttl = Number(call.request.validity_duration) > 0 ? Number(call.request.validity_duration) : 86400;
        try {
          execFileSync('openssl', ['ca', '-batch', '-config', conf, '-extensions', 'ext', '-cert', ca.certFile, '-keyfile', ca.keyFile, '-subj', '/', '-startdate', stamp(new Date(now - 1000)), '-enddate', stamp(new Date(now + ttl * 1000)), '-in', csr, '-out', out, '-notext'], { stdio: 'pipe' });
        } catch (err) {
          return cb({ code: grpc.status.INVALID_ARGUMENT, details: String((err as { stderr?: Buffer }).stderr ?? err) });
        }
        rec.serial = execFileSync('openssl', ['x509', '-noout', '-serial', '-in', out]).toString().trim().replace(/^serial=/, '').toLowerCase();
        cb(null, { cert_chain: [fs.readFileSync(out, 'utf8'), ca.cert] });
      },
    },
  );
  const creds = grpc.ServerCredentials.createSsl(Buffer.from(ca.cert), [{ cert_chain: Buffer.from(serving.cert), private_key: Buffer.from(serving.key) }], false);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', creds, (e, p) => (e ? reject(e) : resolve(p))));
  return { port, calls, close: () => server.forceShutdown() };
}
