/** The containers list: state, health, ports, image, uptime; actions; filter and search; live. */
import { useEffect, useState } from 'preact/hooks';
import { Table } from './table';
import { del, get, getPrefetched, post } from './api';
import { useEvents } from './events';
import { shortId } from './format';

export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  State: string;
  Status: string;
  Ports: { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[];
  Mounts?: { Type: string; Name?: string }[];
}

export const containerName = (c: ContainerSummary) => (c.Names[0] ?? '').replace(/^\//, '') || shortId(c.Id);

export function health(status: string): string | undefined {
  return /\((healthy|unhealthy|health: starting)\)/.exec(status)?.[1];
}

export function ports(c: ContainerSummary): string {
  return c.Ports.map((p) => (p.PublicPort ? `${p.IP ?? '0.0.0.0'}:${p.PublicPort}→${p.PrivatePort}/${p.Type}` : `${p.PrivatePort}/${p.Type}`)).join(', ');
}

/** Start, stop, restart, remove: the Engine API's routes, the CLI's verbs. */
export async function containerAction(id: string, action: 'start' | 'stop' | 'restart' | 'remove'): Promise<void> {
  const p = `/containers/${encodeURIComponent(id)}`;
  if (action === 'remove') await del(`${p}?force=1`);
  else await post(`${p}/${action}`);
}

export function ContainerActions({ c, onError }: { c: { Id: string; State: string; name: string }; onError: (m: string) => void }) {
  const [busy, setBusy] = useState('');
  const act = (a: 'start' | 'stop' | 'restart' | 'remove') => {
    if (a === 'remove' && !confirm(`Remove container ${c.name}?`)) return;
    setBusy(a);
    containerAction(c.Id, a)
      .catch((e: Error) => onError(`${a} ${c.name}: ${e.message}`))
      .finally(() => setBusy(''));
  };
  const running = c.State === 'running' || c.State === 'restarting' || c.State === 'paused';
  return (
    <span class="actions">
      {running ? (
        <button onClick={() => act('stop')} disabled={!!busy} aria-label={`Stop ${c.name}`}>
          {busy === 'stop' ? 'Stopping…' : 'Stop'}
        </button>
      ) : (
        <button onClick={() => act('start')} disabled={!!busy} aria-label={`Start ${c.name}`}>
          {busy === 'start' ? 'Starting…' : 'Start'}
        </button>
      )}
      <button onClick={() => act('restart')} disabled={!!busy} aria-label={`Restart ${c.name}`}>
        Restart
      </button>
      <button class="danger" onClick={() => act('remove')} disabled={!!busy} aria-label={`Remove ${c.name}`}>
        Remove
      </button>
    </span>
  );
}

export function ContainersPage() {
  const [list, setList] = useState<ContainerSummary[] | undefined>();
  const [error, setError] = useState('');
  const [search, setSearch] = useState('');
  const [state, setState] = useState('all');
  const [, tick] = useState(0);
  const load = (first = false) =>
    (first ? getPrefetched<ContainerSummary[]>('/containers/json?all=1') : get<ContainerSummary[]>('/containers/json?all=1')).then(
      (l) => {
        setList(l);
        setError('');
      },
      (e: Error) => setError(e.message),
    );
  useEffect(() => {
    void load(true);
    // the uptime text ("Up 5 minutes") moves on without events
    const t = setInterval(() => void load().then(() => tick((n) => n + 1)), 30_000);
    return () => clearInterval(t);
  }, []);
  useEvents(['container'], () => void load(), { delayMs: 100 });
  const q = search.trim().toLowerCase();
  const shown = (list ?? []).filter(
    (c) =>
      (state === 'all' || c.State === state) &&
      (!q || containerName(c).toLowerCase().includes(q) || c.Image.toLowerCase().includes(q) || c.Id.startsWith(q)),
  );
  return (
    <section>
      <h1>Containers</h1>
      <div class="toolbar">
        <label>
          Search <input type="search" value={search} onInput={(e) => setSearch((e.target as HTMLInputElement).value)} placeholder="name, image or ID" data-testid="container-search" />
        </label>
        <label>
          State{' '}
          <select value={state} onChange={(e) => setState((e.target as HTMLSelectElement).value)}>
            {['all', 'running', 'exited', 'created', 'paused', 'restarting', 'dead'].map((s) => (
              <option value={s}>{s}</option>
            ))}
          </select>
        </label>
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      {list === undefined ? (
        <p class="muted">Loading…</p>
      ) : shown.length === 0 ? (
        <p class="muted">No containers{q || state !== 'all' ? ' match' : ''}.</p>
      ) : (
        <Table testId="containers" head={['Name', 'State', 'Image', 'Status', 'Ports', 'Actions']}>
          {shown.map((c) => {
            const name = containerName(c);
            const h = health(c.Status);
            return (
              <tr key={c.Id} data-name={name} data-state={c.State}>
                <td data-label="Name">
                  <a href={`#/containers/${c.Id}`}>{name}</a>
                  <div class="muted mono">{shortId(c.Id)}</div>
                </td>
                <td data-label="State">
                  <span class={`badge ${c.State}`} data-testid="state">
                    {c.State}
                  </span>
                  {h && <span class={`badge health-${h.replace(/[^a-z]/g, '')}`}>{h}</span>}
                </td>
                <td data-label="Image" class="mono">{c.Image}</td>
                <td data-label="Status">{c.Status}</td>
                <td data-label="Ports" class="mono">{ports(c) || '—'}</td>
                <td data-label="Actions">
                  <ContainerActions c={{ Id: c.Id, State: c.State, name }} onError={setError} />
                </td>
              </tr>
            );
          })}
        </Table>
      )}
    </section>
  );
}
