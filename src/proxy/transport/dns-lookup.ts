/**
 * Name lookups for upstream connections by host name (passthrough traffic in local mode takes its
 * destination from the client's Host, so a client chooses the names), bounded so that clients
 * cannot tie up the process:
 * - node's `dns.lookup` runs getaddrinfo on libuv's thread pool (4 threads, shared with file
 *   writes such as the access log); a name whose DNS answer never comes holds a thread for the
 *   resolver's timeout (5 s, times attempts). Unique names from one client used to queue lookups
 *   without bound: every later lookup and file write waited behind them (a soak with 16
 *   connections of unique names saw 5-10 s per request, access-log writes delayed alike).
 *   Here at most MAX_IN_FLIGHT lookups run at once (the rest of the pool stays free), at most
 *   MAX_QUEUED wait, and a waiting one older than QUEUE_DEADLINE_MS is dropped unstarted (its
 *   connection has timed out meanwhile). A full queue fails the connection at once.
 * - answers are kept MAX_CACHED names for CACHE_TTL_MS (Envoy's DNS cache keeps hosts with a TTL
 *   too), failures NEGATIVE_TTL_MS in their own map so that unique failing names cannot push
 *   working ones out; one lookup per name at a time (concurrent callers share it).
 * Overflows count in `clew.overflow.dns_lookups` (refused: queue full or stale) and
 * `clew.overflow.dns_cache` (entries evicted).
 */
// the module object, not a namespace import: dns.lookup is read at each call, as net.connect does
import dns from 'node:dns';
import * as net from 'node:net';
import { overflowCounter } from '../../stats/stats-overflow.js';

export const MAX_IN_FLIGHT = 2;
export const MAX_QUEUED = 256;
export const QUEUE_DEADLINE_MS = 5000;
export const MAX_CACHED = 1024;
export const CACHE_TTL_MS = 30_000;
export const NEGATIVE_TTL_MS = 5000;

const LOOKUPS_OVERFLOW = overflowCounter('dns_lookups');
const CACHE_OVERFLOW = overflowCounter('dns_cache');

type Answer = { err: NodeJS.ErrnoException | null; addresses: dns.LookupAddress[]; at: number };
type Waiter = (a: Answer) => void;

const answers = new Map<string, Answer>();
const failures = new Map<string, Answer>();
const pending = new Map<string, Waiter[]>();
const queue: Array<{ name: string; at: number }> = [];
let inFlight = 0;

function remember(map: Map<string, Answer>, name: string, a: Answer): void {
  map.delete(name);
  if (map.size >= MAX_CACHED) {
    map.delete(map.keys().next().value as string);
    CACHE_OVERFLOW.inc();
  }
  map.set(name, a);
}

function settle(name: string, a: Answer): void {
  const ws = pending.get(name) ?? [];
  pending.delete(name);
  for (const w of ws) w(a);
}

function lookupError(name: string, code: string, message: string): NodeJS.ErrnoException {
  const e = new Error(`${message} (${name})`) as NodeJS.ErrnoException;
  e.code = code;
  e.syscall = 'getaddrinfo';
  return e;
}

function startNext(): void {
  while (inFlight < MAX_IN_FLIGHT && queue.length > 0) {
    const { name, at } = queue.shift()!;
    const now = Date.now();
    if (now - at > QUEUE_DEADLINE_MS) {
      LOOKUPS_OVERFLOW.inc();
      settle(name, { err: lookupError(name, 'ETIMEOUT', 'name lookup waited too long'), addresses: [], at: now });
      continue;
    }
    inFlight++;
    dns.lookup(name, { all: true }, (err, addresses) => {
      inFlight--;
      const a: Answer = { err, addresses: err ? [] : addresses, at: Date.now() };
      if (err) remember(failures, name, a);
      else {
        failures.delete(name);
        remember(answers, name, a);
      }
      settle(name, a);
      startNext();
    });
  }
}

function resolve(name: string, w: Waiter): void {
  const now = Date.now();
  const hit = answers.get(name);
  if (hit && now - hit.at < CACHE_TTL_MS) return process.nextTick(w, hit);
  const miss = failures.get(name);
  if (miss && now - miss.at < NEGATIVE_TTL_MS) return process.nextTick(w, miss);
  const ws = pending.get(name);
  if (ws) {
    ws.push(w);
    return;
  }
  if (queue.length >= MAX_QUEUED) {
    LOOKUPS_OVERFLOW.inc();
    return process.nextTick(w, { err: lookupError(name, 'EAI_AGAIN', 'too many name lookups waiting'), addresses: [], at: now });
  }
  pending.set(name, [w]);
  queue.push({ name, at: now });
  startNext();
}

/** A `lookup` for net.connect / tls.connect (node calls it only for names, not IP literals). */
export const boundedLookup: net.LookupFunction = (hostname, options, callback) => {
  const family = typeof options === 'number' ? options : options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family ?? 0;
  const all = typeof options === 'object' && options.all === true;
  resolve(hostname.toLowerCase(), (a) => {
    if (a.err) return (callback as (e: NodeJS.ErrnoException) => void)(a.err);
    const list = family === 0 ? a.addresses : a.addresses.filter((x) => x.family === family);
    if (list.length === 0) return (callback as (e: NodeJS.ErrnoException) => void)(lookupError(hostname, 'ENOTFOUND', 'no address of the requested family'));
    if (all) (callback as (e: null, addresses: dns.LookupAddress[]) => void)(null, list);
    else (callback as (e: null, address: string, family: number) => void)(null, list[0].address, list[0].family);
  });
};

/** Connect options for a host: the bounded lookup for names, nothing for IP literals. */
export function lookupFor(host: string): { lookup?: net.LookupFunction } {
  return net.isIP(host) === 0 ? { lookup: boundedLookup } : {};
}

/** For tests and the admin view: current sizes. */
export function dnsLookupState(): { inFlight: number; queued: number; cached: number; failed: number } {
  return { inFlight, queued: queue.length, cached: answers.size, failed: failures.size };
}
