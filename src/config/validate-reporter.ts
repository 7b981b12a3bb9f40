/** Collects messages about one resource, resolving each field path to its YAML line. */
import { lineForPath } from './field-path.js';
import type { Severity, ValidationMessage } from './messages.js';
import type { ConfigResource } from './types.js';

export class Reporter {
  readonly messages: ValidationMessage[] = [];

  constructor(readonly resource: ConfigResource) {}

  error(field: string, message: string, code: string): void {
    this.add('error', field, message, code);
  }

  warn(field: string, message: string, code: string): void {
    this.add('warning', field, message, code);
  }

  add(severity: Severity, field: string, message: string, code: string): void {
    const r = this.resource;
    this.messages.push({
      file: r.source?.file ?? '',
      line: lineForPath(r.source, field),
      kind: r.kind,
      namespace: r.metadata.namespace,
      name: r.metadata.name,
      field,
      message,
      severity,
      code,
    });
  }
}
