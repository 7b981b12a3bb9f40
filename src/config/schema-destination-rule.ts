/** DestinationRule spec schema (networking.istio.io), with Istio's current fields. */
import { bool, dur, enm, int, list, map, noEffect, num, obj, refused, str, strList, strMap, type Schema } from './schema-dsl.js';
import { labelSelector, portSelector } from './schema-common.js';

const nonNegative = () => int(0);
const failover = list(obj({ from: str(), to: str() }));

const loadBalancer = obj(
  {
    simple: enm('UNSPECIFIED', 'LEAST_CONN', 'RANDOM', 'PASSTHROUGH', 'ROUND_ROBIN', 'LEAST_REQUEST'),
    consistentHash: obj(
      {
        httpHeaderName: str(),
        httpCookie: obj(
          {
            name: str(), path: str(), ttl: dur(0),
            attributes: noEffect(list(obj({ name: str(), value: str() }, { required: ['name'] })), 'extra Set-Cookie attributes of the affinity cookie'),
          },
          { required: ['name'] },
        ),
        useSourceIp: bool(),
        httpQueryParameterName: str(),
        ringHash: obj({ minimumRingSize: nonNegative() }),
        maglev: obj({ tableSize: nonNegative() }),
        minimumRingSize: nonNegative(),
      },
      {
        exclusive: [
          ['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName'],
          ['ringHash', 'maglev'],
          ['ringHash', 'minimumRingSize'],
        ],
      },
    ),
    localityLbSetting: obj(
      {
        distribute: list(obj({ from: str(), to: map(int(0, 100)) })),
        failover,
        failoverPriority: noEffect(strList(), 'endpoints are not ordered by label priority; locality failover still applies'),
        enabled: bool(),
      },
      { exclusive: [['distribute', 'failover']] },
    ),
    zoneAwareLbSetting: noEffect(
      obj({ enabled: bool(), failover, failoverPriority: strList(), minClusterSize: int(1) }),
      "Envoy's zone-aware routing: endpoints are picked without zone weighting",
    ),
    warmupDurationSecs: noEffect(dur(), 'new endpoints get their full share of requests at once'),
    warmup: noEffect(
      obj({ duration: dur(), minimumPercent: num(0, 100), aggression: num() }, { required: ['duration'] }),
      'new endpoints get their full share of requests at once',
    ),
  },
  { exclusive: [['simple', 'consistentHash'], ['localityLbSetting', 'zoneAwareLbSetting'], ['warmupDurationSecs', 'warmup']] },
);

const http2KeepAlive = noEffect(obj({ interval: dur(), timeout: dur() }), 'no HTTP/2 PING keepalive is sent upstream');

export const connectionPoolSchema = obj({
  tcp: obj({
    maxConnections: nonNegative(),
    connectTimeout: dur(),
    tcpKeepalive: obj({ probes: nonNegative(), time: dur(), interval: dur() }),
    maxConnectionDuration: dur(),
    idleTimeout: dur(0),
  }),
  http: obj({
    http1MaxPendingRequests: nonNegative(),
    http2MaxRequests: nonNegative(),
    maxRequestsPerConnection: nonNegative(),
    maxRetries: nonNegative(),
    idleTimeout: dur(),
    h2UpgradePolicy: enm('DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE'),
    useClientProtocol: bool(),
    maxConcurrentStreams: nonNegative(),
    http2KeepAlive,
  }),
});

const outlierDetection = obj({
  splitExternalLocalOriginErrors: bool(),
  consecutiveLocalOriginFailures: nonNegative(),
  consecutiveGatewayErrors: nonNegative(),
  consecutive5xxErrors: nonNegative(),
  consecutiveErrors: nonNegative(),
  interval: dur(),
  baseEjectionTime: dur(),
  maxEjectionPercent: int(0, 100),
  minHealthPercent: int(0, 100),
  outlierDetectionHttpErrorCodes: noEffect(list(int(100, 599)), 'only 5xx and gateway errors count toward ejection'),
});

const tls = obj({
  mode: enm('DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL'),
  clientCertificate: str(),
  privateKey: str(),
  caCertificates: str(),
  caCrl: refused(str(), 'certificate revocation lists are not checked: a revoked server certificate would be trusted'),
  credentialName: str(),
  subjectAltNames: strList(),
  sni: str(),
  insecureSkipVerify: bool(),
});

const policyFields = { loadBalancer, connectionPool: connectionPoolSchema, outlierDetection, tls };

const trafficPolicy = obj(
  {
    ...policyFields,
    portLevelSettings: list(obj({ port: portSelector, ...policyFields }, { required: ['port'] })),
    tunnel: refused(
      obj({ protocol: str(), targetHost: str(), targetPort: int(1, 65535) }, { required: ['targetHost', 'targetPort'] }),
      'connections would go straight to the destination instead of through the tunnel proxy',
    ),
    proxyProtocol: refused(obj({ version: enm('V1', 'V2') }), 'the upstream would not receive the PROXY protocol header it expects'),
    retryBudget: noEffect(
      obj({ percent: num(0, 100), minRetryConcurrency: nonNegative(), budgetInterval: dur() }),
      'retries are limited by maxRetries only',
    ),
  },
  { exclusive: [['tunnel', 'proxyProtocol']] },
);

export const destinationRuleSchema: Schema = obj(
  {
    host: str(),
    trafficPolicy,
    subsets: list(obj({ name: str(), labels: strMap(), trafficPolicy }, { required: ['name'] })),
    exportTo: strList(),
    workloadSelector: labelSelector,
  },
  { required: ['host'] },
);
