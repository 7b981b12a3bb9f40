/**
 * Kubernetes Secret (core v1), as far as Clew reads one: TLS material for `credentialName`
 * (Gateway servers, DestinationRule client TLS). A Secret has no `spec`; its top-level `type`,
 * `data` (base64 values) and `stringData` (plain values) make up the resource's spec here.
 */
import { bool, map, obj, str, type Schema } from './schema-dsl.js';

const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

function secretKey(k: string): string | undefined {
  if (k.length === 0 || k.length > 253 || !SECRET_KEY.test(k)) return `invalid key "${k}": a valid config key must consist of alphanumeric characters, '-', '_' or '.'`;
  return undefined;
}

export const SECRET_FIELDS = ['type', 'data', 'stringData', 'immutable'] as const;

export const secretSchema: Schema = obj({
  type: str(),
  data: map(str(), secretKey),
  stringData: map(str(), secretKey),
  immutable: bool(),
});
