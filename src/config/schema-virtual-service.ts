/** VirtualService spec schema (networking.istio.io). */
import { bool, dur, enm, headerValue, int, list, map, obj, pathValue, regex, str, strList, strMap, type Schema } from './schema-dsl.js';
import { headerKeyMap, headers, percent, portNumber, portSelector } from './schema-common.js';

const stringMatch = obj({ exact: str(), prefix: str(), regex: regex() }, { exclusive: [['exact', 'prefix', 'regex']] });

const destination = obj({ host: str(), subset: str(), port: portSelector }, { required: ['host'] });

const httpMatch = obj({
  name: str(),
  uri: stringMatch,
  scheme: stringMatch,
  method: stringMatch,
  authority: stringMatch,
  headers: headerKeyMap(stringMatch),
  withoutHeaders: headerKeyMap(stringMatch),
  queryParams: map(stringMatch),
  port: portNumber(),
  sourceLabels: strMap(),
  sourceNamespace: str(),
  gateways: strList(),
  ignoreUriCase: bool(),
  statPrefix: str(),
});

const httpRouteDestination = obj({ destination, weight: int(0), headers }, { required: ['destination'] });

const redirect = obj(
  {
    uri: pathValue(),
    authority: pathValue(),
    port: portNumber(),
    derivePort: enm('FROM_PROTOCOL_DEFAULT', 'FROM_REQUEST_PORT'),
    scheme: pathValue(),
    redirectCode: int(300, 399, 'must be a 3xx redirect code'),
  },
  { exclusive: [['port', 'derivePort']] },
);

const rewrite = obj(
  { uri: pathValue(), authority: headerValue(), uriRegexRewrite: obj({ match: regex(), rewrite: pathValue() }, { required: ['match', 'rewrite'] }) },
  { exclusive: [['uri', 'uriRegexRewrite']] },
);

const retries = obj({
  attempts: int(0),
  perTryTimeout: dur(),
  retryOn: str(),
  retryRemoteLocalities: bool(),
  retryIgnorePreviousHosts: bool(),
  backoff: dur(),
});

const fault = obj({
  delay: obj(
    { fixedDelay: dur(), exponentialDelay: dur(), percentage: percent, percent: int(0, 100) },
    { exclusive: [['fixedDelay', 'exponentialDelay'], ['percentage', 'percent']] },
  ),
  abort: obj(
    { httpStatus: int(200, 599), grpcStatus: str(), http2Error: str(), percentage: percent },
    { exclusive: [['httpStatus', 'grpcStatus', 'http2Error']] },
  ),
});

const corsPolicy = obj(
  {
    allowOrigins: list(stringMatch),
    allowOrigin: strList(),
    allowMethods: list(headerValue()),
    allowHeaders: list(headerValue()),
    exposeHeaders: list(headerValue()),
    maxAge: dur(),
    allowCredentials: bool(),
    unmatchedPreflights: enm('UNSPECIFIED', 'FORWARD', 'IGNORE'),
  },
  { exclusive: [['allowOrigins', 'allowOrigin']] },
);

const directResponse = obj(
  { status: int(200, 599), body: obj({ string: str(), bytes: str() }, { exclusive: [['string', 'bytes']] }) },
  { required: ['status'] },
);

const httpRoute = obj(
  {
    name: str(),
    match: list(httpMatch),
    route: list(httpRouteDestination),
    redirect,
    directResponse,
    delegate: obj({ name: str(), namespace: str() }, { required: ['name'] }),
    rewrite,
    timeout: dur(),
    retries,
    fault,
    mirror: destination,
    mirrors: list(obj({ destination, percentage: percent }, { required: ['destination'] })),
    mirrorPercentage: percent,
    mirrorPercent: int(0, 100),
    corsPolicy,
    headers,
  },
  {
    exclusive: [
      ['route', 'redirect'],
      ['route', 'directResponse'],
      ['redirect', 'directResponse'],
      ['route', 'delegate'],
      ['redirect', 'rewrite'],
      ['mirror', 'mirrors'],
      ['mirrorPercentage', 'mirrorPercent'],
    ],
  },
);

const l4Match = obj({
  destinationSubnets: strList(),
  port: portNumber(),
  sourceLabels: strMap(),
  gateways: strList(),
  sourceNamespace: str(),
  sourceSubnet: str(),
});

const routeDestination = obj({ destination, weight: int(0) }, { required: ['destination'] });

const tcpRoute = obj({ match: list(l4Match), route: list(routeDestination) });

const tlsMatch = obj(
  {
    sniHosts: strList(),
    destinationSubnets: strList(),
    port: portNumber(),
    sourceLabels: strMap(),
    gateways: strList(),
    sourceNamespace: str(),
  },
  { required: ['sniHosts'] },
);

const tlsRoute = obj({ match: list(tlsMatch), route: list(routeDestination) }, { required: ['match'] });

export const virtualServiceSchema: Schema = obj({
  hosts: strList(),
  gateways: strList(),
  http: list(httpRoute),
  tcp: list(tcpRoute),
  tls: list(tlsRoute),
  exportTo: strList(),
});
