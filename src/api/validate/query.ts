/**
 * Query parameters as dockerd reads them: integers through strconv (no fractions, exponents,
 * hex or spaces), booleans through httputils.BoolValue (anything outside the false set is
 * true, so no value is refused), and JSON-valued parameters decoded into their Go types.
 */
import { invalid } from '../../common/errors';
import { GoDecodeError, type GoDecoder } from './go-decode';
import type { QueryParamSchema } from './schema';
import { parseBoundedJSON } from '../../common/json';

const INTEGER = /^[+-]?\d+$/;

const UNSIGNED = new Set(['uint', 'uint8', 'uint16', 'uint32', 'uint64']);

const BITS: Record<string, number> = { int: 64, int64: 64, int32: 32, int16: 16, int8: 8, uint: 64, uint64: 64, uint32: 32, uint16: 16, uint8: 8 };

/** The strconv function dockerd parses this Go type with, as its error messages name it. */
function parser(go: string): string {
  if (go === 'int') return 'strconv.Atoi';
  return UNSIGNED.has(go) ? 'strconv.ParseUint' : 'strconv.ParseInt';
}

/** Throws dockerd's strconv error unless `raw` is a decimal integer that fits `go`. */
export function checkQueryInteger(raw: string, go: string): void {
  const fn = parser(go);
  const unsigned = UNSIGNED.has(go);
  if (!INTEGER.test(raw) || (unsigned && /^[+-]/.test(raw))) throw invalid(`${fn}: parsing ${goQuote(raw)}: invalid syntax`);
  const bits = BigInt(BITS[go] ?? 64);
  const n = BigInt(raw);
  const [lo, hi] = unsigned ? [0n, 2n ** bits - 1n] : [-(2n ** (bits - 1n)), 2n ** (bits - 1n) - 1n];
  if (n < lo || n > hi) throw invalid(`${fn}: parsing ${goQuote(raw)}: value out of range`);
}

/** The filters parameter: dockerd takes `{"key": {"value": true}}` or the older `{"key": ["value"]}`. */
export function checkFiltersJSON(raw: string): void {
  let parsed: unknown;
  try {
    parsed = parseBoundedJSON(raw);
  } catch {
    throw invalid('invalid filter');
  }
  if (parsed === null) return;
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw invalid('invalid filter');
  const values = Object.values(parsed as Record<string, unknown>);
  const asSets = values.every((v) => v === null || (isPlainObject(v) && Object.values(v).every((b) => typeof b === 'boolean')));
  const asLists = values.every((v) => v === null || (Array.isArray(v) && v.every((s) => typeof s === 'string' || s === null)));
  if (!asSets && !asLists) throw invalid('invalid filter');
}

export function checkQuery(query: URLSearchParams, schema: Record<string, QueryParamSchema>, decoder: GoDecoder): void {
  for (const [name, p] of Object.entries(schema)) {
    if ('json' in p) {
      const raw = query.get(name);
      if (raw === null || raw === '') continue;
      if (p.json.k === 'filters') {
        checkFiltersJSON(raw);
        continue;
      }
      const label = 'label' in p.json && p.json.label ? `${p.json.label}: ` : '';
      let parsed: unknown;
      try {
        parsed = parseBoundedJSON(raw);
      } catch (e) {
        throw invalid(`${label}${goSyntaxError(e as Error, raw)}`);
      }
      try {
        decoder.decode(p.json, parsed);
      } catch (e) {
        if (e instanceof GoDecodeError) throw invalid(`${label}${e.message}`);
        throw e;
      }
      continue;
    }
    if (p.k !== 'int') continue;
    // every value counts: dockerd reads the first, but a client that sends two meant both
    for (const raw of query.getAll(name)) if (raw !== '') checkQueryInteger(raw, p.go);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Go's %q for the strings that reach an error message. */
export function goQuote(s: string): string {
  return JSON.stringify(s);
}

/**
 * A JSON syntax error in Go's words, as near as V8's message lets us: Go names the
 * offending character (`invalid character 'x' looking for beginning of value`) or says
 * `unexpected end of JSON input`.
 */
export function goSyntaxError(e: Error, text: string): string {
  const msg = e.message;
  if (msg === 'exceeded max depth') return msg;
  if (/Unexpected end of JSON input|Unterminated string/i.test(msg)) return 'unexpected end of JSON input';
  const pos = /at position (\d+)/.exec(msg);
  let ch: string | undefined;
  if (pos) ch = text[Number(pos[1])];
  else {
    const tok = /Unexpected token '?(.)'?/.exec(msg);
    ch = tok?.[1];
  }
  if (ch === undefined) return 'unexpected end of JSON input';
  const shown = ch === "'" ? "'\\''" : `'${ch}'`;
  return `invalid character ${shown} looking for beginning of value`;
}
