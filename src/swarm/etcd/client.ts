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

/** A member as etcd lists it; IDs are uint64s, kept as decimal strings. */
export interface EtcdMemberInfo {
  ID: string;
  /** empty until the member has started */
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

export interface EtcdStatus {
  /** the leader's member ID; "0" when the member knows none */
  leader: string;
  /** the answering member's ID */
  memberId: string;
  raftIndex: string;
  raftTerm: string;
  version: string;
  dbSize: string;
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

/** A user's name and password, for etcd's role-based access control. */
export interface EtcdCredentials {
  user: string;
  password: string;
}

/** What etcd says when a request's token is missing, expired or from another member. */
const TOKEN_REFUSED = /invalid auth token|user name is empty|revision of auth store is old/;

export class EtcdClient {
  private readonly agent?: https.Agent;
  private preferred = 0;
  /**
   * etcd's tokens (simple tokens are the issuing member's own), by endpoint; '' where auth
   * is off, asked again after a while (it is turned on once the cluster is made)
   */
  private readonly tokens = new Map<string, { token: string; at: number }>();

  constructor(private readonly o: { endpoints: string[]; tls?: EtcdTls; timeoutMs?: number; credentials?: EtcdCredentials }) {
    if (o.tls) {
      this.agent = new https.Agent({ ca: readFileSync(o.tls.caFile), cert: readFileSync(o.tls.certFile), key: readFileSync(o.tls.keyFile), keepAlive: true });
    }
  }

  get endpoints(): string[] {
    return this.o.endpoints;
  }

  /** The token for requests to `endpoint` ('' without credentials or while auth is off). */
  private async tokenFor(endpoint: string, timeoutMs: number): Promise<string> {
    const creds = this.o.credentials;
    if (!creds) return '';
    const cached = this.tokens.get(endpoint);
    if (cached && (cached.token || Date.now() - cached.at < 1000)) return cached.token;
    let token = '';
    try {
      const r = await this.post(endpoint, '/v3/auth/authenticate', { name: creds.user, password: creds.password }, timeoutMs, '');
      token = String(r.token ?? '');
    } catch (e) {
      if (!/authentication is not enabled/.test((e as Error).message)) throw e;
    }
    this.tokens.set(endpoint, { token, at: Date.now() });
    return token;
  }

  /** The headers of a request to `endpoint`: its token, if any. */
  async authHeaders(endpoint: string): Promise<Record<string, string>> {
    const token = await this.tokenFor(endpoint, this.o.timeoutMs ?? 5000);
    return token ? { Authorization: token } : {};
  }

  /** A token was refused: the next request asks for a new one. */
  forgetToken(endpoint: string): void {
    this.tokens.delete(endpoint);
  }

  /** One POST to one endpoint, with its token; a refused token is renewed once. */
  private async once(endpoint: string, path: string, body: unknown, timeoutMs: number): Promise<any> {
    try {
      return await this.post(endpoint, path, body, timeoutMs, await this.tokenFor(endpoint, timeoutMs));
    } catch (e) {
      if (!this.o.credentials || !TOKEN_REFUSED.test((e as Error).message)) throw e;
      this.forgetToken(endpoint);
      return this.post(endpoint, path, body, timeoutMs, await this.tokenFor(endpoint, timeoutMs));
    }
  }

