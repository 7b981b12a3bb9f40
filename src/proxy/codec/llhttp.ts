/**
 * Node's own llhttp binding (the parser under node:http), used directly by Clew's HTTP/1.1 codecs
 * so requests and responses are parsed by the same strict C parser without node:http's
 * IncomingMessage/ServerResponse stream machinery per request.
 *
 * `process.binding('http_parser')` is loaded through legacy-binding.ts (DEP0111 silenced).
 */
import { legacyBinding } from './legacy-binding.js';

export interface LlhttpParser {
  initialize(type: number, resource: object, maxHeaderSize?: number, lenient?: number): void;
  execute(data: Buffer): number | LlhttpError;
  finish(): undefined | LlhttpError;
  free(): void;
  remove?(): void;
  close?(): void;
  [callback: number]: unknown;
}

export interface LlhttpError extends Error {
  code: string;
  reason?: string;
  bytesParsed?: number;
}

interface LlhttpBinding {
  HTTPParser: {
    new (): LlhttpParser;
    REQUEST: number;
    RESPONSE: number;
    kOnHeaders: number;
    kOnHeadersComplete: number;
    kOnBody: number;
    kOnMessageComplete: number;
    kOnExecute: number;
    kOnMessageBegin: number;
    kLenientNone: number;
  };
  methods: string[];
}

const binding = legacyBinding<LlhttpBinding>('http_parser');

export const HTTPParser = binding.HTTPParser;
/** method names by llhttp's method index (onHeadersComplete's `method` argument) */
export const METHODS: readonly string[] = binding.methods;

export const K_ON_HEADERS = HTTPParser.kOnHeaders;
export const K_ON_HEADERS_COMPLETE = HTTPParser.kOnHeadersComplete;
export const K_ON_BODY = HTTPParser.kOnBody;
export const K_ON_MESSAGE_COMPLETE = HTTPParser.kOnMessageComplete;
export const K_ON_EXECUTE = HTTPParser.kOnExecute;

/** onHeadersComplete(versionMajor, versionMinor, headers, method, url, statusCode, statusMessage, upgrade, shouldKeepAlive) */
export type OnHeadersComplete = (
  versionMajor: number,
  versionMinor: number,
  headers: string[] | undefined,
  method: number | undefined,
  url: string | undefined,
  statusCode: number | undefined,
  statusMessage: string | undefined,
  upgrade: boolean,
  shouldKeepAlive: boolean,
) => number | void;

/** A parser with its callbacks; `onHeaders` receives the header batches llhttp flushes early (over 32 fields). */
export function newParser(
  type: 'request' | 'response',
  maxHeaderSize: number,
  cb: {
    onHeadersComplete: OnHeadersComplete;
    onBody(chunk: Buffer): void;
    onMessageComplete(): void;
    onHeaders?(headers: string[], url: string): void;
  },
): LlhttpParser {
  const p = new HTTPParser();
  p.initialize(type === 'request' ? HTTPParser.REQUEST : HTTPParser.RESPONSE, {}, maxHeaderSize, HTTPParser.kLenientNone);
  p[K_ON_HEADERS_COMPLETE] = cb.onHeadersComplete;
  p[K_ON_BODY] = cb.onBody;
  p[K_ON_MESSAGE_COMPLETE] = cb.onMessageComplete;
  p[K_ON_HEADERS] = cb.onHeaders ?? (() => undefined);
  return p;
}

/**
 * A parser its connection is done with. `free()` alone only reports the end to async hooks: the
 * C++ parser, held by a global handle, keeps its callbacks (and through them the connection,
 * its socket and its pool) alive for good; `close()` deletes it. As in node:http, the delete waits
 * for the stack to unwind, since this may run inside a callback of that parser's execute().
 */
export function disposeParser(p: LlhttpParser): void {
  p.free();
  setImmediate(closeParser, p);
}

function closeParser(p: LlhttpParser): void {
  p.close?.();
}

/**
 * A parser back to its state after newParser(), callbacks kept. Needed after a head whose
 * onHeadersComplete returned 2: llhttp keeps its upgrade flag set until the next head completes,
 * and node's binding reports no parse error while that flag is set.
 */
export function resetParser(p: LlhttpParser, type: 'request' | 'response', maxHeaderSize: number): void {
  p.initialize(type === 'request' ? HTTPParser.REQUEST : HTTPParser.RESPONSE, {}, maxHeaderSize, HTTPParser.kLenientNone);
}
