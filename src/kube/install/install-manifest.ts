/**
 * What `clew install` puts into a cluster, as plain objects (istioctl install's default profile,
 * reduced to Clew's parts): namespace istio-system, the CRDs of the kinds table, the control
 * plane's ServiceAccount and RBAC (read the registry kinds and Istio config, write Istio status,
 * the status Lease, TokenReview, the webhook configurations' caBundle), the `istio` mesh
 * ConfigMap, the Deployment and Service `istiod` (15010, 15012, 15014, 443 → 15017), and the
 * validating and injecting webhook configurations pointing at that Service. Every object carries
 * `app.kubernetes.io/part-of: clew`, which is how `clew uninstall` finds what install added.
 */
import { isIstioGroup, KINDS } from '../../config/kinds.js';
import type { KubeObject } from '../kube-client.js';
import { MUTATING_WEBHOOK_CONFIG, VALIDATING_WEBHOOK_CONFIG } from '../kube-webhooks.js';
import { istioCrds } from './install-crds.js';

export interface InstallOptions {
  namespace: string;
  image: string;
  /** the mesh ConfigMap's `mesh` key (Istio MeshConfig YAML) */
  meshConfig: string;
}

export const DEFAULT_INSTALL: InstallOptions = {
  namespace: 'istio-system',
  image: 'clew:latest',
  meshConfig: 'trustDomain: cluster.local\nrootNamespace: istio-system\n',
};

export const PART_OF = { 'app.kubernetes.io/part-of': 'clew' };

