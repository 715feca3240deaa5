/**
 * etcd's v3 API through its JSON gateway (HTTP/1.1, keys and values base64, int64s as
 * strings), over TLS with the node's certificate. Several endpoints: a request that
 * cannot reach one (or finds it without a leader) tries the next.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { readFileSync } from 'node:fs';

export interface EtcdTls {
  caFile: string;
  certFile: string;
  keyFile: string;
}

export interface KeyValue {
  key: string;
  value: string;
  modRevision: string;
  createRevision: string;
}

export interface WatchEvent {
  type: 'put' | 'delete';
  key: string;
  value?: string;
  modRevision?: string;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString();

/** The end of the range of keys that start with `prefix`. */
function prefixEnd(prefix: string): string {
  const buf = Buffer.from(prefix);
  for (let i = buf.length - 1; i >= 0; i--) {
    if (buf[i] < 0xff) {
      buf[i]++;
      return buf.subarray(0, i + 1).toString('base64');
    }
  }
  return Buffer.from([0]).toString('base64');
}

interface RawKV {
  key: string;
  value?: string;
  mod_revision?: string;
  create_revision?: string;
}

export class EtcdError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

export class EtcdClient {
  private readonly agent?: https.Agent;
  private preferred = 0;

  constructor(private readonly o: { endpoints: string[]; tls?: EtcdTls; timeoutMs?: number }) {
    if (o.tls) {
      this.agent = new https.Agent({ ca: readFileSync(o.tls.caFile), cert: readFileSync(o.tls.certFile), key: readFileSync(o.tls.keyFile), keepAlive: true });
    }
  }

  get endpoints(): string[] {
    return this.o.endpoints;
  }

