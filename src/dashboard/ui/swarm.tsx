/**
 * Swarm mode: nodes, services (replicas per node, updates in progress) and tasks. The swarm
 * routes emit no events in berth, so this page asks again every few seconds while it is shown.
 */
import { useEffect, useState } from 'preact/hooks';
import { Table } from './table';
import { ApiError, get } from './api';
import { shortId } from './format';

interface Node {
  ID: string;
  Description?: { Hostname?: string };
  Spec: { Role: string; Availability: string };
  Status: { State: string; Addr?: string };
  ManagerStatus?: { Leader?: boolean; Reachability?: string };
}

interface Service {
  ID: string;
  Spec: { Name: string; Mode: { Replicated?: { Replicas?: number }; Global?: object }; TaskTemplate: { ContainerSpec?: { Image?: string } } };
  ServiceStatus?: { RunningTasks: number; DesiredTasks: number };
  UpdateStatus?: { State?: string; Message?: string };
}

interface Task {
  ID: string;
  ServiceID: string;
  NodeID?: string;
  Slot?: number;
  DesiredState: string;
  Status: { State: string; Message?: string; Err?: string };
}

interface SwarmView {
  nodes: Node[];
  services: Service[];
  tasks: Task[];
}

const POLL_MS = 3000;

export function SwarmPage() {
  const [view, setView] = useState<SwarmView | undefined>();
  const [absent, setAbsent] = useState('');
  useEffect(() => {
    let stop = false;
    const load = async () => {
      try {
        const [nodes, services, tasks] = await Promise.all([get<Node[]>('/nodes'), get<Service[]>('/services?status=true'), get<Task[]>('/tasks')]);
        if (!stop) {
          setView({ nodes, services, tasks });
          setAbsent('');
        }
      } catch (e) {
        if (!stop) setAbsent(e instanceof ApiError && e.status === 503 ? e.message : `Could not read the swarm: ${(e as Error).message}`);
      }
    };
    void load();
    const t = setInterval(() => void load(), POLL_MS);
    return () => {
      stop = true;
      clearInterval(t);
    };
  }, []);
  if (absent) {
    return (
      <section>
        <h1>Swarm</h1>
        <p class="muted" data-testid="swarm-absent">{absent}</p>
      </section>
    );
  }
  if (!view) return <p class="muted">Loading…</p>;
  const nodeName = (id?: string) => view.nodes.find((n) => n.ID === id)?.Description?.Hostname ?? (id ? shortId(id) : '—');
  return (
    <section>
      <h1>Swarm</h1>
      <h2>Nodes</h2>
      <Table testId="nodes" head={['Hostname', 'Role', 'State', 'Availability', 'Manager']}>
        {view.nodes.map((n) => (
          <tr key={n.ID}>
            <td data-label="Hostname">{n.Description?.Hostname ?? shortId(n.ID)}</td>
            <td data-label="Role">{n.Spec.Role}</td>
            <td data-label="State">
              <span class={`badge ${n.Status.State === 'ready' ? 'running' : 'exited'}`}>{n.Status.State}</span>
            </td>
            <td data-label="Availability">{n.Spec.Availability}</td>
            <td data-label="Manager">{n.ManagerStatus ? (n.ManagerStatus.Leader ? 'Leader' : n.ManagerStatus.Reachability ?? '') : '—'}</td>
          </tr>
        ))}
      </Table>
      <h2>Services</h2>
      {view.services.length === 0 && <p class="muted">No services.</p>}
      {view.services.map((s) => {
        const tasks = view.tasks.filter((t) => t.ServiceID === s.ID && t.DesiredState !== 'shutdown');
        const byNode = new Map<string, Task[]>();
        for (const t of tasks) byNode.set(t.NodeID ?? '', [...(byNode.get(t.NodeID ?? '') ?? []), t]);
        const mode = s.Spec.Mode.Global ? 'global' : `replicated ${s.Spec.Mode.Replicated?.Replicas ?? 0}`;
        return (
          <article class="service" key={s.ID} data-testid="service">
            <h3>
              {s.Spec.Name}{' '}
              <span class="badge">
                {s.ServiceStatus ? `${s.ServiceStatus.RunningTasks}/${s.ServiceStatus.DesiredTasks}` : '?'} running
              </span>
              {s.UpdateStatus?.State && <span class="badge paused">update {s.UpdateStatus.State}</span>}
            </h3>
            <p class="muted">
              {mode} · <span class="mono">{s.Spec.TaskTemplate.ContainerSpec?.Image?.replace(/@sha256:.*/, '')}</span>
              {s.UpdateStatus?.Message && ` · ${s.UpdateStatus.Message}`}
            </p>
            <ul class="per-node">
              {[...byNode.entries()].map(([node, ts]) => (
                <li>
                  <strong>{nodeName(node)}</strong>:{' '}
                  {ts.map((t) => (
                    <span class={`badge ${t.Status.State === 'running' ? 'running' : t.Status.State === 'failed' || t.Status.State === 'rejected' ? 'exited' : 'created'}`} title={t.Status.Err ?? t.Status.Message}>
                      {t.Slot ? `#${t.Slot} ` : ''}
                      {t.Status.State}
                    </span>
                  ))}
                </li>
              ))}
            </ul>
          </article>
        );
      })}
    </section>
  );
}
