/** RequestAuthentication validation: Istio's rules; key sources checked before any proxy sees them. */
import { doc, runCases, type Case } from './cases-helper.js';

const ra = (spec: string) => doc('RequestAuthentication', spec, 'security.istio.io/v1');

const cases: Case[] = [
  {
    name: "a full valid RequestAuthentication has no messages",
    yaml: ra("  selector: {matchLabels: {app: web}}\n  jwtRules:\n  - issuer: https://a.example\n    audiences: [web]\n    jwks: '{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"x\",\"y\":\"y\"}]}'\n    fromHeaders: [{name: x-jwt, prefix: 'Bearer '}]\n    fromParams: [token]\n    fromCookies: [session]\n    outputPayloadToHeader: x-payload\n    forwardOriginalToken: true\n    outputClaimToHeaders: [{header: x-sub, claim: sub}]\n  - issuer: https://b.example\n    jwksUri: https://b.example/jwks.json\n    timeout: 2s"),
    want: [],
  },
  {
    name: "jwks that do not parse, both key sources, no key source, bad URI, bad claim header, empty issuer",
    yaml: ra("  jwtRules:\n  - issuer: a\n    jwks: '{not json'\n  - issuer: b\n    jwks: '{\"keys\": []}'\n  - issuer: c\n    jwks: '{\"keys\": [{\"kty\": \"XYZ\"}]}'\n    jwksUri: https://c.example/jwks\n  - issuer: d\n  - issuer: e\n    jwksUri: ftp://e.example/jwks\n    outputClaimToHeaders: [{header: 'x sub', claim: sub}]\n  - issuer: ''\n    jwksUri: https://f.example/jwks"),
    want: [
      "test.yaml:8: RequestAuthentication default/x: spec.jwtRules[0].jwks: jwks is not valid JSON",
      "test.yaml:10: RequestAuthentication default/x: spec.jwtRules[1].jwks: jwks must be a JWK Set with a non-empty \"keys\" array",
      "test.yaml:11: RequestAuthentication default/x: spec.jwtRules[2]: jwksUri and jwks are mutually exclusive",
      "test.yaml:12: RequestAuthentication default/x: spec.jwtRules[2].jwks: jwks keys[0]: unknown kty \"XYZ\"",
      "test.yaml:14: RequestAuthentication default/x: spec.jwtRules[3]: jwks or jwksUri is required (finding the keys by OpenID discovery of the issuer is not implemented by Clew)",
      "test.yaml:16: RequestAuthentication default/x: spec.jwtRules[4].jwksUri: invalid jwksUri \"ftp://e.example/jwks\" (an http or https URL of at most 2048 characters)",
      "test.yaml:17: RequestAuthentication default/x: spec.jwtRules[4].outputClaimToHeaders[0].header: must match ^[-_A-Za-z0-9]+$",
      "test.yaml:18: RequestAuthentication default/x: spec.jwtRules[5].issuer: must not be empty",
    ],
  },
  {
    name: "unknown fields are refused",
    yaml: ra("  jwtRules:\n  - issuer: a\n    jwksUri: https://a.example/jwks\n    jwksCache: 5m"),
    want: [
      "test.yaml:9: RequestAuthentication default/x: spec.jwtRules[0].jwksCache: unknown field",
    ],
  },
];

runCases(cases);
