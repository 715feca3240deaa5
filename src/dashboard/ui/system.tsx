/** Events as they happen, and disk use by kind as a chart. */
import { useEffect, useState } from 'preact/hooks';
import { Table } from './table';
import { get } from './api';
import { recentEvents, useEvents, type EngineEvent } from './events';
import { lazyComponent } from './lazy';
import { siBytes } from './format';

const BarChart = lazyComponent(() => import('./chart').then((m) => m.BarChart));

export function EventsPage() {
  const [events, setEvents] = useState<EngineEvent[]>(recentEvents.slice());
  useEvents(undefined, () => setEvents(recentEvents.slice()));
  return (
    <section>
      <h1>Events</h1>
      <p class="muted">The engine's events as they happen (the last five minutes, then live).</p>
      <ol class="events" data-testid="events" reversed>
        {events
          .slice()
          .reverse()
          .map((e) => (
            <li>
              <time class="mono">{new Date(e.timeNano / 1e6).toLocaleTimeString()}</time> <strong>{e.Type}</strong> {e.Action}{' '}
              <span class="mono">{e.Actor.Attributes?.name ?? e.Actor.ID.slice(0, 12)}</span>
            </li>
          ))}
      </ol>
    </section>
  );
}

interface Df {
  LayersSize: number;
  Images: { Size: number }[] | null;
  Containers: { SizeRw?: number }[] | null;
  Volumes: { UsageData?: { Size: number } }[] | null;
  BuildCache: { Size: number }[] | null;
}

export function SystemPage() {
  const [df, setDf] = useState<Df | undefined>();
  const [error, setError] = useState('');
  const load = () => get<Df>('/system/df').then(setDf, (e: Error) => setError(e.message));
  useEffect(() => void load(), []);
  useEvents(['image', 'container', 'volume', 'builder'], () => void load(), {
    delayMs: 500,
    accept: (e) => ['destroy', 'delete', 'pull', 'create', 'prune', 'import', 'load', 'untag'].includes(e.Action),
  });
  if (!df) return <section>{error ? <p class="error">{error}</p> : <p class="muted">Loading…</p>}</section>;
  const rows: [string, number, number][] = [
    ['Images', df.Images?.length ?? 0, df.LayersSize],
    ['Containers', df.Containers?.length ?? 0, (df.Containers ?? []).reduce((n, c) => n + Math.max(0, c.SizeRw ?? 0), 0)],
    ['Volumes', df.Volumes?.length ?? 0, (df.Volumes ?? []).reduce((n, v) => n + Math.max(0, v.UsageData?.Size ?? 0), 0)],
    ['Build cache', df.BuildCache?.length ?? 0, (df.BuildCache ?? []).reduce((n, b) => n + b.Size, 0)],
  ];
  return (
    <section>
      <h1>Disk use</h1>
      <BarChart labels={rows.map((r) => r[0])} values={rows.map((r) => r[2])} format={siBytes} testId="df-chart" />
      <Table testId="df" head={['Type', 'Total', 'Size']}>
        {rows.map(([t, n, s]) => (
          <tr>
            <td data-label="Type">{t}</td>
            <td data-label="Total">{n}</td>
            <td data-label="Size">{siBytes(s)}</td>
          </tr>
        ))}
      </Table>
    </section>
  );
}
