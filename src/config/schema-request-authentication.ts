/** security.istio.io RequestAuthentication (v1 and v1beta1): Istio's fields, unknown ones refused. */
import { bool, dur, list, obj, renamed, str, strList, strMap, type Schema } from './schema-dsl.js';

const jwtRule = obj(
  {
    issuer: str(),
    audiences: strList(),
    jwksUri: str(),
    jwks_uri: renamed(str(), 'jwksUri'),
    jwks: str(),
    fromHeaders: list(obj({ name: str(), prefix: str() }, { required: ['name'] })),
    fromParams: strList(),
    fromCookies: strList(),
    outputPayloadToHeader: str(),
    forwardOriginalToken: bool(),
    outputClaimToHeaders: list(obj({ header: str(), claim: str() }, { required: ['header', 'claim'] })),
    timeout: dur(),
    spaceDelimitedClaims: strList(),
  },
  { required: ['issuer'], exclusive: [['jwksUri', 'jwks_uri', 'jwks']] },
);

const targetRef = obj({ group: str(), kind: str(), name: str(), namespace: str() }, { required: ['kind', 'name'] });

export const requestAuthenticationSchema: Schema = obj(
  {
    selector: obj({ matchLabels: strMap() }),
    targetRef,
    targetRefs: list(targetRef),
    jwtRules: list(jwtRule),
  },
  { exclusive: [['selector', 'targetRef', 'targetRefs']] },
);
