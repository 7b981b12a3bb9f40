/** Splits a byte stream into lines and hands each, prefixed, to `emit` (partial tail at end). */
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

export function forwardLines(stream: Readable, prefix: string, emit: (line: string) => void): void {
  const decoder = new StringDecoder('utf8');
  let buf = '';
  stream.on('data', (chunk: Buffer) => {
    buf += decoder.write(chunk);
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      emit(`${prefix}${buf.slice(0, nl).replace(/\r$/, '')}`);
      buf = buf.slice(nl + 1);
    }
  });
  stream.on('end', () => {
    buf += decoder.end();
    if (buf.length > 0) emit(`${prefix}${buf}`);
    buf = '';
  });
}
