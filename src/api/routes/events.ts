import { invalid } from '../../common/errors';
import type { Router } from '../router';
import { checkFilterKeys, queryFilters } from '../respond';
import { writeOrDrop } from '../stream';
import type { EngineEvent, EventBus } from '../../daemon/events';
import type { EventJournal } from '../../daemon/event-journal';

export interface EventRouteDeps {
  events: EventBus;
  journal: EventJournal;
}

/** `since`/`until` as the API takes them: unix seconds, with an optional fraction ("1700000000.5"). */
export function parseEventTime(v: string | null, name: string): number | undefined {
  if (v === null || v === '') return undefined;
  const m = /^(\d+)(?:\.(\d{1,9}))?$/.exec(v);
  if (m) return Number(m[1]) * 1e9 + Number((m[2] ?? '').padEnd(9, '0'));
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw invalid(`invalid value for ${name}: ${v}`);
  return t * 1e6;
}

type Filters = Map<string, string[]>;

function labelMatches(ev: EngineEvent, want: string[]): boolean {
  return want.every((f) => {
    const i = f.indexOf('=');
    return i < 0 ? f in ev.Actor.Attributes : ev.Actor.Attributes[f.slice(0, i)] === f.slice(i + 1);
  });
}

/** Docker's event filters: each key must match one of its values; different keys must all match. */
export function eventMatches(ev: EngineEvent, f: Filters): boolean {
  const any = (key: string, test: (v: string) => boolean) => !f.has(key) || f.get(key)!.some(test);
  const actorIs = (type: EngineEvent['Type']) => (v: string) => ev.Type === type && (ev.Actor.ID === v || ev.Actor.ID.startsWith(v) || ev.Actor.Attributes.name === v);
  return (
    any('type', (v) => ev.Type === v) &&
    any('event', (v) => ev.Action === v || ev.Action.split(':')[0] === v) &&
    any('container', actorIs('container')) &&
    any('image', (v) => (ev.Type === 'image' && (ev.Actor.ID === v || ev.Actor.Attributes.name === v)) || ev.Actor.Attributes.image === v) &&
    any('network', actorIs('network')) &&
    any('volume', actorIs('volume')) &&
    any('scope', (v) => ev.scope === v) &&
    (!f.has('label') || labelMatches(ev, f.get('label')!))
  );
}

export function registerEventRoutes(router: Router, d: EventRouteDeps): void {
  router.add('GET', '/events', ({ req, res, query }) => {
    const filters = queryFilters(query);
    checkFilterKeys(filters, ['type', 'event', 'container', 'image', 'network', 'volume', 'label', 'scope', 'daemon', 'plugin', 'node', 'service', 'secret', 'config']);
    const now = Date.now() * 1e6;
    const since = parseEventTime(query.get('since'), 'since');
    const until = parseEventTime(query.get('until'), 'until');
    if (since !== undefined && until !== undefined && until < since) throw invalid('`since` time must be before `until`');
    res.writeHead(200, { 'Content-Type': 'application/json' });
    // headers go out at once: clients wait for them before they read any event
    res.flushHeaders();
    const send = (ev: EngineEvent) => {
      // events come whether or not this client reads: one too far behind is let go
      if (eventMatches(ev, filters)) writeOrDrop(res, `${JSON.stringify(ev)}\n`);
    };
    // the journal's replay is bounded by the journal (MAX_EVENTS), so it is written whole
    if (since !== undefined) for (const ev of d.journal.between(since, until ?? now)) if (!res.destroyed && eventMatches(ev, filters)) res.write(`${JSON.stringify(ev)}\n`);
    if (until !== undefined && until <= now) {
      res.end();
      return;
    }
    const live = (ev: EngineEvent) => {
      if (until !== undefined && ev.timeNano > until) return;
      send(ev);
    };
    d.events.on('event', live);
    const stop = () => {
      d.events.off('event', live);
      clearTimeout(timer);
      if (!res.writableEnded) res.end();
    };
    const timer = until !== undefined ? setTimeout(stop, Math.max(0, (until - now) / 1e6)) : undefined;
    req.on('close', stop);
    res.on('close', stop);
  });
}
