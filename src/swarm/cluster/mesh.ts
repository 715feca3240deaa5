/**
 * The routing mesh, in user space: every node listens on each ingress port a service
 * publishes and passes each TCP connection to a running task of that service, on this
 * node or another, round robin. A task publishes its target port on a free port of its own
 * node (the agent records it in the task); the mesh connects to that node's address and
 * port, and tries the next task if one does not answer. UDP is not carried yet.
 */
import * as net from 'node:net';
import type { Service, SwarmNode, Task } from './model';
import { PREFIX, type ClusterStore } from './store';
import { Rerunner } from '../../common/rerun';

interface Backend {
  addr: string;
  port: number;
}

interface Listener {
  server: net.Server;
  backends: Backend[];
  next: number;
}

const REFRESH_EVERY_MS = 2000;

export class RoutingMesh {
  private readonly listeners = new Map<number, Listener>();
  private timer?: NodeJS.Timeout;
  private watch?: { close(): void };
  private stopped = false;
  private readonly refresher = new Rerunner(
    async () => {
      const snap = await this.store.snapshot();
      this.apply(routes(snap.services, snap.tasks, snap.nodes));
    },
    (e) => this.log(`swarm mesh: ${e.message}`),
    () => !this.stopped,
  );

  constructor(
    private readonly store: ClusterStore,
    private readonly log: (msg: string) => void,
  ) {}

  start(): void {
    this.watch = this.store.kv.watchPrefix(PREFIX, 0, () => void this.refresh(), () => undefined);
    this.timer = setInterval(() => void this.refresh(), REFRESH_EVERY_MS);
    void this.refresh();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.watch?.close();
    for (const l of this.listeners.values()) l.server.close();
    this.listeners.clear();
  }

  private refresh(): Promise<void> {
    return this.refresher.run();
  }

  private apply(want: Map<number, Backend[]>): void {
    for (const [port, l] of this.listeners) {
      if (!want.has(port)) {
        l.server.close();
        this.listeners.delete(port);
      }
    }
    for (const [port, backends] of want) {
      const l = this.listeners.get(port);
      if (l) {
        l.backends = backends;
        continue;
      }
      const listener: Listener = { server: net.createServer((c) => this.forward(listener, c)), backends, next: 0 };
      listener.server.on('error', (e) => {
        this.log(`swarm mesh: port ${port}: ${e.message}`);
        this.listeners.delete(port);
      });
      listener.server.listen(port, '0.0.0.0');
      this.listeners.set(port, listener);
    }
  }

  /** Passes a connection to the next backend that answers. */
  private forward(l: Listener, client: net.Socket, tried = 0): void {
    client.pause();
    if (l.backends.length === 0 || tried >= l.backends.length) {
      client.destroy();
      return;
    }
    const b = l.backends[l.next++ % l.backends.length];
    const upstream = net.connect({ host: b.addr, port: b.port });
    const onError = () => {
      upstream.destroy();
      this.forward(l, client, tried + 1);
    };
    upstream.once('error', onError);
    upstream.once('connect', () => {
      upstream.off('error', onError);
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      upstream.pipe(client);
      client.pipe(upstream);
      client.resume();
    });
  }
}

/** Published ingress TCP port → where its service's running tasks answer. */
export function routes(services: Service[], tasks: Task[], nodes: SwarmNode[]): Map<number, Backend[]> {
  const addr = new Map(nodes.filter((n) => n.Status.State === 'ready').map((n) => [n.ID, n.Status.Addr]));
  const out = new Map<number, Backend[]>();
  for (const svc of services) {
    for (const p of svc.Endpoint?.Ports ?? []) {
      if (p.PublishMode === 'host' || !p.PublishedPort || (p.Protocol ?? 'tcp') !== 'tcp') continue;
      const backends: Backend[] = [];
      for (const t of tasks) {
        if (t.ServiceID !== svc.ID || t.DesiredState !== 'running' || t.Status.State !== 'running' || !t.NodeID) continue;
        const at = addr.get(t.NodeID);
        const mp = t.MeshPorts?.find((m) => m.TargetPort === p.TargetPort && m.Protocol === 'tcp');
        if (at && mp) backends.push({ addr: at, port: mp.HostPort });
      }
      out.set(p.PublishedPort, backends);
    }
  }
  return out;
}