  private post(endpoint: string, path: string, body: unknown, timeoutMs: number, token: string): Promise<any> {
    const url = new URL(path, endpoint);
    const data = JSON.stringify(body);
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(
        url,
        {
          method: 'POST',
          agent: url.protocol === 'https:' ? this.agent : undefined,
              headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data), ...(token ? { Authorization: token } : {}) },
          timeout: timeoutMs,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => {
            let parsed: any;
            try {
              parsed = text ? JSON.parse(text) : {};
            } catch {
              return reject(new EtcdError(`etcd at ${endpoint}: unreadable answer (status ${res.statusCode}: ${text.trim().slice(0, 200)})`, true));
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
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (e) => reject(new EtcdError(`etcd at ${endpoint}: ${e.message} (${path})`, true)));
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
    await this.call('/v3/lease/revoke', { ID: id }).catch((e: Error) => {
      if (!/not found/.test(e.message)) throw e;
    });
  }

  async memberList(): Promise<EtcdMemberInfo[]> {
    const r = await this.call('/v3/cluster/member/list', {});
    return ((r.members ?? []) as unknown[]).map(toMember);
  }

  /** Adds a member (not started yet: it has no name until it is); the new member and all members. */
  async memberAdd(peerURLs: string[], o: { learner?: boolean } = {}): Promise<EtcdMemberInfo & { members: EtcdMemberInfo[] }> {
    const r = await this.call('/v3/cluster/member/add', { peerURLs, ...(o.learner ? { isLearner: true } : {}) });
    return { ...toMember(r.member ?? {}), members: ((r.members ?? []) as unknown[]).map(toMember) };
  }

  /** Makes a learner a voting member (it must have caught up with the leader). */
  async memberPromote(id: string): Promise<void> {
    await this.call('/v3/cluster/member/promote', { ID: id });
  }

  async memberRemove(id: string): Promise<void> {
    await this.call('/v3/cluster/member/remove', { ID: id });
  }

  /** One member's view, asked of that member only ("0": it knows no leader). */
  async status(endpoint: string, timeoutMs = 2000): Promise<EtcdStatus> {
    const r = await this.once(endpoint, '/v3/maintenance/status', {}, timeoutMs);
    return {
      leader: String(r.leader ?? '0'),
      memberId: String(r.header?.member_id ?? ''),
      raftIndex: String(r.raftIndex ?? '0'),
      raftTerm: String(r.raftTerm ?? '0'),
      version: String(r.version ?? ''),
      dbSize: String(r.dbSize ?? '0'),
    };
  }

  /**
   * Watches the keys under `prefix` from `fromRevision` (0: from now) until closed. When
   * the stream breaks (the member died or restarted, the connection failed) it is opened
   * again, on the next endpoint, from the revision after the last one seen, so no event is
   * lost or seen twice. `onError` hears of every break; a compacted start revision is
   * one too (the events before the compaction are gone: the caller must read afresh),
   * and the watch goes on from the compaction's revision.
   */
  watchPrefix(prefix: string, fromRevision: string | number, onEvents: (events: WatchEvent[]) => void, onError?: (e: Error) => void): { close(): void } {
    let closed = false;
    // the next revision wanted; 0 until the first stream tells the current one
    let next = BigInt(fromRevision || 0);
    let current: http.ClientRequest | undefined;
    let endpointIndex = this.preferred;
    let failures = 0;
    let timer: NodeJS.Timeout | undefined;
    const timeoutMs = this.o.timeoutMs ?? 5000;

    /** ends a stream once, and opens the next after a pause that grows with the failures */
    const brokenAt = (endpoint: string, req: http.ClientRequest | undefined) => {
      let done = false;
      const broken = (why: string | undefined) => {
        if (done) return;
        done = true;
        req?.destroy();
        if (closed) return;
        if (why) onError?.(new EtcdError(`watch of ${prefix} at ${endpoint}: ${why}`, true));
        if (why && TOKEN_REFUSED.test(why)) this.forgetToken(endpoint);
        failures++;
        endpointIndex++;
        timer = setTimeout(open, Math.min(100 * 2 ** Math.min(failures - 1, 5), 2000));
      };
      return { broken, isDone: () => done };
    };

    const open = () => {
      timer = undefined;
      if (closed) return;
      const endpoint = this.o.endpoints[endpointIndex % this.o.endpoints.length];
      this.authHeaders(endpoint).then(
        (headers) => stream(endpoint, headers),
        (e: Error) => brokenAt(endpoint, undefined).broken(e.message),
      );
    };

    const stream = (endpoint: string, auth: Record<string, string>) => {
      if (closed) return;
      const url = new URL('/v3/watch', endpoint);
      const body = JSON.stringify({ create_request: { key: b64(prefix), range_end: prefixEnd(prefix), ...(next > 0n ? { start_revision: String(next) } : {}) } });
      const lib = url.protocol === 'https:' ? https : http;
      const req = lib.request(url, { method: 'POST', agent: url.protocol === 'https:' ? this.agent : undefined, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...auth } });
      const { broken, isDone } = brokenAt(endpoint, req);
      current = req;
      // a timeout for the answer only: the stream itself may stay quiet for long
      req.setTimeout(timeoutMs, () => broken(`no answer within ${timeoutMs} ms`));
      req.on('error', (e) => broken(e.message));
      req.on('response', (res) => {
        req.setTimeout(0);
        if ((res.statusCode ?? 500) >= 300) {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => broken(`status ${res.statusCode}: ${text.trim().slice(0, 200)}`));
          res.on('error', (e) => broken(e.message));
          return;
        }
        const parser = new JsonStream();
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (isDone()) return;
          for (const msg of parser.push(chunk)) {
            if (isDone()) return;
            if (msg.error) return broken(msg.error.message ?? JSON.stringify(msg.error));
            const result = msg.result ?? {};
            if (result.compact_revision && result.compact_revision !== '0') {
              const compacted = BigInt(result.compact_revision);
              onError?.(new EtcdError(`watch of ${prefix}: revision ${next} was compacted (the oldest left is ${compacted})`, false));
              next = compacted;
              return broken(undefined);
            }
            if (result.canceled) return broken(`canceled by etcd${result.cancel_reason ? `: ${result.cancel_reason}` : ''}`);
            if (result.created) {
              failures = 0;
              this.preferred = endpointIndex % this.o.endpoints.length;
              if (next === 0n) next = BigInt(result.header?.revision ?? '0') + 1n;
            }
            const events: WatchEvent[] = ((result.events ?? []) as { type?: string; kv: RawKV }[]).map((e) => ({
              type: e.type === 'DELETE' ? 'delete' : 'put',
              key: unb64(e.kv.key),
              value: e.type === 'DELETE' ? undefined : unb64(e.kv.value),
              modRevision: e.kv.mod_revision,
            }));
            if (events.length) {
              const last = events[events.length - 1].modRevision;
              if (last) next = BigInt(last) + 1n;
              onEvents(events);
            }
          }
        });
        res.on('error', (e) => broken(e.message));
        res.on('close', () => broken('the stream ended'));
      });
      req.end(body);
    };
    open();
    return {
      close: () => {
        closed = true;
        clearTimeout(timer);
        current?.destroy();
      },
    };
  }

  // ---- access control (needs a root user's token) -------------------------------------

  async userAdd(name: string, password: string): Promise<void> {
    await this.call('/v3/auth/user/add', { name, password });
  }

  async userDelete(name: string): Promise<void> {
    await this.call('/v3/auth/user/delete', { name }).catch((e: Error) => {
      if (!/user name not found/.test(e.message)) throw e;
    });
  }

  async userGrantRole(user: string, role: string): Promise<void> {
    await this.call('/v3/auth/user/grant', { user, role });
  }

  async userRevokeRole(name: string, role: string): Promise<void> {
    await this.call('/v3/auth/user/revoke', { name, role }).catch((e: Error) => {
      if (!/role is not granted/.test(e.message)) throw e;
    });
  }

  async roleAdd(name: string): Promise<void> {
    await this.call('/v3/auth/role/add', { name });
  }

  /** Lets the role read, or read and write, every key under `prefix`. */
  async roleGrantPrefix(role: string, prefix: string, perm: 'READ' | 'READWRITE'): Promise<void> {
    await this.call('/v3/auth/role/grant', { name: role, perm: { permType: perm, key: b64(prefix), range_end: prefixEnd(prefix) } });
  }

  async authEnable(): Promise<void> {
    await this.call('/v3/auth/enable', {});
    this.tokens.clear();
  }

  close(): void {
    this.agent?.destroy();
  }
}

