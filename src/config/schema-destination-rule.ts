/** DestinationRule spec schema (networking.istio.io). */
import { bool, dur, enm, int, list, map, num, obj, str, strList, strMap, type Schema } from './schema-dsl.js';
import { labelSelector, portSelector } from './schema-common.js';

const nonNegative = () => int(0);

const loadBalancer = obj(
  {
    simple: enm('UNSPECIFIED', 'LEAST_CONN', 'RANDOM', 'PASSTHROUGH', 'ROUND_ROBIN', 'LEAST_REQUEST'),
    consistentHash: obj(
      {
        httpHeaderName: str(),
        httpCookie: obj({ name: str(), path: str(), ttl: dur(0), attributes: list(obj({ name: str(), value: str() })) }, { required: ['name'] }),
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
        failover: list(obj({ from: str(), to: str() })),
        failoverPriority: strList(),
        enabled: bool(),
      },
      { exclusive: [['distribute', 'failover']] },
    ),
    warmupDurationSecs: dur(0),
    warmup: obj({ duration: dur(), minimumPercent: num(0, 100), aggression: num(1) }),
  },
  { exclusive: [['simple', 'consistentHash']] },
);

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
});

const tls = obj({
  mode: enm('DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL'),
  clientCertificate: str(),
  privateKey: str(),
  caCertificates: str(),
  caCrl: str(),
  credentialName: str(),
  subjectAltNames: strList(),
  sni: str(),
  insecureSkipVerify: bool(),
});

const policyFields = { loadBalancer, connectionPool: connectionPoolSchema, outlierDetection, tls };

const trafficPolicy = obj({
  ...policyFields,
  portLevelSettings: list(obj({ port: portSelector, ...policyFields }, { required: ['port'] })),
  tunnel: obj({ protocol: str(), targetHost: str(), targetPort: int(1, 65535) }),
  proxyProtocol: obj({ version: enm('V1', 'V2') }),
});

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
