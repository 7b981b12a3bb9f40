/**
 * envoy.filters.listener.tls_inspector: tells TLS from plaintext by the first bytes of a
 * connection and reads the ClientHello's SNI and ALPN without consuming anything (the bytes are
 * put back for the TLS handshake or the plaintext codec). A connection is 'tls' only when a
 * ClientHello parses, as in Envoy; anything else is 'raw_buffer'.
 */

export interface ClientHelloInfo {
  serverName: string | undefined;
  alpn: string[];
}

/** the largest ClientHello record waited for (a TLS record's maximum plaintext length + header) */
const MAX_RECORD = 16384 + 5;

export type InspectResult =
  | { kind: 'tls'; hello: ClientHelloInfo }
  | { kind: 'raw' }
  /** more bytes are needed to decide */
  | { kind: 'more' };

/** Inspects the bytes read so far (the start of the connection). */
export function inspectClientHello(buf: Buffer): InspectResult {
  if (buf.length === 0) return { kind: 'more' };
  if (buf[0] !== 0x16) return { kind: 'raw' };
  if (buf.length < 5) return { kind: 'more' };
  if (buf[1] !== 0x03) return { kind: 'raw' };
  const recLen = buf.readUInt16BE(3);
  if (recLen + 5 > MAX_RECORD) return { kind: 'raw' };
  if (buf.length < 5 + recLen) return { kind: 'more' };
  const hello = parseClientHello(buf.subarray(5, 5 + recLen));
  return hello ? { kind: 'tls', hello } : { kind: 'raw' };
}

/** The handshake message of the first record: a ClientHello, or undefined when it is not one. */
function parseClientHello(b: Buffer): ClientHelloInfo | undefined {
  // Handshake: type(1) = client_hello, length(3); a hello split over several records is read
  // from the first record only (SNI and ALPN come early in practice); what is missing is unknown
  if (b.length < 4 || b[0] !== 0x01) return undefined;
  let p = 4;
  const end = Math.min(b.length, 4 + b.readUIntBE(1, 3));
  const need = (n: number): boolean => p + n <= end;
  if (!need(2 + 32)) return undefined;
  p += 2 + 32; // legacy_version, random
  if (!need(1)) return undefined;
  p += 1 + b[p]; // session id
  if (!need(2)) return undefined;
  p += 2 + b.readUInt16BE(p); // cipher suites
  if (!need(1)) return undefined;
  p += 1 + b[p]; // compression methods
  const info: ClientHelloInfo = { serverName: undefined, alpn: [] };
  if (!need(2)) return info; // no extensions
  const extEnd = Math.min(end, p + 2 + b.readUInt16BE(p));
  p += 2;
  while (p + 4 <= extEnd) {
    const type = b.readUInt16BE(p);
    const len = b.readUInt16BE(p + 2);
    const body = b.subarray(p + 4, Math.min(extEnd, p + 4 + len));
    p += 4 + len;
    if (type === 0 && body.length >= 5) {
      // server_name: list length(2), then entries name_type(1) length(2) name
      let q = 2;
      while (q + 3 <= body.length) {
        const nameType = body[q];
        const n = body.readUInt16BE(q + 1);
        if (nameType === 0 && q + 3 + n <= body.length) {
          info.serverName = body.subarray(q + 3, q + 3 + n).toString('latin1').toLowerCase();
          break;
        }
        q += 3 + n;
      }
    } else if (type === 16 && body.length >= 2) {
      // application_layer_protocol_negotiation: list length(2), entries length(1) name
      let q = 2;
      while (q < body.length) {
        const n = body[q];
        if (q + 1 + n > body.length) break;
        info.alpn.push(body.subarray(q + 1, q + 1 + n).toString('latin1'));
        q += 1 + n;
      }
    }
  }
  return info;
}
