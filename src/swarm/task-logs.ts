/**
 * `service logs` across nodes. Each node serves the logs of its task containers on the swarm
 * port (`GET /task-logs/<container>`, only to clients with a certificate of the swarm CA) as
 * one JSON record a line; the manager that the user asks reads them from every node that
 * runs a task of the service and merges them into Docker's log stream.
 */
import * as https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { ContainerManager } from '../container/manager';
import { readLogBatches } from '../container/logs';
import { drainedOrClosed } from '../api/stream';

export interface LogLine {
  /** 1 stdout, 2 stderr */
  s: 1 | 2;
  /** RFC 3339 time */
  t: string;
  /** the bytes, base64 */
  d: string;
}

export interface TaskLogQuery {
  stdout: boolean;
  stderr: boolean;
  follow: boolean;
  tail?: number;
  since?: number;
}

/** The node side: answers a peer's request for a local task container's log. */
export async function serveTaskLogs(containers: ContainerManager, containerId: string, q: TaskLogQuery, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!(req.socket as TLSSocket).authorized) {
    res.writeHead(403, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ message: 'a certificate of this swarm is needed' }));
    return;
  }
  const rec = containers.find(containerId);
  if (!rec || !rec.Config.Labels?.['com.docker.swarm.task.id']) {
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ message: `No such task container: ${containerId}` }));
    return;
  }
  res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
  const aborted = new Promise<void>((r) => res.once('close', () => r()));
  const stopped = rec.State.Running ? containers.exitPromise(rec.ID).then(() => undefined) : Promise.resolve();
  for await (const batch of readLogBatches(containers.logPath(rec.ID), { ...q, follow: q.follow && rec.State.Running, isRunning: () => rec.State.Running, stopped, aborted })) {
    const text = batch.map((r) => JSON.stringify({ s: r.stream === 'stdout' ? 1 : 2, t: r.time, d: r.data.toString('base64') } satisfies LogLine)).join('\n') + '\n';
    if (!res.write(text)) await drainedOrClosed(res);
    if (res.destroyed) break;
  }
  res.end();
}

/** The manager side: a task's log records from the node that runs it. */
export async function* fetchTaskLogs(o: { addr: string; port: number; containerId: string; q: TaskLogQuery; tls: { ca: string; cert: string; key: string }; aborted: Promise<void> }): AsyncGenerator<LogLine> {
  const params = new URLSearchParams({ stdout: String(o.q.stdout), stderr: String(o.q.stderr), follow: String(o.q.follow) });
  if (o.q.tail !== undefined) params.set('tail', String(o.q.tail));
  if (o.q.since !== undefined) params.set('since', String(o.q.since));
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = https.request(
      { host: o.addr, port: o.port, path: `/task-logs/${o.containerId}?${params}`, method: 'GET', ca: o.tls.ca, cert: o.tls.cert, key: o.tls.key, checkServerIdentity: () => undefined },
      resolve,
    );
    req.on('error', reject);
    void o.aborted.then(() => req.destroy());
    req.end();
  });
  if (res.statusCode !== 200) {
    res.resume();
    return;
  }
  res.setEncoding('utf8');
  let buf = '';
  for await (const chunk of res as AsyncIterable<string>) {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line) yield JSON.parse(line) as LogLine;
    }
  }
}
