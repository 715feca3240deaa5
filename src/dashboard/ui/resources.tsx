/** Images (layers, history, pull, remove, prune), volumes and networks (who uses them). */
import { useEffect, useState } from 'preact/hooks';
import { Table } from './table';
import { del, get, jsonLines, post, request } from './api';
import { useEvents } from './events';
import { ago, shortId, siBytes } from './format';
import type { ContainerSummary } from './containers';
import { containerName } from './containers';

/** Loads `path`, again whenever an event of `types` arrives. */
function useLive<T>(path: string, types: string[]): [T | undefined, string, () => void] {
  const [data, setData] = useState<T | undefined>();
  const [error, setError] = useState('');
  const load = () => get<T>(path).then((d) => (setData(d), setError('')), (e: Error) => setError(e.message));
  useEffect(() => void load(), [path]);
  useEvents(types, () => void load(), { delayMs: 150 });
  return [data, error, load];
}

interface ImageSummary {
  Id: string;
  RepoTags: string[] | null;
  Created: number;
  Size: number;
  Containers: number;
}

function ImageDetail({ id }: { id: string }) {
  const [d, setD] = useState<{ layers: string[]; history: { Created: number; CreatedBy: string; Size: number }[] } | undefined>();
  useEffect(() => {
    void Promise.all([get<{ RootFS: { Layers?: string[] } }>(`/images/${id}/json`), get<{ Created: number; CreatedBy: string; Size: number }[]>(`/images/${id}/history`)]).then(([i, h]) =>
      setD({ layers: i.RootFS.Layers ?? [], history: h }),
    );
  }, [id]);
  if (!d) return <p class="muted">Loading…</p>;
  return (
    <div class="detail">
      <h3>Layers ({d.layers.length})</h3>
      <ol class="mono">{d.layers.map((l) => <li>{l.slice(0, 19)}</li>)}</ol>
      <h3>History</h3>
      <Table head={['Created', 'Created by', 'Size']}>
        {d.history.map((h) => (
          <tr>
            <td data-label="Created">{ago(h.Created)}</td>
            <td data-label="Created by" class="mono wrap">{h.CreatedBy}</td>
            <td data-label="Size">{siBytes(h.Size)}</td>
          </tr>
        ))}
      </Table>
    </div>
  );
}

export function ImagesPage() {
  const [images, error, reload] = useLive<ImageSummary[]>('/images/json', ['image']);
  const [open, setOpen] = useState('');
  const [pull, setPull] = useState('');
  const [progress, setProgress] = useState('');
  const [message, setMessage] = useState('');
  const doPull = async (e: Event) => {
    e.preventDefault();
    const ref = pull.trim();
    if (!ref) return;
    const at = ref.lastIndexOf(':');
    const [name, tag] = at > ref.lastIndexOf('/') ? [ref.slice(0, at), ref.slice(at + 1)] : [ref, 'latest'];
    setProgress(`Pulling ${ref}…`);
    try {
      const r = await request('POST', `/images/create?fromImage=${encodeURIComponent(name)}&tag=${encodeURIComponent(tag)}`);
      const reader = r.body!.getReader();
      const feed = jsonLines<{ status?: string; id?: string; error?: string }>((m) => setProgress(m.error ? `Error: ${m.error}` : `${m.id ? `${m.id}: ` : ''}${m.status ?? ''}`));
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        feed(value);
      }
      reload();
    } catch (err) {
      setProgress(`Error: ${(err as Error).message}`);
    }
  };
  const remove = (i: ImageSummary) => {
    if (!confirm(`Remove image ${i.RepoTags?.[0] ?? shortId(i.Id)}?`)) return;
    del(`/images/${i.Id}`).catch((e: Error) => setMessage(e.message));
  };
  const prune = () =>
    post<{ SpaceReclaimed: number }>('/images/prune').then(
      (r) => setMessage(`Pruned: ${siBytes(r?.SpaceReclaimed ?? 0)} reclaimed`),
      (e: Error) => setMessage(e.message),
    );
  return (
    <section>
      <h1>Images</h1>
      <form class="toolbar" onSubmit={doPull}>
        <label>
          Pull <input value={pull} onInput={(e) => setPull((e.target as HTMLInputElement).value)} placeholder="registry/name:tag" />
        </label>
        <button type="submit">Pull</button>
        <button type="button" onClick={prune}>
          Prune dangling
        </button>
      </form>
      {progress && <p class="muted" role="status">{progress}</p>}
      {(message || error) && <p class="error" role="alert">{message || error}</p>}
      <Table testId="images" head={['Tags', 'ID', 'Created', 'Size', 'Actions']}>
        {(images ?? []).flatMap((i) => [
          <tr key={i.Id}>
            <td data-label="Tags" class="mono">{(i.RepoTags ?? []).join(', ') || '<none>'}</td>
            <td data-label="ID" class="mono">{shortId(i.Id)}</td>
            <td data-label="Created">{ago(i.Created)}</td>
            <td data-label="Size">{siBytes(i.Size)}</td>
            <td data-label="Actions">
              <span class="actions">
                <button onClick={() => setOpen(open === i.Id ? '' : i.Id)} aria-expanded={open === i.Id}>
                  Layers & history
                </button>
                <button class="danger" onClick={() => remove(i)}>
                  Remove
                </button>
              </span>
            </td>
          </tr>,
          open === i.Id ? (
            <tr key={`${i.Id}-detail`}>
              <td colSpan={5}>
                <ImageDetail id={i.Id} />
              </td>
            </tr>
          ) : null,
        ])}
      </Table>
    </section>
  );
}

