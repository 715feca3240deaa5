/**
 * How a node gets the data of a secret one of its tasks names: it asks a manager on the
 * swarm port (`GET /task-secret/<task>/<secret>`), showing its node certificate. The manager
 * answers only a node whose certificate the swarm CA signed, named by the node ID the leader
 * placed the task on, for a secret the task's service names: a node never learns the
 * secrets of tasks that are not its own (as Docker's dispatcher), even by rewriting a task.
 */
import * as https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Service, Task } from './cluster/model';
import { taskUsesSecret } from './cluster/files';
import { SECRET_DATA_PREFIX, type ClusterStore } from './cluster/store';

export const TASK_SECRET_PATH = /^\/task-secret\/([a-z0-9]{1,64})\/([a-z0-9]{1,64})$/;

/** The manager side. */
export async function serveTaskSecret(store: ClusterStore, taskId: string, secretId: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const send = (status: number, body: unknown) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const socket = req.socket as TLSSocket;
  const nodeId = socket.authorized ? socket.getPeerCertificate()?.subject?.CN : undefined;
  if (!nodeId) return send(403, { message: 'a node certificate of this swarm is needed' });
  const task = await store.getObject<Task>('tasks', taskId);
  // agents write task objects: the placement and the secret are checked against what only
  // managers write (the leader's assignment record, the service's spec)
  const assigned = await store.assignedNode(taskId);
  const svc = task ? await store.getObject<Service>('services', task.ServiceID) : undefined;
  const named = !!svc && [svc.Spec.TaskTemplate, svc.PreviousSpec?.TaskTemplate].some((tpl) => tpl && taskUsesSecret({ Spec: tpl } as Task, secretId));
  // one answer for "no such task", "not yours" and "not its secret": nothing to probe with
  if (!task || assigned !== nodeId || task.NodeID !== nodeId || !named) return send(404, { message: `secret ${secretId} not found for task ${taskId}` });
  const kv = await store.kv.get(`${SECRET_DATA_PREFIX}${secretId}`);
  if (!kv) return send(404, { message: `secret ${secretId} not found` });
  send(200, { data: kv.value });
}

/** The node side: the secret's bytes, from the first manager that answers. */
export async function fetchTaskSecret(o: { managers: string[]; port: number; taskId: string; secretId: string; tls: { ca: string; cert: string; key: string } }): Promise<Buffer> {
  let last: Error = new Error('no manager to ask for the secret');
  for (const host of o.managers) {
    try {
      const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = https.request(
          { host, port: o.port, path: `/task-secret/${o.taskId}/${o.secretId}`, method: 'GET', ca: o.tls.ca, cert: o.tls.cert, key: o.tls.key, checkServerIdentity: () => undefined, agent: false, timeout: 10_000 },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => (text += d));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
            res.on('error', reject);
          },
        );
        req.on('timeout', () => req.destroy(new Error('no answer')));
        req.on('error', reject);
        req.end();
      });
      const body = JSON.parse(text) as { data?: string; message?: string };
      if (status === 200 && body.data !== undefined) return Buffer.from(body.data, 'base64');
      last = new Error(body.message ?? `status ${status}`);
      // a manager that knows the task and says no: the others would say the same
      if (status === 404 || status === 403) break;
    } catch (e) {
      last = e as Error;
    }
  }
  throw new Error(`getting secret ${o.secretId} for task ${o.taskId}: ${last.message}`);
}
