/** Envoy's TLS stats (`<scope>ssl.*`): per cluster upstream, per listener downstream. */
import type { Counter, Scope } from '../../stats/stats-store.js';

export interface TlsStats {
  handshake: Counter;
  session_reused: Counter;
  connection_error: Counter;
  fail_verify_error: Counter;
  fail_verify_san: Counter;
  fail_verify_cert_hash: Counter;
  no_certificate: Counter;
}

export function tlsStats(scope: Scope): TlsStats {
  return {
    handshake: scope.counter('ssl.handshake'),
    session_reused: scope.counter('ssl.session_reused'),
    connection_error: scope.counter('ssl.connection_error'),
    fail_verify_error: scope.counter('ssl.fail_verify_error'),
    fail_verify_san: scope.counter('ssl.fail_verify_san'),
    fail_verify_cert_hash: scope.counter('ssl.fail_verify_cert_hash'),
    no_certificate: scope.counter('ssl.no_certificate'),
  };
}
