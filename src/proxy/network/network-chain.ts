/**
 * A filter chain's network filters and terminal, parsed once per LDS update, and the run of them
 * on a connection. The non-terminal filters run when the connection reaches the chain; the
 * terminal (HCM or TCP proxy) takes it once every filter continued. In local mode the outbound
 * dispatcher routes each HTTP request to a chain by its Host: the chain's filters then run once
 * per connection and chain (remembered on the connection context), before the first request
 * that goes there.
 */
import type { Duplex } from 'node:stream';
import type { ConnectionContext } from '../core/connection-context.js';
import type { NetworkFilter, NetworkFilterCallbacks, NetworkFilterConfig, NetworkTerminal } from '../filter-api/network-filter.js';

export interface NetworkChain {
  /** filters before the terminal (completion-only ones excluded) */
  readonly filters: readonly NetworkFilterConfig[];
  readonly terminal: NetworkTerminal;
}

class ChainRun implements NetworkFilterCallbacks {
  private index = 0;
  private readonly live: NetworkFilter[] = [];
  private closed = false;

  constructor(
    private readonly chain: NetworkChain,
    readonly socket: Duplex,
    readonly conn: ConnectionContext,
    private readonly onAdmit: () => void,
  ) {
    socket.once('close', () => {
      this.closed = true;
      for (const f of this.live) f.onDestroy?.();
    });
  }

  continueReading(): void {
    const filters = this.chain.filters;
    while (!this.closed && this.index < filters.length) {
      const f = filters[this.index++].create();
      this.live.push(f);
      if (f.onNewConnection(this) !== 'continue') return;
    }
    if (!this.closed) this.onAdmit();
  }

  close(details: string): void {
    if (this.closed) return;
    this.closed = true;
    this.conn.terminationDetails = details;
    this.chain.terminal.onRejected?.(this.conn, details);
    this.socket.destroy();
  }
}

/** Runs the chain's filters on a connection, then `onAdmit` (the terminal takes it). */
export function runNetworkFilters(chain: NetworkChain, socket: Duplex, ctx: ConnectionContext, onAdmit: () => void): void {
  if (chain.filters.length === 0) return onAdmit();
  new ChainRun(chain, socket, ctx, onAdmit).continueReading();
}

/** The connection goes to the chain's terminal after its filters. */
export function handToNetworkChain(chain: NetworkChain, socket: Duplex, ctx: ConnectionContext): void {
  if (chain.filters.length === 0) return chain.terminal.handleConnection(socket, ctx);
  runNetworkFilters(chain, socket, ctx, () => chain.terminal.handleConnection(socket, ctx));
}

/**
 * Local mode's dispatcher (one connection, requests for several chains): the chain's filters run
 * once per connection; `then` runs when they let the connection through (at once when they did
 * before). A filter that closes the connection ends every request on it.
 */
export function admitToChain(chain: NetworkChain, socket: Duplex, ctx: ConnectionContext, then: () => void): void {
  if (chain.filters.length === 0) return then();
  const done = (ctx.admittedChains ??= []);
  if (done.includes(chain)) return then();
  runNetworkFilters(chain, socket, ctx, () => {
    if (done.length < 64) done.push(chain);
    then();
  });
}