  /** One POST to one endpoint. */
  private once(endpoint: string, path: string, body: unknown, timeoutMs: number): Promise<any> {
    const url = new URL(path, endpoint);
    const data = JSON.stringify(body);
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(
        url,
        { method: 'POST', agent: url.protocol === 'https:' ? this.agent : undefined, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) }, timeout: timeoutMs },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => {
            let parsed: any;
            try {
              parsed = text ? JSON.parse(text) : {};
            } catch {
              return reject(new EtcdError(`etcd at ${endpoint}: unreadable answer`, true));
            }
            if ((res.statusCode ?? 500) >= 300 || parsed.error) {
              const msg = parsed.message ?? parsed.error ?? `status ${res.statusCode}`;
              // no leader, stopping, too many requests: another member may do
              const retryable = (res.statusCode ?? 500) >= 500 || /leader|unavailable|timed out|stopped/i.test(msg);
              return reject(new EtcdError(`etcd at ${endpoint}: ${msg}`, retryable));
            }
            resolve(parsed);
          });
          res.on('error', (e) => reject(new EtcdError(`etcd at ${endpoint}: ${e.message}`, true)));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (e) => reject(new EtcdError(`etcd at ${endpoint}: ${e.message}`, true)));
      req.end(data);
    });
  }

  /** Tries the endpoints in turn, starting with the one that answered last. */
  async call(path: string, body: unknown, timeoutMs = this.o.timeoutMs ?? 5000): Promise<any> {
    let last: unknown;
    const n = this.o.endpoints.length;
    for (let i = 0; i < n; i++) {
      const at = (this.preferred + i) % n;
      try {
        const r = await this.once(this.o.endpoints[at], path, body, timeoutMs);
        this.preferred = at;
        return r;
      } catch (e) {
        last = e;
        if (!(e instanceof EtcdError) || !e.retryable) throw e;
      }
    }
    throw last;
  }

  async get(key: string): Promise<KeyValue | undefined> {
    const r = await this.call('/v3/kv/range', { key: b64(key) });
    const kv = (r.kvs as RawKV[] | undefined)?.[0];
    return kv ? toKV(kv) : undefined;
  }

  async getPrefix(prefix: string): Promise<{ kvs: KeyValue[]; revision: string }> {
    const r = await this.call('/v3/kv/range', { key: b64(prefix), range_end: prefixEnd(prefix) });
    return { kvs: ((r.kvs as RawKV[] | undefined) ?? []).map(toKV), revision: String(r.header?.revision ?? '0') };
  }

  async put(key: string, value: string, opts: { lease?: string } = {}): Promise<void> {
    await this.call('/v3/kv/put', { key: b64(key), value: b64(value), ...(opts.lease ? { lease: opts.lease } : {}) });
  }

  async delete(key: string): Promise<void> {
    await this.call('/v3/kv/deleterange', { key: b64(key) });
  }

  async deletePrefix(prefix: string): Promise<void> {
    await this.call('/v3/kv/deleterange', { key: b64(prefix), range_end: prefixEnd(prefix) });
  }

  private async txn(compare: unknown[], success: unknown[]): Promise<boolean> {
    const r = await this.call('/v3/kv/txn', { compare, success });
    return r.succeeded === true;
  }

  putIfAbsent(key: string, value: string, lease?: string): Promise<boolean> {
    return this.txn([{ key: b64(key), target: 'CREATE', result: 'EQUAL', create_revision: '0' }], [{ request_put: { key: b64(key), value: b64(value), ...(lease ? { lease } : {}) } }]);
  }

  putIfModRevision(key: string, value: string, modRevision: string | number): Promise<boolean> {
    return this.txn([{ key: b64(key), target: 'MOD', result: 'EQUAL', mod_revision: String(modRevision) }], [{ request_put: { key: b64(key), value: b64(value) } }]);
  }

  deleteIfModRevision(key: string, modRevision: string | number): Promise<boolean> {
    return this.txn([{ key: b64(key), target: 'MOD', result: 'EQUAL', mod_revision: String(modRevision) }], [{ request_delete_range: { key: b64(key) } }]);
  }

  async grantLease(ttlSeconds: number): Promise<string> {
    const r = await this.call('/v3/lease/grant', { TTL: String(ttlSeconds) });
    return String(r.ID);
  }

  /** The lease's remaining TTL after the refresh; 0 when it has expired. */
  async keepAlive(id: string): Promise<number> {
    const r = await this.call('/v3/lease/keepalive', { ID: id });
    return Number(r.result?.TTL ?? 0);
  }

  async revokeLease(id: string): Promise<void> {
    await this.call('/v3/kv/lease/revoke', { ID: id }).catch((e: Error) => {
      if (!/not found/.test(e.message)) throw e;
    });
  }

  async memberList(): Promise<{ ID: string; name: string; peerURLs: string[]; clientURLs?: string[] }[]> {
    const r = await this.call('/v3/cluster/member/list', {});
    return (r.members ?? []).map((m: any) => ({ ID: String(m.ID), name: m.name ?? '', peerURLs: m.peerURLs ?? [], clientURLs: m.clientURLs ?? [] }));
  }

  async memberAdd(peerURLs: string[]): Promise<{ ID: string }> {
    const r = await this.call('/v3/cluster/member/add', { peerURLs });
    return { ID: String(r.member?.ID) };
  }

  async memberRemove(id: string): Promise<void> {
    await this.call('/v3/cluster/member/remove', { ID: id });
  }

  async status(endpoint: string): Promise<{ leader: string; raftIndex: string }> {
    const r = await this.once(endpoint, '/v3/maintenance/status', {}, 2000);
    return { leader: String(r.leader ?? ''), raftIndex: String(r.raftIndex ?? '') };
  }

  /**
   * Watches the keys under `prefix` from `fromRevision` (0: from now). The stream is
   * reopened, on another endpoint if need be, from the revision after the last seen.
   */
  watchPrefix(prefix: string, fromRevision: string | number, onEvents: (events: WatchEvent[]) => void, onError?: (e: Error) => void): { close(): void } {
    let closed = false;
    let next = BigInt(fromRevision || 0);
    let current: http.ClientRequest | undefined;
    let attempt = 0;
    const open = () => {
      if (closed) return;
      const endpoint = this.o.endpoints[(this.preferred + attempt) % this.o.endpoints.length];
      const url = new URL('/v3/watch', endpoint);
      const body = JSON.stringify({ create_request: { key: b64(prefix), range_end: prefixEnd(prefix), ...(next > 0n ? { start_revision: String(next) } : {}) } });
      const lib = url.protocol === 'https:' ? https : http;
      const req = lib.request(url, { method: 'POST', agent: url.protocol === 'https:' ? this.agent : undefined, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (!line) continue;
            let msg: any;
            try {
              msg = JSON.parse(line);
            } catch {
              continue;
            }
            const result = msg.result ?? {};
            if (result.compact_revision && result.compact_revision !== '0') {
              onError?.(new Error(`watch of ${prefix}: revision ${next} was compacted`));
              next = BigInt(result.compact_revision);
            }
            if (result.created) attempt = 0;
            const events: WatchEvent[] = ((result.events ?? []) as { type?: string; kv: RawKV }[]).map((e) => ({
              type: e.type === 'DELETE' ? 'delete' : 'put',
              key: unb64(e.kv.key),
              value: e.kv.value !== undefined ? unb64(e.kv.value) : undefined,
              modRevision: e.kv.mod_revision,
            }));
            if (events.length) {
              const last = events[events.length - 1].modRevision;
              if (last) next = BigInt(last) + 1n;
              onEvents(events);
            }
          }
        });
        const again = () => {
          if (closed) return;
          attempt++;
          setTimeout(open, 200);
        };
        res.on('end', again);
        res.on('error', again);
      });
      req.on('error', (e) => {
        if (closed) return;
        onError?.(e);
        attempt++;
        setTimeout(open, 500);
      });
      req.end(body);
      current = req;
    };
    open();
    return {
      close: () => {
        closed = true;
        current?.destroy();
      },
    };
  }

  close(): void {
    this.agent?.destroy();
  }
}

function toKV(kv: RawKV): KeyValue {
  return { key: unb64(kv.key), value: unb64(kv.value), modRevision: String(kv.mod_revision ?? '0'), createRevision: String(kv.create_revision ?? '0') };
}
