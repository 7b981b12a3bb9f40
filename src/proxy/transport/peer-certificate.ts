/**
 * Facts about a peer certificate and the checks Envoy's CertificateValidationContext makes on a
 * chain that already verified: SAN matchers (typed or any type), SPKI pins, certificate hashes.
 */
import * as crypto from 'node:crypto';
import type * as tls from 'node:tls';
import type { SanMatcher, SanType, ValidationConfig } from './tls-config.js';

export interface SanEntry {
  type: SanType | 'OTHER';
  value: string;
}

const NODE_SAN_TYPES: Record<string, SanType> = { DNS: 'DNS', URI: 'URI', 'IP Address': 'IP_ADDRESS', email: 'EMAIL' };

/**
 * node's `subjectaltname` text (`DNS:a, URI:spiffe://x, IP Address:1.2.3.4`); values with a
 * comma or quote are JSON-quoted by node.
 */
export function parseSubjectAltName(text: string | undefined): SanEntry[] {
  const out: SanEntry[] = [];
  if (!text) return out;
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(':', i);
    if (colon < 0) break;
    const kind = text.slice(i, colon).trim();
    let value: string;
    let j = colon + 1;
    if (text[j] === '"') {
      let end = j + 1;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      try {
        value = JSON.parse(text.slice(j, end + 1)) as string;
      } catch {
        value = text.slice(j + 1, end);
      }
      j = end + 1;
      const comma = text.indexOf(',', j);
      i = comma < 0 ? text.length : comma + 1;
    } else {
      const comma = text.indexOf(', ', j);
      value = comma < 0 ? text.slice(j) : text.slice(j, comma);
      i = comma < 0 ? text.length : comma + 2;
    }
    out.push({ type: NODE_SAN_TYPES[kind] ?? 'OTHER', value });
  }
  return out;
}

function sanMatches(m: SanMatcher, sans: SanEntry[]): boolean {
  for (const s of sans) {
    if (m.type !== undefined && s.type !== m.type) continue;
    if (s.type === 'OTHER') continue;
    if (m.test(s.value)) return true;
  }
  return false;
}

export type VerifyFailure = 'san' | 'pin';

export class PeerVerifyError extends Error {
  constructor(readonly failure: VerifyFailure, message: string) {
    super(message);
    this.name = 'PeerVerifyError';
  }
  get code(): string {
    return this.failure === 'san' ? 'CLEW_TLS_SAN_MISMATCH' : 'CLEW_TLS_PIN_MISMATCH';
  }
}

/** The checks on a verified chain's leaf: undefined when it passes. */
export function verifyPeerCertificate(v: ValidationConfig, cert: tls.PeerCertificate): PeerVerifyError | undefined {
  if (v.sanMatchers.length > 0) {
    const sans = parseSubjectAltName(cert.subjectaltname);
    if (!v.sanMatchers.some((m) => sanMatches(m, sans))) {
      return new PeerVerifyError('san', `peer certificate SANs [${sans.map((s) => s.value).join(', ')}] match none of ${v.sanMatchers.map((m) => m.text).join(', ')}`);
    }
  }
  if (v.certHashes.length > 0 || v.spkiPins.length > 0) {
    const raw = cert.raw;
    const hashOk = v.certHashes.length > 0 && v.certHashes.includes(crypto.createHash('sha256').update(raw).digest('hex'));
    let spkiOk = false;
    if (!hashOk && v.spkiPins.length > 0) {
      const spki = new crypto.X509Certificate(raw).publicKey.export({ type: 'spki', format: 'der' });
      spkiOk = v.spkiPins.includes(crypto.createHash('sha256').update(spki).digest('base64'));
    }
    if (!hashOk && !spkiOk) return new PeerVerifyError('pin', 'peer certificate matches no configured hash or SPKI pin');
  }
  return undefined;
}

/** The URI SAN of a SPIFFE identity (`spiffe://td/ns/x/sa/y`) in a certificate, if any. */
export function spiffeUri(cert: { subjectaltname?: string } | undefined): string | undefined {
  if (!cert?.subjectaltname) return undefined;
  for (const s of parseSubjectAltName(cert.subjectaltname)) if (s.type === 'URI' && s.value.startsWith('spiffe://')) return s.value;
  return undefined;
}
