/** security.istio.io AuthorizationPolicy (v1 and v1beta1): Istio's fields, unknown ones refused. */
import { enm, list, obj, refused, str, strList, strMap, type Schema } from './schema-dsl.js';

const trustDomainsNote = 'sources would match whatever their trust domain; write the trust domain into principals instead';

export const AUTHZ_ACTIONS = ['ALLOW', 'DENY', 'AUDIT', 'CUSTOM'] as const;

const source = obj({
  principals: strList(), notPrincipals: strList(),
  requestPrincipals: strList(), notRequestPrincipals: strList(),
  namespaces: strList(), notNamespaces: strList(),
  serviceAccounts: strList(), notServiceAccounts: strList(),
  ipBlocks: strList(), notIpBlocks: strList(),
  remoteIpBlocks: strList(), notRemoteIpBlocks: strList(),
  trustDomains: refused(strList(), trustDomainsNote), notTrustDomains: refused(strList(), trustDomainsNote),
});

const operation = obj({
  hosts: strList(), notHosts: strList(),
  ports: strList(), notPorts: strList(),
  methods: strList(), notMethods: strList(),
  paths: strList(), notPaths: strList(),
});

const condition = obj({ key: str(), values: strList(), notValues: strList() }, { required: ['key'] });

const rule = obj({
  from: list(obj({ source })),
  to: list(obj({ operation })),
  when: list(condition),
});

const targetRef = obj({ group: str(), kind: str(), name: str(), namespace: str() }, { required: ['kind', 'name'] });

export const authorizationPolicySchema: Schema = obj(
  {
    selector: obj({ matchLabels: strMap() }),
    targetRef,
    targetRefs: list(targetRef),
    action: enm(...AUTHZ_ACTIONS),
    provider: obj({ name: str() }),
    rules: list(rule),
  },
  { exclusive: [['selector', 'targetRef', 'targetRefs']] },
);
