import { invalid } from '../../common/errors';
import type { Router } from '../router';
import { queryFilters } from '../respond';
import { acceptFilters, ACCEPTED_FILTERS, labelsMatch, type FilterArgs } from '../../common/filters';
import { getTimestamp, parseTimestamps, unixTimeNs } from '../../common/time';
import { writeOrDrop } from '../stream';
import type { EngineEvent, EventBus } from '../../daemon/events';
import type { EventJournal } from '../../daemon/event-journal';

export interface EventRouteDeps {
  events: EventBus;
  journal: EventJournal;
}

/** `since`/`until` in nanoseconds: Unix seconds with an optional fraction ("1700000000.5"), or GetTimestamp's other forms. */
function eventTime(v: string | null): number | undefined {
  if (v === null || v === '') return undefined;
  return unixTimeNs(parseTimestamps(getTimestamp(v)));
}

/** Docker's event filters: each key must match one of its values; different keys must all match. */
export function eventMatches(ev: EngineEvent, f: FilterArgs): boolean {
  const any = (key: string, test: (v: string) => boolean) => !f.has(key) || f.get(key)!.some(test);
  // Docker's fuzzyMatchName: the actor's ID or name starts with a value, whatever the event's type
  const fuzzyName = (key: string) => any(key, (v) => ev.Actor.ID.startsWith(v) || (ev.Actor.Attributes.name ?? '').startsWith(v));
  const actorIs = (type: EngineEvent['Type']) => (v: string) => ev.Type === type && (ev.Actor.ID === v || ev.Actor.ID.startsWith(v) || ev.Actor.Attributes.name === v);
  return (
    any('type', (v) => ev.Type === v) &&
    any('event', (v) => ev.Action === v || ev.Action.split(':')[0] === v) &&
    any('container', actorIs('container')) &&
    any('image', (v) => (ev.Type === 'image' && (ev.Actor.ID === v || ev.Actor.Attributes.name === v)) || ev.Actor.Attributes.image === v) &&
    any('network', actorIs('network')) &&
    any('volume', actorIs('volume')) &&
    any('scope', (v) => ev.scope === v) &&
    ['daemon', 'plugin', 'node', 'service', 'secret', 'config'].every(fuzzyName) &&
    labelsMatch(ev.Actor.Attributes, f.get('label'))
  );
}

export function registerEventRoutes(router: Router, d: EventRouteDeps): void {
  router.add('GET', '/events', ({ req, res, query }) => {
    const filters = queryFilters(query);
    acceptFilters(filters, ACCEPTED_FILTERS.events);
    const now = Date.now() * 1e6;
    const since = eventTime(query.get('since'));
    const until = eventTime(query.get('until'));
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