/** The objects in the order they are applied (uninstall deletes in reverse). */
export function installObjects(o: InstallOptions = DEFAULT_INSTALL): KubeObject[] {
  const ns = o.namespace;
  const labels = { app: 'istiod', ...PART_OF };
  const md = (name: string, namespaced = true) => ({ name, ...(namespaced ? { namespace: ns } : {}), labels: { ...labels } });
  const istioGroups = [...new Set(KINDS.filter((k) => isIstioGroup(k.group)).map((k) => k.group))];
  const svc = (path: string) => ({ service: { name: 'istiod', namespace: ns, path, port: 443 } });
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: md(ns, false) },
    ...(istioCrds() as unknown as KubeObject[]),
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: md('istiod') },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: md('istiod-clusterrole-istio-system', false),
      rules: [
        { apiGroups: [''], resources: ['services', 'pods', 'namespaces', 'nodes'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: istioGroups, resources: ['*'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: istioGroups, resources: ['*/status'], verbs: ['get', 'update', 'patch'] },
        { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
        {
          apiGroups: ['admissionregistration.k8s.io'], resources: ['validatingwebhookconfigurations', 'mutatingwebhookconfigurations'],
          verbs: ['get', 'list', 'watch', 'update'],
        },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: md('istiod-clusterrole-istio-system', false),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'istiod-clusterrole-istio-system' },
      subjects: [{ kind: 'ServiceAccount', name: 'istiod', namespace: ns }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: md('istiod'),
      rules: [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: md('istiod'),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'istiod' },
      subjects: [{ kind: 'ServiceAccount', name: 'istiod', namespace: ns }],
    },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: md('istio'), data: { mesh: o.meshConfig } },
    {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: md('istiod'),
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'istiod' } },
        template: {
          metadata: { labels: { ...labels, 'sidecar.istio.io/inject': 'false' } },
          spec: {
            serviceAccountName: 'istiod',
            containers: [{
              name: 'discovery', image: o.image,
              args: [
                'control-plane', '--in-cluster', '--system-namespace', ns, '--config-dir', '/var/lib/clew',
                '--mesh-config', '/etc/istio/config/mesh', '--listen-address', '0.0.0.0', '--debug-address', '0.0.0.0',
                '--webhook-port', '15017', '--proxy-image', o.image,
              ],
              ports: [
                { name: 'grpc-xds', containerPort: 15010 }, { name: 'https-dns', containerPort: 15012 },
                { name: 'http-monitoring', containerPort: 15014 }, { name: 'https-webhooks', containerPort: 15017 },
              ],
              readinessProbe: { httpGet: { path: '/ready', port: 15014 }, periodSeconds: 3 },
              securityContext: { runAsNonRoot: true, runAsUser: 1337, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              volumeMounts: [{ name: 'state', mountPath: '/var/lib/clew' }, { name: 'config-volume', mountPath: '/etc/istio/config' }],
            }],
            volumes: [{ name: 'state', emptyDir: {} }, { name: 'config-volume', configMap: { name: 'istio' } }],
          },
        },
      },
    },
    {
      apiVersion: 'v1', kind: 'Service', metadata: md('istiod'),
      spec: {
        selector: { app: 'istiod' },
        ports: [
          { name: 'grpc-xds', port: 15010, targetPort: 15010 }, { name: 'https-dns', port: 15012, targetPort: 15012 },
          { name: 'http-monitoring', port: 15014, targetPort: 15014 }, { name: 'https-webhook', port: 443, targetPort: 15017 },
        ],
      },
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata: md(VALIDATING_WEBHOOK_CONFIG, false),
      webhooks: [{
        name: 'validation.istio.io', clientConfig: svc('/validate'),
        rules: [{ operations: ['CREATE', 'UPDATE'], apiGroups: istioGroups, apiVersions: ['*'], resources: ['*'] }],
        // the control plane writes caBundle when it starts; until then Ignore would let anything in
        failurePolicy: 'Fail', sideEffects: 'None', admissionReviewVersions: ['v1'],
      }],
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: md(MUTATING_WEBHOOK_CONFIG, false),
      webhooks: [
        {
          name: 'namespace.sidecar-injector.istio.io', clientConfig: svc('/inject'),
          rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
          namespaceSelector: { matchExpressions: [{ key: 'istio-injection', operator: 'In', values: ['enabled'] }] },
          objectSelector: { matchExpressions: [{ key: 'sidecar.istio.io/inject', operator: 'NotIn', values: ['false'] }] },
          failurePolicy: 'Fail', sideEffects: 'None', admissionReviewVersions: ['v1'], reinvocationPolicy: 'Never',
        },
        {
          name: 'object.sidecar-injector.istio.io', clientConfig: svc('/inject'),
          rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
          namespaceSelector: { matchExpressions: [{ key: 'istio-injection', operator: 'DoesNotExist' }, { key: 'istio.io/rev', operator: 'DoesNotExist' }] },
          objectSelector: { matchExpressions: [{ key: 'sidecar.istio.io/inject', operator: 'In', values: ['true'] }] },
          failurePolicy: 'Fail', sideEffects: 'None', admissionReviewVersions: ['v1'], reinvocationPolicy: 'Never',
        },
      ],
    },
  ];
}

const CLUSTER_SCOPED = new Set(['Namespace', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding', 'ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']);
const PLURAL: Record<string, string> = {
  Namespace: 'namespaces', CustomResourceDefinition: 'customresourcedefinitions', ServiceAccount: 'serviceaccounts',
  ClusterRole: 'clusterroles', ClusterRoleBinding: 'clusterrolebindings', Role: 'roles', RoleBinding: 'rolebindings',
  ConfigMap: 'configmaps', Deployment: 'deployments', Service: 'services',
  ValidatingWebhookConfiguration: 'validatingwebhookconfigurations', MutatingWebhookConfiguration: 'mutatingwebhookconfigurations',
};

/** The API path of one installed object. */
export function objectPath(o: KubeObject): string {
  const api = (o.apiVersion ?? 'v1').includes('/') ? `/apis/${o.apiVersion}` : `/api/${o.apiVersion ?? 'v1'}`;
  const plural = PLURAL[o.kind ?? ''];
  if (!plural) throw new Error(`install: no API path for kind ${o.kind}`);
  const ns = CLUSTER_SCOPED.has(o.kind ?? '') ? '' : `/namespaces/${o.metadata.namespace}`;
  return `${api}${ns}/${plural}/${o.metadata.name}`;
}
