/** Schema pieces shared by several Istio kinds. */
import { Codes } from './messages.js';
import { any, checkHeaderName, headerValue, int, list, map, num, obj, str, strList, strMap, type Schema } from './schema-dsl.js';
import { checkProtocol } from './value-host.js';

export const portNumber = (): Schema => int(1, 65535);
export const protocol = (): Schema => str({ check: checkProtocol, code: Codes.protocol });
export const portSelector = obj({ number: portNumber() });
export const percent = obj({ value: num(0, 100) });
export const labelSelector = obj({ matchLabels: strMap() });
export const workloadSelectorLabels = obj({ labels: strMap() });

/** Istio's Port (Gateway servers, ServiceEntry, Sidecar listeners). */
export const servicePort = obj(
  { number: portNumber(), protocol: protocol(), name: str(), targetPort: portNumber() },
  { required: ['number'] },
);

const lowerCaseHeader = (k: string) =>
  k === '' ? 'header name must not be empty' : k !== k.toLowerCase() ? 'header name must be lower-case' : undefined;

export const headerKeyMap = (values: Schema): Schema => map(values, lowerCaseHeader);

/** Names and values the proxy adds to requests/responses: checked with the proxy's own predicates. */
export const headerOperations = obj({
  set: map(headerValue(), checkHeaderName),
  add: map(headerValue(), checkHeaderName),
  remove: list(str({ check: checkHeaderName, code: Codes.header })),
});
export const headers = obj({ request: headerOperations, response: headerOperations });

/** Kubernetes ObjectMeta: Clew reads name/namespace/labels/annotations, the rest passes through. */
export const objectMeta = obj(
  {
    name: str(),
    namespace: str(),
    labels: strMap(),
    annotations: strMap(),
    resourceVersion: str(),
    generation: int(),
    uid: str(),
    creationTimestamp: any(),
    generateName: str(),
    ownerReferences: any(),
    finalizers: strList(),
    managedFields: any(),
    deletionTimestamp: any(),
    deletionGracePeriodSeconds: any(),
  },
  { required: ['name'] },
);
