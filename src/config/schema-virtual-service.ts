/** VirtualService spec schema (networking.istio.io). */
import { bool, dur, enm, headerValue, int, list, map, noEffect, obj, pathValue, refused, regex, renamed, str, strList, strMap, type Schema } from './schema-dsl.js';
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
    derivePort: refused(enm('FROM_PROTOCOL_DEFAULT', 'FROM_REQUEST_PORT'), 'the redirect would keep the request port'),
    scheme: pathValue(),
    redirectCode: int(300, 399, 'must be a 3xx redirect code'),
    prefixRewrite: refused(pathValue(), 'the redirect would keep the matched path prefix'),
  },
  { exclusive: [['port', 'derivePort'], ['uri', 'prefixRewrite']] },
);

const rewrite = obj(
  { uri: pathValue(), authority: headerValue(), uriRegexRewrite: obj({ match: regex(), rewrite: pathValue() }, { required: ['match', 'rewrite'] }) },
  { exclusive: [['uri', 'uriRegexRewrite']] },
);

const retries = obj({
  attempts: int(0),
  perTryTimeout: dur(),
  retryOn: str(),
  retryRemoteLocalities: noEffect(bool(), 'retries may go to any locality'),
  retryIgnorePreviousHosts: noEffect(bool(), 'a retry may pick a host that already failed'),
  backoff: dur(),
});

const fault = obj({
  delay: obj(
    { fixedDelay: dur(), exponentialDelay: noEffect(dur(), 'no exponential delay is injected'), percentage: percent, percent: int(0, 100) },
    { exclusive: [['fixedDelay', 'exponentialDelay'], ['percentage', 'percent']] },
  ),
  abort: obj(
    { httpStatus: int(200, 599), grpcStatus: str(), http2Error: noEffect(str(), 'no HTTP/2 error is injected'), percentage: percent },
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
    unmatchedPreflights: refused(enm('UNSPECIFIED', 'FORWARD', 'IGNORE'), 'preflight requests that match no allowed origin would be handled the default way', (v) => v !== 'UNSPECIFIED'),
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
    mirrors: refused(list(obj({ destination, percentage: percent }, { required: ['destination'] })), 'traffic would not be copied to these destinations; use mirror'),
    mirrorPercentage: percent,
    mirrorPercent: int(0, 100),
    mirror_percent: renamed(int(0, 100), 'mirrorPercent'),
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
      ['redirect', 'fault'],
      ['directResponse', 'fault'],
      ['directResponse', 'rewrite'],
      ['delegate', 'redirect'],
      ['mirror', 'mirrors'],
      ['mirrorPercentage', 'mirrorPercent'],
      ['mirrorPercent', 'mirror_percent'],
    ],
  },
);

const destinationSubnets = refused(strList(), 'the route would match connections to any destination address');

const l4Match = obj({
  destinationSubnets,
  port: portNumber(),
  sourceLabels: strMap(),
  gateways: strList(),
  sourceNamespace: str(),
  sourceSubnet: refused(str(), 'the route would match connections from any source address'),
});

const routeDestination = obj({ destination, weight: int(0) }, { required: ['destination'] });

const tcpRoute = obj({ match: list(l4Match), route: list(routeDestination) });

const tlsMatch = obj(
  {
    sniHosts: strList(),
    destinationSubnets,
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