interface Volume {
  Name: string;
  Driver: string;
  Mountpoint: string;
}

export function VolumesPage() {
  const [vols, error] = useLive<{ Volumes: Volume[] | null }>('/volumes', ['volume']);
  const [containers] = useLive<ContainerSummary[]>('/containers/json?all=1', ['container']);
  const [message, setMessage] = useState('');
  const users = (name: string) => (containers ?? []).filter((c) => c.Mounts?.some((m) => m.Type === 'volume' && m.Name === name)).map(containerName);
  return (
    <section>
      <h1>Volumes</h1>
      <div class="toolbar">
        <button onClick={() => post<{ SpaceReclaimed: number }>('/volumes/prune').then((r) => setMessage(`Pruned: ${siBytes(r?.SpaceReclaimed ?? 0)} reclaimed`), (e: Error) => setMessage(e.message))}>
          Prune unused
        </button>
      </div>
      {(message || error) && <p class="error" role="alert">{message || error}</p>}
      <Table testId="volumes" head={['Name', 'Driver', 'Used by', 'Actions']}>
        {(vols?.Volumes ?? []).map((v) => (
          <tr key={v.Name}>
            <td data-label="Name" class="mono">{v.Name}</td>
            <td data-label="Driver">{v.Driver}</td>
            <td data-label="Used by">{users(v.Name).join(', ') || '—'}</td>
            <td data-label="Actions">
              <button class="danger" onClick={() => confirm(`Remove volume ${v.Name}?`) && del(`/volumes/${encodeURIComponent(v.Name)}`).catch((e: Error) => setMessage(e.message))}>
                Remove
              </button>
            </td>
          </tr>
        ))}
      </Table>
    </section>
  );
}

interface Network {
  Id: string;
  Name: string;
  Driver: string;
  Scope: string;
  IPAM?: { Config?: { Subnet?: string }[] };
}

export function NetworksPage() {
  const [nets, error] = useLive<Network[]>('/networks', ['network']);
  const [containers] = useLive<ContainerSummary[]>('/containers/json?all=1', ['container', 'network']);
  const [message, setMessage] = useState('');
  const users = (n: Network) =>
    (containers ?? []).filter((c) => Object.keys((c as unknown as { NetworkSettings?: { Networks?: Record<string, unknown> } }).NetworkSettings?.Networks ?? {}).includes(n.Name)).map(containerName);
  return (
    <section>
      <h1>Networks</h1>
      {(message || error) && <p class="error" role="alert">{message || error}</p>}
      <Table testId="networks" head={['Name', 'Driver', 'Subnet', 'Used by', 'Actions']}>
        {(nets ?? []).map((n) => (
          <tr key={n.Id}>
            <td data-label="Name" class="mono">{n.Name}</td>
            <td data-label="Driver">{n.Driver}/{n.Scope}</td>
            <td data-label="Subnet" class="mono">{(n.IPAM?.Config ?? []).map((c) => c.Subnet).filter(Boolean).join(', ') || '—'}</td>
            <td data-label="Used by">{users(n).join(', ') || '—'}</td>
            <td data-label="Actions">
              {!['bridge', 'host', 'none'].includes(n.Name) && (
                <button class="danger" onClick={() => confirm(`Remove network ${n.Name}?`) && del(`/networks/${n.Id}`).catch((e: Error) => setMessage(e.message))}>
                  Remove
                </button>
              )}
            </td>
          </tr>
        ))}
      </Table>
    </section>
  );
}