/**
 * Splits a stream of JSON objects, one after the other with or without newlines between,
 * into the objects.
 */
export class JsonStream {
  private buf = '';
  private depth = 0;
  private inString = false;
  private escaped = false;
  private scanned = 0;

  push(chunk: string): any[] {
    this.buf += chunk;
    const out: any[] = [];
    let start = 0;
    for (let i = this.scanned; i < this.buf.length; i++) {
      const c = this.buf[i];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === '\\') this.escaped = true;
        else if (c === '"') this.inString = false;
      } else if (c === '"') this.inString = true;
      else if (c === '{' || c === '[') this.depth++;
      else if (c === '}' || c === ']') {
        if (--this.depth === 0) {
          const text = this.buf.slice(start, i + 1).trim();
          start = i + 1;
          try {
            out.push(JSON.parse(text));
          } catch {
            // not an object: skipped
          }
        }
      } else if (this.depth === 0 && c.trim() === '') start = i + 1;
    }
    this.buf = this.buf.slice(start);
    this.scanned = this.buf.length;
    return out;
  }
}

function toMember(m: any): EtcdMemberInfo {
  return { ID: String(m.ID ?? ''), name: m.name ?? '', peerURLs: m.peerURLs ?? [], clientURLs: m.clientURLs ?? [], isLearner: m.isLearner === true };
}

function toKV(kv: RawKV): KeyValue {
  return { key: unb64(kv.key), value: unb64(kv.value), modRevision: String(kv.mod_revision ?? '0'), createRevision: String(kv.create_revision ?? '0') };
}
