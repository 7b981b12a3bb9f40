/**
 * Cross-resource checks of Telemetry resources (istioctl analyze's telemetry analyzers): one
 * selector-less Telemetry per namespace (IST0160), no two Telemetries with the same selector
 * (IST0159), and, when the mesh config is known, providers that exist in it (IST0101).
 */
import { joinIndex, joinKey } from './field-path.js';
import { findExtensionProvider, type MeshConfig } from './mesh-config.js';
import { Codes } from './messages.js';
import { asObj, asObjList, asStr, has } from './semantic-util.js';
import type { ConfigResource } from './types.js';
import type { Reporter } from './validate-reporter.js';

export const TelemetryCodes = {
  conflictingSelectors: 'IST0159',
  multipleWithoutSelector: 'IST0160',
} as const;

function isNamespaceWide(spec: Record<string, unknown>): boolean {
  return Object.keys(asObj(asObj(spec.selector).matchLabels)).length === 0 && !has(spec, 'targetRef') && !has(spec, 'targetRefs');
}

export function crossCheckTelemetry(
  telemetries: ConfigResource[],
  reporterFor: (r: ConfigResource) => { rep: Reporter; flush: () => void },
  meshConfig: MeshConfig | undefined,
): void {
  const byNs = new Map<string, ConfigResource[]>();
  for (const t of telemetries) byNs.set(t.metadata.namespace, [...(byNs.get(t.metadata.namespace) ?? []), t]);

  for (const t of telemetries) {
    const { rep, flush } = reporterFor(t);
    const spec = asObj(t.spec);
    const ns = t.metadata.namespace;
    const siblings = (byNs.get(ns) ?? []).filter((o) => o !== t);
    if (isNamespaceWide(spec)) {
      const others = siblings.filter((o) => isNamespaceWide(asObj(o.spec))).map((o) => `${ns}/${o.metadata.name}`);
      if (others.length) {
        rep.warn('', `namespace "${ns}" has other Telemetry resources without a workload selector (${others.join(', ')}); only one of them applies`, TelemetryCodes.multipleWithoutSelector);
      }
    } else if (has(spec, 'selector')) {
      const key = JSON.stringify(Object.entries(asObj(asObj(spec.selector).matchLabels)).sort());
      const same = siblings
        .filter((o) => JSON.stringify(Object.entries(asObj(asObj(asObj(o.spec).selector).matchLabels)).sort()) === key)
        .map((o) => `${ns}/${o.metadata.name}`);
      if (same.length) {
        rep.warn('spec.selector', `selects the same workloads as Telemetry ${same.join(', ')}; only one of them applies`, TelemetryCodes.conflictingSelectors);
      }
    }
    if (meshConfig) {
      for (const section of ['tracing', 'metrics', 'accessLogging'] as const) {
        asObjList(spec[section]).forEach((entry, i) => {
          asObjList(entry.providers).forEach((p, j) => {
            const name = asStr(p.name);
            if (!name || findExtensionProvider(meshConfig, name)) return;
            const names = (meshConfig.extensionProviders ?? []).map((e) => e.name).join(', ');
            rep.warn(
              joinKey(joinIndex(joinKey(joinIndex(`spec.${section}`, i), 'providers'), j), 'name'),
              `provider "${name}" is not defined in the mesh config's extensionProviders (${names}); it is ignored`,
              Codes.referenceNotFound,
            );
          });
        });
      }
    }
    flush();
  }
}
