/**
 * How a node joins: it calls a manager's swarm port (2377) over TLS. It cannot check the
 * manager's certificate by name, so it pins the CA instead: the join token carries the
 * digest of the swarm CA, the manager's answer carries the CA, and the joiner accepts
 * only if that CA has the digest and signed the certificate the manager presented. The
 * manager checks the token's secret, and answers with the node's identity, a certificate
 * and key signed by the CA, and where etcd is.
 */
import * as https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { BerthError, invalid, unavailable } from '../common/errors';
import { parseRequestTarget } from '../common/request-target';
import { caDigest, parseJoinToken } from './pki';
import { TASK_SECRET_PATH } from './task-secrets';

export interface JoinRequest {
  token: string;
  advertiseAddr: string;
  hostname: string;
  nanoCPUs: number;
  memoryBytes: number;
  engineVersion: string;
}

export interface JoinAnswer {
  nodeId: string;
  clusterId: string;
  role: 'worker' | 'manager';
  caCertPem: string;
  certPem: string;
  keyPem: string;
  /** the node's password as an etcd user (its name is the node ID) */
  etcdPassword: string;
  /** the unnamed certificate and key the node shows etcd */
  etcdClient: { certPem: string; keyPem: string };
  /** etcd client URLs of the managers */
  etcdEndpoints: string[];
  /** for a manager: etcd's --initial-cluster with this node in it */
  initialCluster?: string;
}

export type JoinHandler = (req: JoinRequest) => Promise<JoinAnswer>;

export const SWARM_PORT = 2377;

export type LogsHandler = (containerId: string, query: URLSearchParams, req: IncomingMessage, res: ServerResponse) => Promise<void>;

/**
 * The swarm port (HTTPS): joins, on managers; task logs, on every node, for peers with a
 * certificate of the swarm CA (a joiner has none yet, so certificates are asked, not required).
 */
export type SecretHandler = (taskId: string, secretId: string, req: IncomingMessage, res: ServerResponse) => Promise<void>;

export function startSwarmServer(o: { host: string; port: number; keyPem: string; certPem: string; caPem: string; handle?: JoinHandler; logs: LogsHandler; secret: SecretHandler; log: (m: string) => void }): Promise<https.Server> {
  const server = https.createServer({ key: o.keyPem, cert: o.certPem, ca: o.caPem, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    let url: { pathname: string; searchParams: URLSearchParams };
    try {
      const target = parseRequestTarget(req.url);
      url = { pathname: target.path, searchParams: target.query };
    } catch (e) {
      req.resume();
      return send(400, { message: (e as Error).message });
    }
    const logs = /^\/task-logs\/([0-9a-f]{64})$/.exec(url.pathname);
    if (req.method === 'GET' && logs) {
      o.logs(logs[1], url.searchParams, req, res).catch((e: unknown) => {
        if (!res.headersSent) send(500, { message: (e as Error).message });
        else res.destroy();
      });
      return;
    }
    const secret = TASK_SECRET_PATH.exec(url.pathname);
    if (req.method === 'GET' && secret) {
      o.secret(secret[1], secret[2], req, res).catch((e: unknown) => {
        if (!res.headersSent) send(500, { message: (e as Error).message });
        else res.destroy();
      });
      return;
    }
    if (req.method !== 'POST' || req.url !== '/join') {
      req.resume();
      return send(404, { message: 'not found' });
    }
    const handle = o.handle;
    if (!handle) return send(503, { message: 'This node is not a swarm manager: join through a manager' });
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => {
      text += d;
      if (text.length > 64 * 1024) req.destroy();
    });
    req.on('end', () => {
      const body = joinRequestOf(text);
      if (!body) return send(400, { message: 'invalid join request' });
      handle(body).then(
        (answer) => send(200, answer),
        (e: unknown) => {
          const status = e instanceof BerthError ? e.status : 500;
          if (status >= 500) o.log(`swarm: join from ${body.advertiseAddr}: ${(e as Error).message}`);
          send(status, { message: (e as Error).message });
        },
      );
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

const JOIN_FIELDS: Record<keyof JoinRequest, 'string' | 'number'> = {
  token: 'string',
  advertiseAddr: 'string',
  hostname: 'string',
  nanoCPUs: 'number',
  memoryBytes: 'number',
  engineVersion: 'string',
};

/** A join request's body, when it is JSON of the right shape: any peer can send one. */
function joinRequestOf(text: string): JoinRequest | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const fields = value as Record<string, unknown>;
  for (const [name, type] of Object.entries(JOIN_FIELDS)) if (typeof fields[name] !== type) return undefined;
  return value as JoinRequest;
}

/** The joiner's side. `remote` is "host:port" (port 2377 when left out). */
export async function requestJoin(remote: string, req: JoinRequest): Promise<JoinAnswer> {
  const { caDigest: wantDigest } = parseJoinToken(req.token);
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(remote.trim());
  if (!m) throw invalid(`invalid remote address: ${remote}`);
  const host = m[1];
  const port = m[2] ? Number(m[2]) : SWARM_PORT;
  const { status, body, peerCert } = await new Promise<{ status: number; body: string; peerCert?: Buffer }>((resolve, reject) => {
    const data = JSON.stringify(req);
    const r = https.request(
      // agent: false: a connection of its own, never a resumed TLS session, so the manager's certificate is there to check
      { host, port, path: '/join', method: 'POST', rejectUnauthorized: false, agent: false, timeout: 20_000, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } },
      (res) => {
        const raw = (res.socket as TLSSocket).getPeerCertificate?.()?.raw;
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, peerCert: raw }));
      },
    );
    r.on('timeout', () => r.destroy(new Error('timeout')));
    r.on('error', (e) => reject(unavailable(`could not reach the manager at ${host}:${port}: ${e.message}`)));
    r.end(data);
  });
  let parsed: JoinAnswer & { message?: string };
  try {
    parsed = JSON.parse(body) as JoinAnswer & { message?: string };
  } catch {
    throw unavailable(`the manager at ${host}:${port} did not answer as a swarm manager`);
  }
  if (status !== 200) throw new BerthError(status === 403 || status === 400 ? 'INVALID_PARAMETER' : 'UNAVAILABLE', parsed.message ?? `join refused (${status})`);
  // the CA must be the one the token names, and must have signed what the manager showed
  if (caDigest(parsed.caCertPem) !== wantDigest) throw invalid('remote CA does not match fingerprint. Expected: ' + wantDigest);
  if (!peerCert || !new X509Certificate(peerCert).verify(new X509Certificate(parsed.caCertPem).publicKey)) {
    throw invalid('the manager presented a certificate the swarm CA did not sign');
  }
  return parsed;
}
