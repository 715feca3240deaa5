/**
 * The routing mesh, in user space: every node listens on each ingress port a service
 * publishes and passes each TCP connection to a running task of that service, on this
 * node or another, round robin. A task publishes its target port on a free port of its own
 * node (the agent records it in the task); the mesh connects to that node's address and
 * port, and tries the next task if one does not answer. UDP goes the same way by flows: the
 * datagrams of one client address and port go to one task, through a socket of their own
 * that carries the answers back, until the flow has been quiet for UDP_IDLE_MS.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import type { Service, SwarmNode, Task } from './model';
import { PREFIX, type ClusterStore } from './store';
import { Rerunner } from '../../common/rerun';

interface Backend {
  addr: string;
  port: number;
}

interface Listener {
  server: net.Server | dgram.Socket;
  backends: Backend[];
  next: number;
}

interface UdpFlow {
  upstream: dgram.Socket;
  backend: Backend;
  idle: NodeJS.Timeout;
}

const REFRESH_EVERY_MS = 2000;
/** as conntrack's default for an unreplied UDP flow: 30 s */
const UDP_IDLE_MS = 30_000;

export class RoutingMesh {
  /** by "port/protocol" */
  private readonly listeners = new Map<string, Listener>();
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

  private apply(want: Map<string, Backend[]>): void {
    for (const [key, l] of this.listeners) {
      if (!want.has(key)) {
        l.server.close();
        this.listeners.delete(key);
      }
    }
    for (const [key, backends] of want) {
      const l = this.listeners.get(key);
      if (l) {
        l.backends = backends;
        continue;
      }
      const [port, protocol] = key.split('/');
      const listener = protocol === 'udp' ? this.udpListener(Number(port), backends) : this.tcpListener(Number(port), backends);
      listener.server.on('error', (e: Error) => {
        this.log(`swarm mesh: port ${key}: ${e.message}`);
        listener.server.close();
        this.listeners.delete(key);
      });
      this.listeners.set(key, listener);
    }
  }

  private tcpListener(port: number, backends: Backend[]): Listener {
    const server = net.createServer((c) => this.forward(listener, c));
    const listener: Listener = { server, backends, next: 0 };
    server.listen(port, '0.0.0.0');
    return listener;
  }

  private udpListener(port: number, backends: Backend[]): Listener {
    const server = dgram.createSocket('udp4');
    const listener: Listener = { server, backends, next: 0 };
    const flows = new Map<string, UdpFlow>();
    const end = (key: string) => {
      const f = flows.get(key);
      if (!f) return;
      flows.delete(key);
      clearTimeout(f.idle);
      f.upstream.close();
    };
    server.on('message', (msg, client) => {
      const key = `${client.address}:${client.port}`;
      let flow = flows.get(key);
      // a flow whose task is gone goes to another
      if (flow && !listener.backends.some((b) => b.addr === flow!.backend.addr && b.port === flow!.backend.port)) {
        end(key);
        flow = undefined;
      }
      if (!flow) {
        if (!listener.backends.length) return;
        const backend = listener.backends[listener.next++ % listener.backends.length];
        const upstream = dgram.createSocket('udp4');
        upstream.on('message', (answer) => {
          server.send(answer, client.port, client.address);
          const f = flows.get(key);
          if (f) f.idle.refresh();
        });
        upstream.on('error', () => end(key));
        flow = { upstream, backend, idle: setTimeout(() => end(key), UDP_IDLE_MS) };
        flows.set(key, flow);
      }
      flow.idle.refresh();
      flow.upstream.send(msg, flow.backend.port, flow.backend.addr);
    });
    server.on('close', () => {
      for (const key of [...flows.keys()]) end(key);
    });
    server.bind(port, '0.0.0.0');
    return listener;
  }

  /** Passes a TCP connection to the next backend that answers. */
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

/** Published ingress port ("8080/tcp", "53/udp") → where its service's running tasks answer. */
export function routes(services: Service[], tasks: Task[], nodes: SwarmNode[]): Map<string, Backend[]> {
  const addr = new Map(nodes.filter((n) => n.Status.State === 'ready').map((n) => [n.ID, n.Status.Addr]));
  const out = new Map<string, Backend[]>();
  for (const svc of services) {
    for (const p of svc.Endpoint?.Ports ?? []) {
      const protocol = p.Protocol ?? 'tcp';
      if (p.PublishMode === 'host' || !p.PublishedPort || (protocol !== 'tcp' && protocol !== 'udp')) continue;
      const backends: Backend[] = [];
      for (const t of tasks) {
        if (t.ServiceID !== svc.ID || t.DesiredState !== 'running' || t.Status.State !== 'running' || !t.NodeID) continue;
        const at = addr.get(t.NodeID);
        const mp = t.MeshPorts?.find((m) => m.TargetPort === p.TargetPort && m.Protocol === protocol);
        if (at && mp) backends.push({ addr: at, port: mp.HostPort });
      }
      out.set(`${p.PublishedPort}/${protocol}`, backends);
    }
  }
  return out;
}
