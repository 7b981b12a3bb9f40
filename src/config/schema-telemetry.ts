/** telemetry.istio.io Telemetry (v1alpha1 and v1): tracing, metrics and access logging. */
import { bool, dur, enm, list, map, noEffect, num, obj, str, strMap, type Schema } from './schema-dsl.js';

export const WORKLOAD_MODES = ['CLIENT_AND_SERVER', 'CLIENT', 'SERVER'] as const;

/** Istio's standard metrics as the Telemetry API names them (MetricSelector.IstioMetric). */
export const ISTIO_METRICS = [
  'ALL_METRICS', 'REQUEST_COUNT', 'REQUEST_DURATION', 'REQUEST_SIZE', 'RESPONSE_SIZE',
  'TCP_OPENED_CONNECTIONS', 'TCP_CLOSED_CONNECTIONS', 'TCP_SENT_BYTES', 'TCP_RECEIVED_BYTES',
  'GRPC_REQUEST_MESSAGES', 'GRPC_RESPONSE_MESSAGES',
] as const;

const mode = (): Schema => enm(...WORKLOAD_MODES);
const providers = list(obj({ name: str() }, { required: ['name'] }));
const targetRef = obj({ group: str(), kind: str(), name: str(), namespace: str() }, { required: ['kind', 'name'] });

const customTag = obj(
  {
    literal: obj({ value: str() }, { required: ['value'] }),
    environment: obj({ name: str(), defaultValue: str() }, { required: ['name'] }),
    header: obj({ name: str(), defaultValue: str() }, { required: ['name'] }),
    formatter: noEffect(obj({ value: str() }, { required: ['value'] }), 'the span gets no tag from a formatter'),
  },
  { exclusive: [['literal', 'environment', 'header', 'formatter']] },
);

const tracing = obj({
  match: obj({ mode: mode() }),
  providers,
  randomSamplingPercentage: num(0, 100),
  disableSpanReporting: bool(),
  customTags: map(customTag),
  useRequestIdForTraceSampling: noEffect(bool(), 'sampling does not follow x-request-id'),
  enableIstioTags: noEffect(bool(), "spans carry Clew's default tags"),
  disableContextPropagation: noEffect(bool(), 'trace context headers are still propagated'),
});

const metricsOverride = obj({
  match: obj({ metric: enm(...ISTIO_METRICS), customMetric: str(), mode: mode() }, { exclusive: [['metric', 'customMetric']] }),
  disabled: bool(),
  tagOverrides: map(obj({ operation: enm('UPSERT', 'REMOVE'), value: str() })),
});

const metrics = obj({ providers, overrides: list(metricsOverride), reportingInterval: noEffect(dur(), 'TCP metrics are reported when a connection closes') });

const accessLogging = obj({
  match: obj({ mode: mode() }),
  providers,
  disabled: bool(),
  filter: obj({ expression: str() }),
});

export const telemetrySchema: Schema = obj(
  {
    selector: obj({ matchLabels: strMap() }),
    targetRef,
    targetRefs: list(targetRef),
    tracing: list(tracing),
    metrics: list(metrics),
    accessLogging: list(accessLogging),
  },
  { exclusive: [['selector', 'targetRef', 'targetRefs']] },
);
