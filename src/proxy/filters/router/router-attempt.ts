/** One upstream try of the router: forwards pool callbacks to the router, tagged with the try. */
import type { Host } from '../../upstream/host.js';
import type { UpstreamConnectionInfo } from '../../core/transport-socket.js';
import type { InHeaders, UpstreamControl, UpstreamError } from '../../core/pool.js';
import type { UpgradeExchange, UpgradeHandler } from '../../http/upgrade.js';

export interface AttemptOwner {
  onUpstreamHeaders(a: Attempt, status: number, headers: InHeaders, endStream: boolean): void;
  onUpstreamData(a: Attempt, chunk: Buffer): boolean;
  onUpstreamEnd(a: Attempt, trailers: InHeaders | undefined): void;
  onUpstreamError(a: Attempt, err: UpstreamError): void;
  /** an Upgrade attempt's upstream answered 101 */
  onUpstreamUpgrade(a: Attempt, headers: InHeaders, exchange: UpgradeExchange): void;
}

export class Attempt implements UpgradeHandler {
  control: UpstreamControl | undefined;
  /** counted in host/cluster active gauges and holding a breaker slot */
  active = true;
  /** a retried response whose body is being drained and ignored */
  discard = false;
  readonly start = performance.now();
  /** the upstream connection's TLS facts, when its transport is secure */
  peer: UpstreamConnectionInfo | undefined = undefined;

  constructor(readonly owner: AttemptOwner, readonly host: Host) {}

  onConnectionInfo(info: UpstreamConnectionInfo): void {
    this.peer = info;
  }
  onHeaders(status: number, headers: InHeaders, endStream: boolean): void {
    if (!this.discard) this.owner.onUpstreamHeaders(this, status, headers, endStream);
  }
  onData(chunk: Buffer): boolean {
    return this.discard || this.owner.onUpstreamData(this, chunk);
  }
  onEnd(trailers: InHeaders | undefined): void {
    if (!this.discard) this.owner.onUpstreamEnd(this, trailers);
  }
  onError(err: UpstreamError): void {
    if (!this.discard) this.owner.onUpstreamError(this, err);
  }
  onUpgrade(headers: InHeaders, exchange: UpgradeExchange): void {
    if (this.discard) exchange.abort();
    else this.owner.onUpstreamUpgrade(this, headers, exchange);
  }
}
