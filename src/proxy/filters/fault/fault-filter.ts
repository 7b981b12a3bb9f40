/**
 * envoy.filters.http.fault: injected delay (flag DI) then abort (flag FI, "fault filter abort" or
 * a gRPC status). A route's typed_per_filter_config replaces the listener-level settings.
 */
import { FAULT_TYPE } from '../../../xds/type-urls.js';
import type { FilterHeadersStatus, HttpFilter, HttpFilterCallbacks as Callbacks, HttpFilterConfig, HttpFilterFactory } from '../../filter-api/http-filter.js';
import { parseFault, type FaultSettings } from './fault-config.js';

class FaultFilter implements HttpFilter {
  private timer: NodeJS.Timeout | undefined;
  private active = false;
  constructor(private readonly cfg: FaultConfig) {}

  decodeHeaders(s: Callbacks): FilterHeadersStatus {
    const f = s.perFilterConfig<FaultSettings>(this.cfg.name) ?? this.cfg.settings;
    for (const h of f.headers) if (!h.test(s.headers)) return 'continue';
    if (this.cfg.active >= f.maxActiveFaults) return 'continue';
    const delay = f.delayMs !== undefined && f.delayMs >= 0 && Math.random() < f.delayFraction;
    const abort = (f.abortStatus !== undefined || f.abortGrpcStatus !== undefined) && Math.random() < f.abortFraction;
    if (!delay && !abort) return 'continue';
    this.cfg.active++;
    this.active = true;
    if (delay) {
      s.addFlag('DI');
      this.timer = setTimeout(() => {
        this.timer = undefined;
        if (abort) this.abort(s, f);
        else {
          this.release();
          s.continueDecoding();
        }
      }, f.delayMs);
      return 'stop';
    }
    this.abort(s, f);
    return 'stop';
  }

  private abort(s: Callbacks, f: FaultSettings): void {
    this.release();
    if (f.abortGrpcStatus !== undefined) {
      s.info.responseFlags.add('FI');
      if (s.isGrpc) s.sendLocalReply(200, 'fault filter abort', undefined, { grpcStatus: f.abortGrpcStatus });
      else s.sendLocalReply(503, 'fault filter abort', undefined);
      return;
    }
    s.sendLocalReply(f.abortStatus!, 'fault filter abort', 'FI');
  }

  private release(): void {
    if (this.active) {
      this.active = false;
      this.cfg.active--;
    }
  }

  onDestroy(): void {
    if (this.timer) clearTimeout(this.timer);
    this.release();
  }
}

class FaultConfig implements HttpFilterConfig {
  active = 0;
  constructor(readonly name: string, readonly settings: FaultSettings) {}
  create(): HttpFilter {
    return new FaultFilter(this);
  }
}

export const faultFilterFactory: HttpFilterFactory = {
  typeUrls: [FAULT_TYPE],
  perRouteTypeUrls: [FAULT_TYPE],
  parse: (config, name) => new FaultConfig(name, parseFault(config)),
  parsePerRoute: (config) => parseFault(config),
};
