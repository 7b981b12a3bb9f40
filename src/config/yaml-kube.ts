/**
 * YAML read the way Kubernetes reads it (sigs.k8s.io/yaml over go-yaml v2), so a file means the
 * same to `clew` as to `kubectl apply`:
 * - YAML 1.1 scalars: unquoted y/n, yes/no, on/off (any of their capitalisations) are booleans,
 *   `0777` is octal, `1_000` is 1000, `0b101` is binary; but, as in go-yaml v2, no base-60
 *   numbers (`1:20` stays a string) and no timestamps (`2024-01-01` stays a string);
 * - inside a flow collection a plain scalar may end with `:` right before `,` `]` or `}`
 *   (`addresses: [1.2.3.4, 2001:db8::]` is two strings; YAML 1.2 would read a mapping).
 * Line numbers come from the same parse, so messages point at the lines users wrote.
 */
import { isMap, isPair, isScalar, parseAllDocuments, Scalar, visit, type Document, type LineCounter, type Node } from 'yaml';

/**
 * go-yaml v2's float rule: digits with an optional fraction and exponent, or a fraction alone;
 * YAML 1.1's own rule would also take `.` (as in `exportTo: [.]`) as a number.
 */
const GO_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const goFloat = {
  identify: (v: unknown) => typeof v === 'number',
  default: true,
  tag: 'tag:yaml.org,2002:float',
  test: GO_FLOAT,
  resolve: (s: string) => Number.parseFloat(s),
};

/** Tags of YAML 1.1 that go-yaml v2 does not apply to untagged plain scalars. */
const UNUSED_TAGS = new Set(['tag:yaml.org,2002:timestamp', 'tag:yaml.org,2002:omap', 'tag:yaml.org,2002:pairs', 'tag:yaml.org,2002:set']);

export function parseKubeYaml(text: string, lineCounter: LineCounter): Document.Parsed[] {
  const docs: unknown = parseAllDocuments(text, {
    lineCounter,
    prettyErrors: false,
    version: '1.1',
    customTags: (tags) => [
      ...tags.filter((t) => !(typeof t === 'object' && (
        (t as { format?: string }).format === 'TIME' || UNUSED_TAGS.has(t.tag)
        // the float forms other than .inf/.nan are replaced by go-yaml's rule
        || (t.tag === 'tag:yaml.org,2002:float' && !String((t as { test?: RegExp }).test).includes('inf'))
      ))),
      goFloat,
    ],
  });
  // an empty stream is not an array
  const list = Array.isArray(docs) ? (docs as Document.Parsed[]) : [];
  for (const doc of list) if (doc.errors.length === 0) fixFlowColons(doc, text);
  return list;
}

/** A plain scalar node's source ends with ':' that YAML 1.2 took as an indicator (`2001:db8::]`). */
function colonEndedKey(key: unknown, value: unknown, text: string): boolean {
  if (!isScalar(key) || key.type !== 'PLAIN' || !key.range) return false;
  // the value must be empty and start right after the ':' that follows the key
  if (value !== null && !(isScalar(value) && value.value === null && value.range && value.range[0] === value.range[1])) return false;
  const colon = key.range[1];
  if (text[colon] !== ':') return false;
  const next = text[colon + 1];
  return next === ',' || next === ']' || next === '}';
}

function fixFlowColons(doc: Document.Parsed, text: string): void {
  visit(doc, {
    Seq(_key, seq) {
      if (!seq.flow) return;
      seq.items.forEach((item, i) => {
        // `[a, 2001:db8::]`: YAML 1.2 makes an implicit one-pair mapping of the item
        if (!isMap(item) || !item.range || text[item.range[0]] === '{' || item.items.length !== 1) return;
        const pair = item.items[0];
        if (!isPair(pair) || !colonEndedKey(pair.key, pair.value, text)) return;
        const key = pair.key as Scalar;
        const s = new Scalar(`${String(key.value)}:`);
        s.range = [key.range![0], key.range![1] + 1, key.range![1] + 1];
        seq.items[i] = s;
      });
    },
    Pair(_key, pair, path) {
      // `{m:}` in a flow mapping: the key is `m:`
      const parent = path[path.length - 1] as Node | undefined;
      if (!isMap(parent) || !parent.flow || !parent.range || text[parent.range[0]] !== '{') return;
      if (!colonEndedKey(pair.key, pair.value, text)) return;
      const key = pair.key as Scalar;
      key.value = `${String(key.value)}:`;
    },
  });
}
