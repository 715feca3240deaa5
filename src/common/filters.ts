import { invalid } from './errors';
import { parseTimeArg } from './time';

/**
 * What the `filters` query of a list or prune route means, as Docker's filters.Args reads it:
 * the keys each route accepts (any other is `invalid filter 'KEY'`), label matching, booleans,
 * regular-expression matching and the `until` time. Within one key any value may match (for
 * labels every value must); across keys every key must match. Whether the query is well-formed
 * JSON is checked at the door (src/api/respond.ts); this module owns what it says.
 */

export type FilterArgs = ReadonlyMap<string, readonly string[]>;

/** The keys each route takes, from Docker's daemon (list.go, prune.go, cluster/filters.go ...). */
export const ACCEPTED_FILTERS = {
  containerList: ['ancestor', 'before', 'exited', 'id', 'isolation', 'label', 'name', 'status', 'health', 'since', 'volume', 'network', 'is-task', 'publish', 'expose'],
  imageList: ['dangling', 'label', 'before', 'since', 'reference', 'until'],
  imageSearch: ['is-automated', 'is-official', 'stars'],
  networkList: ['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type'],
  volumeList: ['dangling', 'driver', 'label', 'name'],
  containerPrune: ['label', 'label!', 'until'],
  imagePrune: ['dangling', 'label', 'label!', 'until'],
  networkPrune: ['label', 'label!', 'until'],
  volumePrune: ['label', 'label!', 'all'],
  // berth's build cache records carry no labels: label= matches none, label!= all
  buildCachePrune: ['until', 'unused-for', 'id', 'parent', 'type', 'description', 'inuse', 'shared', 'private', 'label', 'label!'],
  events: ['container', 'image', 'event', 'label', 'network', 'type', 'daemon', 'volume', 'scope', 'node', 'service', 'secret', 'config', 'plugin'],
  nodes: ['id', 'label', 'node.label', 'membership', 'name', 'role'],
  services: ['id', 'label', 'mode', 'name', 'runtime'],
  // `_up-to-date` is Docker's internal key for the CLI's progress display
  tasks: ['id', 'label', 'name', 'node', 'service', 'desired-state', '_up-to-date', 'runtime'],
  secrets: ['id', 'label', 'name', 'names'],
  configs: ['id', 'label', 'name', 'names'],
} as const satisfies Record<string, readonly string[]>;

/** Refuses a key the route does not take, as Docker does: `invalid filter 'KEY'` (400). */
export function acceptFilters(f: FilterArgs, accepted: readonly string[]): void {
  for (const key of f.keys()) if (!accepted.includes(key)) throw invalid(`invalid filter '${key}'`);
}

/** Every wanted `KEY` or `KEY=VALUE` is in `labels` (no wants: true). */
export function labelsMatch(labels: Readonly<Record<string, string>> | null | undefined, wanted: readonly string[] | undefined): boolean {
  if (!wanted || wanted.length === 0) return true;
  return wanted.every((w) => {
    const eq = w.indexOf('=');
    const key = eq < 0 ? w : w.slice(0, eq);
    if (!labels || !Object.prototype.hasOwnProperty.call(labels, key)) return false;
    return eq < 0 || labels[key] === w.slice(eq + 1);
  });
}

/** `label=` all match, and unless every `label!=` also matches (Docker's prune matchLabels). */
export function pruneLabelsMatch(f: FilterArgs, labels: Readonly<Record<string, string>> | null | undefined): boolean {
  if (!labelsMatch(labels, f.get('label'))) return false;
  const not = f.get('label!');
  return !(not && not.length > 0 && labelsMatch(labels, not));
}

/** Docker's Args.Match: some value, read as a regular expression, matches part of `source`. */
export function regexMatch(f: FilterArgs, key: string, source: string): boolean {
  const values = f.get(key);
  if (!values || values.length === 0) return true;
  return values.some((v) => {
    try {
      return new RegExp(v).test(source);
    } catch {
      return false;
    }
  });
}

/** Some value equals `source` (no values: true). */
export function exactMatch(f: FilterArgs, key: string, source: string): boolean {
  const values = f.get(key);
  return !values || values.length === 0 || values.includes(source);
}

/** Docker's GetBoolOrDefault: "1"/"true" or "0"/"false"; both or neither is `invalid filter 'KEY=[v]'`. */
export function filterBool(f: FilterArgs, key: string, dflt: boolean): boolean {
  const values = f.get(key);
  if (values === undefined) return dflt;
  const isTrue = values.includes('1') || values.includes('true');
  const isFalse = values.includes('0') || values.includes('false');
  if (isTrue === isFalse) throw invalid(`invalid filter '${key}=[${values.join(' ')}]'`);
  return isTrue;
}

/** The `until` filter's time in ms (undefined: no `until`); one value only, in GetTimestamp's forms. */
export function untilFilter(f: FilterArgs, key = 'until', nowMs = Date.now()): number | undefined {
  const values = f.get(key);
  if (!values || values.length === 0) return undefined;
  if (values.length > 1) throw invalid(`more than one ${key} filter specified`);
  return parseTimeArg(values[0], nowMs);
}
