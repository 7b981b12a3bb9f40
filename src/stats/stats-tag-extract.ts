/**
 * Envoy's tag extraction: turns a dotted stat name into a tag-extracted name plus tags, e.g.
 *   cluster.outbound|9080||reviews.default.svc.cluster.local.upstream_rq_200
 *   -> name `cluster.upstream_rq`, tags cluster_name=outbound|9080||reviews..., response_code=200
 *
 * Each extractor's regex is matched against the ORIGINAL name (as Envoy does); the first capture
 * group is the text removed from the name, the second (else the first) is the tag value. Runs
 * once per series.
 */

export interface TagExtractor {
  name: string;
  regex: RegExp;
}

/** Istio's bootstrap `stats_tags` (use_all_default_tags: false), the subset that applies to us. */
export const ISTIO_TAG_EXTRACTORS: readonly TagExtractor[] = Object.freeze([
  { name: 'cluster_name', regex: /^cluster\.((.+?(\..+?\.svc\.cluster\.local)?)\.)/d },
  { name: 'tcp_prefix', regex: /^tcp\.((.*?)\.)\w+?$/d },
  { name: 'response_code', regex: /_rq(_(\d{3}))$/d },
  { name: 'response_code_class', regex: /_rq(_(\dxx))$/d },
  {
    name: 'http_conn_manager_listener_prefix',
    regex: /^listener(?=\.).*?\.http\.(((?:[_.0-9]*|[_[\]aAbBcCdDeEfF0-9]*))\.)/d,
  },
  { name: 'http_conn_manager_prefix', regex: /^http\.(((?:[_.0-9]*|[_[\]aAbBcCdDeEfF0-9]*))\.)/d },
  { name: 'listener_address', regex: /^listener\.(((?:[_.0-9]*|[_[\]aAbBcCdDeEfF0-9]*))\.)/d },
]);

/** Plain Envoy's defaults for the same stats (tag names prefixed `envoy.`). */
export const ENVOY_TAG_EXTRACTORS: readonly TagExtractor[] = Object.freeze([
  { name: 'envoy.cluster_name', regex: /^cluster\.((.+?)\.)/d },
  { name: 'envoy.response_code', regex: /_rq(_(\d{3}))$/d },
  { name: 'envoy.response_code_class', regex: /_rq_(\d)xx$/d },
  { name: 'envoy.http_conn_manager_prefix', regex: /^http\.((.*?)\.)/d },
  { name: 'envoy.listener_address', regex: /^listener\.(((?:[_.0-9]*|[_[\]aAbBcCdDeEfF0-9]*))\.)/d },
  { name: 'envoy.tcp_prefix', regex: /^tcp\.((.*?)\.)/d },
]);

export interface Extracted {
  /** name with the extracted parts removed */
  name: string;
  /** [prometheus label name, value] */
  tags: Array<readonly [string, string]>;
}

export function extractTags(flat: string, extractors: readonly TagExtractor[]): Extracted {
  const tags: Array<readonly [string, string]> = [];
  const removed: Array<[number, number]> = [];
  const seen = new Set<string>();
  for (const ex of extractors) {
    if (seen.has(ex.name)) continue;
    const m = ex.regex.exec(flat);
    if (!m || m[1] === undefined) continue;
    // regexes carry the `d` flag so group offsets are exact
    const span = m.indices?.[1];
    if (!span) continue;
    const [start, end] = span;
    // an overlapping removal means another extractor already owns that text
    if (removed.some(([s, e]) => start < e && end > s)) continue;
    removed.push([start, end]);
    seen.add(ex.name);
    tags.push([ex.name.replace(/\./g, '_'), m[2] ?? m[1]]);
  }
  if (removed.length === 0) return { name: flat, tags };
  removed.sort((a, b) => a[0] - b[0]);
  let name = '';
  let pos = 0;
  for (const [s, e] of removed) {
    name += flat.slice(pos, s);
    pos = e;
  }
  name += flat.slice(pos);
  return { name, tags };
}
