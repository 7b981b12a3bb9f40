/** Every analyzer `clew analyze` runs after validation (the validator's Istio codes come from src/config). */
import type { Analyzer } from './analyzer-types.js';
import { conflictingGateways, unknownAnnotations, virtualServiceHostsInGateways } from './analyzers.js';
import { destinationRuleCaCertificates } from './analyze-destination-rule.js';
import { gatewayPortsOnService } from './analyze-gateway-port.js';
import { sidecarSelectors } from './analyze-sidecar.js';
import { telemetryProviders } from './analyze-telemetry.js';
import { destinationPortRequired, virtualServiceRules } from './analyze-virtual-service.js';

export const ANALYZERS: readonly Analyzer[] = [
  unknownAnnotations,
  virtualServiceHostsInGateways,
  conflictingGateways,
  gatewayPortsOnService,
  destinationRuleCaCertificates,
  virtualServiceRules,
  destinationPortRequired,
  sidecarSelectors,
  telemetryProviders,
];
