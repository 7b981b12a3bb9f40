/**
 * A reader of Prometheus' text exposition format (0.0.4) for the few families the traffic graph
 * needs: one pass over the lines, families not asked for are skipped at their first bytes.
 */

export interface PromSample {
  /** the sample's name, e.g. `istio_request_duration_milliseconds_bucket` */
  name: string;
  labels: Record<string, string>;
  /** the line up to the value: name and labels as written (a cheap identity of the series) */
  series: string;
  value: number;
}

export class PromTextError extends Error {
  readonly code = 'CLEW_PROM_TEXT';
  constructor(message: string) {
    super(message);
  }
}

/**
 * The samples whose name starts with one of `prefixes`. A malformed line of a wanted family is an
 * error naming the line; other families are not looked at.
 */
export function parsePromText(text: string, prefixes: readonly string[]): PromSample[] {
  const out: PromSample[] = [];
  let pos = 0;
  let lineNo = 0;
  while (pos < text.length) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    lineNo++;
    const start = pos;
    pos = end + 1;
    if (end === start || text.charCodeAt(start) === 35 /* # */) continue;
    let wanted = false;
    for (const p of prefixes) {
      if (text.startsWith(p, start)) {
        wanted = true;
        break;
      }
    }
    if (!wanted) continue;
    out.push(parseLine(text.slice(start, end), lineNo));
  }
  return out;
}

function parseLine(line: string, lineNo: number): PromSample {
  const fail = (why: string): never => {
    throw new PromTextError(`line ${lineNo}: ${why}: ${line.length > 120 ? `${line.slice(0, 120)}...` : line}`);
  };
  let i = 0;
  while (i < line.length && line[i] !== '{' && line[i] !== ' ') i++;
  const name = line.slice(0, i);
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    for (;;) {
      while (line[i] === ' ' || line[i] === ',') i++;
      if (line[i] === '}') {
        i++;
        break;
      }
      const eq = line.indexOf('=', i);
      if (eq < 0) fail('label without a value');
      const key = line.slice(i, eq).trim();
      i = eq + 1;
      if (line[i] !== '"') fail(`label ${key}: value not quoted`);
      i++;
      let value = '';
      for (;;) {
        if (i >= line.length) fail(`label ${key}: unterminated value`);
        const c = line[i];
        if (c === '\\') {
          const n = line[i + 1];
          value += n === 'n' ? '\n' : n;
          i += 2;
        } else if (c === '"') {
          i++;
          break;
        } else {
          value += c;
          i++;
        }
      }
      labels[key] = value;
    }
  }
  const series = line.slice(0, i);
  const rest = line.slice(i).trim().split(/\s+/);
  const raw = rest[0];
  const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : raw === 'NaN' ? NaN : Number(raw);
  if (raw === undefined || raw === '' || (Number.isNaN(value) && raw !== 'NaN')) fail('no numeric value');
  return { name, labels, series, value };
}
