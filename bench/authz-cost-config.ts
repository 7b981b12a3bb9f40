/**
 * The authorization load of bench/authz-cost.ts (issue 18, "Must show" 6), shared by its mesh runs
 * and its in-process microbenchmark: 50 AuthorizationPolicies selecting one workload and a
 * RequestAuthentication with an inline JWKS, plus a signing key and the token every benchmark
 * request carries.
 *
 * The policies are a realistic mix, built so that a request the benchmark sends goes through all
 * of them: 5 DENY policies (admin paths, DELETE on the API, a blocked header, requests without a
 * JWT — Istio's "require JWT" pattern —, bad source ranges) that it does not match, 44 ALLOW
 * policies for other teams (peer principals, namespaces, request principals of other issuers, paths,
 * methods, hosts, ports, header and claim conditions in `when`) that it does not match, and last in
 * Envoy's policy order the ALLOW it does match: our issuer's request principals, GET on /api/v1/*,
 * a `groups` claim and a tenant header.
 */
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

export const AUTHZ_ISSUER = 'https://issuer.bench.example';
export const AUTHZ_AUDIENCE = 'bench-api';
/** the path and headers of the benchmark's requests (the token comes on top) */
export const AUTHZ_PATH = '/api/v1/items/42';
export const AUTHZ_HEADERS = { 'x-tenant': 'tenant-7' } as const;
export const AUTHZ_POLICY_COUNT = 50;

export type JwtAlg = 'RS256' | 'ES256';

export interface AuthzMaterial {
  alg: JwtAlg;
  /** the public keys as a JWKS document (JSON) */
  jwks: string;
  /** a valid token (1 h) for the benchmark's requests */
  token: string;
  /** the same key, a token with another signature (tamper check) */
  badToken: string;
}

export async function makeAuthzMaterial(alg: JwtAlg): Promise<AuthzMaterial> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench-1', alg, use: 'sig' };
  const token = await new SignJWT({ groups: ['dev', 'bench'], scope: 'items:read items:write', tenant: 'tenant-7' })
    .setProtectedHeader({ alg, kid: 'bench-1', typ: 'JWT' })
    .setIssuer(AUTHZ_ISSUER).setSubject('alice').setAudience(AUTHZ_AUDIENCE)
    .setIssuedAt().setExpirationTime('1h')
    .sign(privateKey);
  const other = await generateKeyPair(alg);
  const badToken = await new SignJWT({ groups: ['dev'] })
    .setProtectedHeader({ alg, kid: 'bench-1', typ: 'JWT' })
    .setIssuer(AUTHZ_ISSUER).setSubject('mallory').setAudience(AUTHZ_AUDIENCE).setExpirationTime('1h')
    .sign(other.privateKey);
  return { alg, jwks: JSON.stringify({ keys: [jwk] }), token, badToken };
}

function policy(name: string, namespace: string, app: string, action: 'ALLOW' | 'DENY', rules: unknown[]): string {
  return `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  selector: {matchLabels: {app: ${app}}}
  action: ${action}
  rules: ${JSON.stringify(rules)}
`;
}

/** The 50 policies and the RequestAuthentication for workloads `app=<app>` in `namespace`, as YAML. */
export function authzConfigYaml(m: AuthzMaterial, namespace: string, app: string): string {
  const out: string[] = [];
  // DENY (evaluated first): none of them matches a benchmark request
  out.push(policy('deny-admin', namespace, app, 'DENY', [{ to: [{ operation: { paths: ['/admin', '/admin/*', '/debug/*'] } }] }]));
  out.push(policy('deny-delete', namespace, app, 'DENY', [{ to: [{ operation: { methods: ['DELETE', 'PATCH'], paths: ['/api/*'] } }] }]));
  out.push(policy('deny-blocked', namespace, app, 'DENY', [{ when: [{ key: 'request.headers[x-blocked]', values: ['true', 'yes'] }] }]));
  out.push(policy('deny-no-jwt', namespace, app, 'DENY', [{ from: [{ source: { notRequestPrincipals: ['*'] } }] }]));
  out.push(policy('deny-ranges', namespace, app, 'DENY', [{ from: [{ source: { ipBlocks: ['203.0.113.0/24', '198.51.100.0/24'] } }] }]));
  // ALLOW for other teams: each looks at several fields, none matches a benchmark request
  for (let i = 0; i < AUTHZ_POLICY_COUNT - 6; i++) {
    const n = String(i).padStart(2, '0');
    const from = i % 3 === 0
      ? { source: { requestPrincipals: [`https://issuer-${i}.example/*`] } }
      : i % 3 === 1
        ? { source: { principals: [`cluster.local/ns/team-${i}/sa/client`, `cluster.local/ns/team-${i}/sa/batch`] } }
        : { source: { namespaces: [`team-${i}`], notIpBlocks: ['10.200.0.0/16'] } };
    const operation: Record<string, unknown> = {
      methods: i % 2 ? ['GET', 'HEAD'] : ['GET', 'POST', 'PUT'],
      // half of them share the benchmark request's method and API prefix: RBAC must look further
      paths: [`/api/v${i + 2}/*`, `/team-${i}/{*}/items`, `/svc-${i}`],
    };
    if (i % 5 === 0) operation.hosts = [`team-${i}.example.com`, `*.team-${i}.internal`];
    if (i % 7 === 0) operation.ports = ['8080'];
    const when = [{ key: 'request.headers[x-tenant]', values: [`tenant-${i + 100}`, `tenant-${i + 200}*`] }];
    if (i % 4 === 0) when.push({ key: 'request.auth.claims[groups]', values: [`team-${i}`] });
    out.push(policy(`team-${n}-allow`, namespace, app, 'ALLOW', [{ from: [from], to: [{ operation }], when }]));
  }
  // the ALLOW a benchmark request matches, last in Envoy's (sorted) policy order
  out.push(policy('zz-allow-jwt-users', namespace, app, 'ALLOW', [{
    from: [{ source: { requestPrincipals: [`${AUTHZ_ISSUER}/*`] } }],
    to: [{ operation: { methods: ['GET'], paths: ['/api/v1/*'] } }],
    when: [
      { key: 'request.auth.claims[groups]', values: ['dev'] },
      { key: 'request.headers[x-tenant]', values: ['tenant-7'] },
    ],
  }]));
  out.push(`---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt-bench, namespace: ${namespace}}
spec:
  selector: {matchLabels: {app: ${app}}}
  jwtRules:
  - issuer: ${AUTHZ_ISSUER}
    audiences: [${AUTHZ_AUDIENCE}]
    jwks: '${m.jwks}'
`);
  const policies = out.filter((d) => d.includes('kind: AuthorizationPolicy')).length;
  if (policies !== AUTHZ_POLICY_COUNT) throw new Error(`authz-cost: ${policies} policies generated, ${AUTHZ_POLICY_COUNT} expected`);
  return out.join('');
}
