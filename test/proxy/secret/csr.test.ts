/** The agent's key and CSR: RSA 2048 or ECDSA P-256, the CSR's signature checked by openssl, the SPIFFE ID as a URI SAN. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import { makeKeyAndCsr } from '../../../src/proxy/secret/csr.js';

for (const [alg, type, detail] of [['rsa', 'rsa', 'modulusLength'], ['ecdsa', 'ec', 'namedCurve']] as const) {
  test(`${alg}: the key is ${type} and the CSR verifies with openssl, carrying the SPIFFE URI`, async () => {
    const { keyPem, csrPem } = await makeKeyAndCsr(alg, 'spiffe://cluster.local/ns/ns1/sa/sa1');
    const key = crypto.createPrivateKey(keyPem);
    assert.equal(key.asymmetricKeyType, type);
    assert.equal(key.asymmetricKeyDetails?.[detail], alg === 'rsa' ? 2048 : 'prime256v1');
    const text = execFileSync('openssl', ['req', '-verify', '-noout', '-text'], { input: csrPem, stdio: ['pipe', 'pipe', 'pipe'] }).toString();
    assert.match(text, /URI:spiffe:\/\/cluster\.local\/ns\/ns1\/sa\/sa1/);
    // the CSR's public key is the key's
    const pub = execFileSync('openssl', ['req', '-noout', '-pubkey'], { input: csrPem }).toString();
    assert.equal(crypto.createPublicKey(pub).export({ type: 'spki', format: 'pem' }), crypto.createPublicKey(key).export({ type: 'spki', format: 'pem' }));
  });
}
