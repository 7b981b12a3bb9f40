/** Certificate serial numbers: 128 random bits, positive (as Go's crypto/x509 users do in Istio). */
import * as crypto from 'node:crypto';

export function randomSerial(): string {
  const b = crypto.randomBytes(16);
  b[0] &= 0x7f;
  if (b[0] === 0) b[0] = 0x01;
  return b.toString('hex');
}
