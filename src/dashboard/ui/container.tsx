/** One container: its state and charts, live logs, processes, a terminal, and its inspect data. */
import { useEffect, useState } from 'preact/hooks';
import { Table } from './table';
import { get, jsonLines, readStream } from './api';
import { useEvents } from './events';
import { LogView } from './logs';
import { FileBrowser } from './files';
import { lazyComponent } from './lazy';
import { ContainerActions } from './containers';
import { bytes, shortId } from './format';
import { blockIo, cpuPercent, memoryUsage, networkIo, type ContainerStats } from '../../container/stats-formulas';

interface Inspect {
  Id: string;
  Name: string;
  Created: string;
  Config: { Image: string; Tty: boolean; Cmd?: string[]; Entrypoint?: string[]; Env?: string[]; Labels?: Record<string, string> };
  State: { Status: string; Running: boolean; StartedAt: string; FinishedAt: string; ExitCode: number; Health?: { Status: string } };
  HostConfig: { RestartPolicy?: { Name: string } };
  NetworkSettings: { Networks?: Record<string, { IPAddress: string }>; Ports?: Record<string, { HostIp: string; HostPort: string }[] | null> };
  Mounts: { Type: string; Source: string; Destination: string; Name?: string }[];
}

/** One answer of the stats stream; only the fields the charts read are relied on. */
type Stats = Pick<ContainerStats, 'read' | 'cpu_stats' | 'precpu_stats' | 'memory_stats' | 'networks' | 'blkio_stats'>;

const WINDOW = 60;

export interface StatsSample {
  t: number;
  cpu: number;
  mem: number;
  limit: number;
  rx: number;
  tx: number;
  read: number;
  write: number;
}

export function sample(s: Stats): StatsSample {
  return {
    t: Date.parse(s.read) / 1000 || Date.now() / 1000,
    cpu: cpuPercent(s.cpu_stats, s.precpu_stats),
    mem: memoryUsage(s.memory_stats),
    limit: s.memory_stats.limit ?? 0,
    ...networkIo(s),
    ...blockIo(s),
  };
}

const Charts = lazyComponent(() => import('./stats-charts').then((m) => m.StatsChartsView));
const Terminal = lazyComponent(() => import('./terminal').then((m) => m.ContainerTerminal));

/** Stats stream only while this is on screen: leaving the page closes it, and the daemon's sampling with it. */
function StatsCharts({ id }: { id: string }) {
  const [samples, setSamples] = useState<StatsSample[]>([]);
  useEffect(() => {
    const ac = new AbortController();
    const acc: StatsSample[] = [];
    readStream(
      `/containers/${encodeURIComponent(id)}/stats?stream=1`,
      ac.signal,
      jsonLines<Stats>((s) => {
        acc.push(sample(s));
        if (acc.length > WINDOW + 1) acc.shift();
        setSamples(acc.slice());
      }),
    ).catch(() => undefined);
    return () => ac.abort();
  }, [id]);
  return <Charts samples={samples} />;
}

function Processes({ id }: { id: string }) {
  const [top, setTop] = useState<{ Titles: string[]; Processes: string[][] } | undefined>();
  const [error, setError] = useState('');
  useEffect(() => {
    const load = () => get<{ Titles: string[]; Processes: string[][] }>(`/containers/${encodeURIComponent(id)}/top`).then(setTop, (e: Error) => setError(e.message));
    void load();
    const t = setInterval(() => void load(), 5000);
    return () => clearInterval(t);
  }, [id]);
  if (error) return <p class="error">{error}</p>;
  if (!top) return <p class="muted">Loading…</p>;
  return (
    <Table testId="processes" head={top.Titles}>
      {top.Processes.map((p) => (
        <tr>{p.map((v, i) => <td data-label={top.Titles[i]} class="mono">{v}</td>)}</tr>
      ))}
    </Table>
  );
}

const TABS = ['overview', 'logs', 'processes', 'terminal', 'files', 'inspect'] as const;
type Tab = (typeof TABS)[number];

export function ContainerPage({ id, tab }: { id: string; tab?: string }) {
  const [c, setC] = useState<Inspect | undefined>();
  const [error, setError] = useState('');
  const current: Tab = (TABS as readonly string[]).includes(tab ?? '') ? (tab as Tab) : 'overview';
  const load = () => get<Inspect>(`/containers/${encodeURIComponent(id)}/json`).then((x) => (setC(x), setError('')), (e: Error) => setError(e.message));
  useEffect(() => void load(), [id]);
  useEvents(['container'], (e) => {
    if (c ? e.Actor.ID === c.Id : e.Actor.ID.startsWith(id) || e.Actor.Attributes?.name === id) void load();
  });
  if (!c) return <section>{error ? <p class="error" role="alert">{error}</p> : <p class="muted">Loading…</p>}</section>;
  const name = c.Name.replace(/^\//, '');
  const running = c.State.Running;
  return (
    <section>
      <p>
        <a href="#/containers">← Containers</a>
      </p>
      <h1>
        {name} <span class={`badge ${c.State.Status}`} data-testid="detail-state">{c.State.Status}</span>
        {c.State.Health && <span class="badge">{c.State.Health.Status}</span>}
      </h1>
      {error && <p class="error" role="alert">{error}</p>}
      <ContainerActions c={{ Id: c.Id, State: c.State.Status, name }} onError={setError} />
      <nav class="tabs" aria-label="Container sections">
        {TABS.map((t) => (
          <a href={`#/containers/${c.Id}/${t}`} aria-current={t === current ? 'page' : undefined} data-testid={`tab-${t}`}>
            {t[0].toUpperCase() + t.slice(1)}
          </a>
        ))}
      </nav>
      {current === 'overview' && (
        <div>
          <dl class="facts">
            <dt>ID</dt>
            <dd class="mono">{shortId(c.Id)}</dd>
            <dt>Image</dt>
            <dd class="mono">{c.Config.Image}</dd>
            <dt>Command</dt>
            <dd class="mono">{[...(c.Config.Entrypoint ?? []), ...(c.Config.Cmd ?? [])].join(' ')}</dd>
            <dt>{running ? 'Started' : 'Finished'}</dt>
            <dd>{new Date(running ? c.State.StartedAt : c.State.FinishedAt).toLocaleString()}{!running && ` (exit code ${c.State.ExitCode})`}</dd>
            <dt>Networks</dt>
            <dd class="mono">{Object.entries(c.NetworkSettings.Networks ?? {}).map(([n, v]) => `${n} ${v.IPAddress}`).join(', ') || '—'}</dd>
            <dt>Mounts</dt>
            <dd class="mono">{c.Mounts.map((m) => `${m.Name ?? m.Source} → ${m.Destination}`).join(', ') || '—'}</dd>
          </dl>
          {running ? <StatsCharts id={c.Id} /> : <p class="muted">Not running: no resource use to chart.</p>}
        </div>
      )}
      {current === 'logs' && <LogView id={c.Id} tty={c.Config.Tty} />}
      {current === 'processes' && (running ? <Processes id={c.Id} /> : <p class="muted">Not running.</p>)}
      {current === 'terminal' && (running ? <Terminal id={c.Id} /> : <p class="muted">Start the container to open a terminal.</p>)}
      {current === 'files' && <FileBrowser id={c.Id} running={running} />}
      {current === 'inspect' && <pre class="json">{JSON.stringify(c, null, 2)}</pre>}
    </section>
  );
}
