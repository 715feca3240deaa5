/** `berth events`: the daemon's event stream, live and replayed from its journal. */
import type { CommandSpec } from '../command';
import { filtersJson, validateFilter } from '../command';
import { readJsonStream } from '../../client/engine';
import { renderTemplate, TemplateError } from '../template';
import { StatusError } from '../errors';
import { apiTimestamp } from './logs';

interface EventMessage {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes?: Record<string, string> };
  time: number;
  timeNano: number;
}

/** "2026-11-28T05:57:54.709784300Z": Go's RFC3339Nano with every nanosecond digit, as docker prints it. */
function eventTime(timeNano: number): string {
  const ns = BigInt(Math.round(timeNano));
  const seconds = Number(ns / 1_000_000_000n);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return `${new Date(seconds * 1000).toISOString().slice(0, 19)}.${frac}Z`;
}

/** docker's default line: time, type, action, actor ID, then the attributes sorted by key. */
export function eventLine(ev: EventMessage): string {
  const attrs = Object.entries(ev.Actor.Attributes ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const tail = attrs.length ? ` (${attrs.map(([k, v]) => `${k}=${v}`).join(', ')})` : '';
  return `${eventTime(ev.timeNano)} ${ev.Type} ${ev.Action} ${ev.Actor.ID}${tail}`;
}

export const events: CommandSpec = {
  usage: '[OPTIONS]',
  summary: 'Get real time events from the server',
  aliases: ['system events', 'events'],
  args: { max: 0 },
  flags: [
    { name: 'filter', short: 'f', type: 'filter', help: 'Filter output based on conditions provided', parse: validateFilter },
    { name: 'format', type: 'string', help: "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.", default: '' },
    { name: 'since', type: 'string', help: 'Show all events created since timestamp', default: '' },
    { name: 'until', type: 'string', help: 'Stream events until this timestamp', default: '' },
  ],
  async run(ctx, p) {
    let since: string;
    let until: string;
    try {
      since = apiTimestamp(p.values.since as string);
      until = apiTimestamp(p.values.until as string);
    } catch (e) {
      throw new StatusError((e as Error).message, 1);
    }
    const format = p.values.format as string;
    const stream = await ctx.client().stream('GET', '/events', {
      query: { since: since || undefined, until: until || undefined, filters: filtersJson(p.values.filter as string[]) },
    });
    await readJsonStream<EventMessage>(stream, (ev) => {
      if (format === 'json' || format === '{{json .}}') ctx.out(`${JSON.stringify(ev)}\n`);
      else if (format) {
        try {
          ctx.out(`${renderTemplate(format, ev)}\n`);
        } catch (e) {
          if (e instanceof TemplateError) throw new StatusError(`template: ${e.message}`, 1);
          throw e;
        }
      } else ctx.out(`${eventLine(ev)}\n`);
    });
    return 0;
  },
};
