/**
 * A small typed client of the Docker Engine API, over a unix socket or TCP.
 * The CLI uses it, and so do tests that talk to a daemon:
 *
 *   const c = new EngineClient('unix:///run/berth/berth.sock');
 *   const list = await c.call<ContainerSummary[]>('GET', '/containers/json', { query: { all: true } });
 *   const res = await c.request('POST', '/containers/create', { body: { Image: 'busybox' } }); // raw, any status
 *   const logs = await c.stream('GET', `/containers/${id}/logs`, { query: { stdout: true } }); // a Readable
 *   const conn = await c.hijack('POST', `/containers/${id}/attach`, { query: { stream: true, stdout: true } });
 *
 * Paths are given without the version prefix; `/v1.50` is added unless the client
 * was made with `apiVersion: null`. `call` and `stream` throw EngineError for
 * non-2xx answers (status + the daemon's `message`); every method throws
 * DaemonUnreachableError when nothing answers at the address.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type * as net from 'node:net';
import type { Readable } from 'node:stream';
import { DaemonEndpoint, parseDaemonAddress, resolveDaemonAddress } from './address';
import { bufferedRequest, bunSockets } from './bun-request';
import type { sendRequest as SendRequest } from './http1';

// http1.ts (and node streams with it) is loaded on the first streamed request only
const sendRequest: typeof SendRequest = (...args) => (require('./http1') as typeof import('./http1')).sendRequest(...args);

export const API_VERSION = '1.50';

/** Whether API version `a` (1.41) is older than `b` (1.50). */
function olderVersion(a: string, b: string): boolean {
  const [am, an] = a.split('.').map(Number);
  const [bm, bn] = b.split('.').map(Number);
  return am < bm || (am === bm && an < bn);
}

/** Docker's refusal of a client newer than itself, with the version it speaks. */
const TOO_NEW = /client version [\d.]+ is too new\. Maximum supported API version is (\d+\.\d+)/;

export type QueryValue = string | number | boolean | null | undefined | readonly string[];
export type Query = Record<string, QueryValue>;

export interface RequestOptions {
  /** true → "1"; false, null and undefined are left out; arrays repeat the key. */
  query?: Query;
  /** Plain values are sent as JSON; Buffers and strings as they are; Readables are streamed. */
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface EngineResponse {
  status: number;
  /** lower-case names */
  headers: IncomingHttpHeaders;
  /** The unread body. Read it with one of the helpers below, or consume the stream. */
  stream: Readable;
  buffer(): Promise<Buffer>;
  text(): Promise<string>;
  /** Parsed JSON, or undefined for an empty body. */
  json<T = unknown>(): Promise<T>;
}

/** A whole answer, read: EngineClient.requestBuffered. */
export interface BufferedResponse {
  status: number;
  /** lower-case names */
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text(): string;
  /** Parsed JSON, or undefined for an empty body. */
  json<T = unknown>(): T;
}

function bufferedResponse(status: number, headers: BufferedResponse['headers'], body: Buffer): BufferedResponse {
  return {
    status,
    headers,
    body,
    text: () => body.toString('utf8'),
    json: <T>() => {
      const text = body.toString('utf8');
      return (text.trim() ? JSON.parse(text) : undefined) as T;
    },
  };
}

/** A non-2xx answer from the daemon. `message` is the daemon's `{"message": ...}`. */
export class EngineError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
    this.name = 'EngineError';
  }
}

/** Nothing answered at the daemon address (no socket, refused, no permission). */
export class DaemonUnreachableError extends Error {
  readonly address: string;
  readonly code: string | undefined;
  constructor(address: string, cause: NodeJS.ErrnoException) {
    super(
      cause.code === 'EACCES'
        ? `permission denied while trying to connect to the berth daemon socket at ${address}: ${cause.message}`
        : `Cannot connect to the berth daemon at ${address}. Is berthd running?`,
      { cause },
    );
    this.address = address;
    this.code = cause.code;
    this.name = 'DaemonUnreachableError';
  }
}

/** An upgraded (hijacked) connection: after the HTTP answer, raw bytes both ways. */
export interface HijackedConnection {
  socket: net.Socket;
  status: number;
  headers: Record<string, string>;
}

const unreachableCodes = new Set(['ENOENT', 'ECONNREFUSED', 'EACCES', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EAI_AGAIN', 'ENOTSOCK']);

export interface EngineClientOptions {
  /** API version for the path prefix; null sends unversioned paths. */
  apiVersion?: string | null;
  /** TLS for tcp:// addresses (see connection.ts for where it comes from); unset: plain TCP */
  tls?: ClientTls;
}

/** What a TLS client presents and checks: PEM contents, read once by whoever resolved the flags. */
export interface ClientTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** check the daemon's certificate against `ca` (or the system's roots) and its name */
  verify: boolean;
}

/** TLS went wrong: the words say which side refused what, and what to check. */
export class DaemonTlsError extends Error {
  readonly code: string | undefined;
  constructor(address: string, cause: NodeJS.ErrnoException) {
    super(`error during connect: TLS with ${address} failed: ${tlsFailureText(cause)}`, { cause });
    this.code = cause.code;
    this.name = 'DaemonTlsError';
  }
}

function tlsFailureText(e: NodeJS.ErrnoException): string {
  const code = e.code ?? '';
  const text = `${code} ${e.message}`;
  if (/CERTIFICATE_REQUIRED|certificate required/i.test(text)) return 'the daemon requires a client certificate (--tlscert/--tlskey, or cert.pem and key.pem in DOCKER_CERT_PATH)';
  if (/CERTIFICATE_EXPIRED/i.test(text)) return 'the daemon refused the client certificate: it has expired';
  if (/ALERT_UNKNOWN_CA|ALERT_BAD_CERTIFICATE|ALERT_DECRYPT_ERROR/i.test(text)) return 'the daemon refused the client certificate: it is not signed by a CA the daemon trusts';
  if (code === 'CERT_HAS_EXPIRED') return "the daemon's certificate has expired";
  if (/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT|UNABLE_TO_GET_ISSUER_CERT|CERT_SIGNATURE_FAILURE|certificate signature failure/i.test(text)) {
    return "the daemon's certificate is not signed by the CA given (--tlscacert, or ca.pem in DOCKER_CERT_PATH)";
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `the daemon's certificate is not valid for this host name: ${e.message}`;
  if (/WRONG_VERSION_NUMBER|wrong version number|PACKET_LENGTH_TOO_LONG|packet length too long|HTTP_REQUEST|record layer failure|unknown protocol/i.test(text)) return 'the daemon does not speak TLS on this port (a plain HTTP listener? drop --tls/--tlsverify)';
  return e.message;
}

/**
 * The connection was reset, or closed before the daemon answered: said as such, in Docker's
 * words ("error during connect: ...: read: connection reset by peer", "...: EOF"). A daemon
 * that refuses a client certificate says so with an alert (DaemonTlsError); a reset is
 * not taken for one, since a proxy, a firewall or a daemon going away resets as well.
 */
export class ConnectionResetError extends Error {
  readonly code: string | undefined;
  /** `certMaybeRefused`: the client presented a certificate and the handshake was done (see `handshaken`) */
  constructor(address: string, cause: NodeJS.ErrnoException, certMaybeRefused = false) {
    super(`error during connect: ${address}: ${resetText(cause)}${certMaybeRefused ? REFUSED_CERT_HINT : ''}`, { cause });
    this.code = cause.code;
    this.name = 'ConnectionResetError';
  }
}

/**
 * A daemon on Node (berthd among them) checks a client certificate only once the handshake
 * is done and, refusing it, closes the connection without an alert: to the client that is
 * a reset or an EOF right after the handshake. It is said as what it is, with this beside.
 */
const REFUSED_CERT_HINT = " (the daemon closed the connection after the TLS handshake without answering: it may not accept the client certificate; check that it is signed by the daemon's CA and has not expired)";

/** TLS sockets whose handshake is done: a reset after it may be a refused certificate, one before it is not. */
const handshaken = new WeakSet<object>();

function resetText(e: NodeJS.ErrnoException): string {
  if (e.syscall) return `${e.syscall}: connection reset by peer`;
  if (/before secure TLS connection/i.test(e.message)) return 'EOF (the connection was closed during the TLS handshake)';
  return 'EOF (the connection was closed before the daemon answered)';
}

const tlsCodes = /^(ERR_SSL_|ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|HOSTNAME_MISMATCH|ERR_BORINGSSL)/;

export function encodeQuery(query: Query | undefined): string {
  if (!query) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === false) continue;
    const vals = Array.isArray(v) ? v : [v === true ? '1' : String(v)];
    for (const x of vals) parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(x)}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

/** A request's headers and body: plain values as JSON, Buffers and strings as they are, Readables streamed. */
function requestContent(method: string, opts: RequestOptions): { headers: Record<string, string>; payload: Buffer | string | Readable | undefined } {
  const headers: Record<string, string> = { Host: 'berth', ...(opts.headers ?? {}) };
  let payload: Buffer | string | Readable | undefined;
  if (opts.body !== undefined) {
    if (Buffer.isBuffer(opts.body) || typeof opts.body === 'string' || isReadable(opts.body)) payload = opts.body as Buffer | string | Readable;
    else {
      payload = JSON.stringify(opts.body);
      headers['Content-Type'] ??= 'application/json';
    }
    if (!isReadable(payload)) headers['Content-Length'] = String(Buffer.byteLength(payload));
  } else if (method === 'POST' || method === 'PUT') headers['Content-Length'] = '0';
  return { headers, payload };
}

function isReadable(v: unknown): v is Readable {
  return typeof v === 'object' && v !== null && typeof (v as Readable).pipe === 'function' && typeof (v as Readable).on === 'function';
}

function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

// the reasons of the statuses the daemon answers with, for an error without a body
const statusText: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 406: 'Not Acceptable',
  409: 'Conflict', 412: 'Precondition Failed', 413: 'Payload Too Large', 416: 'Range Not Satisfiable', 500: 'Internal Server Error',
  501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

/** The daemon's error text: `{"message": ...}` when it is JSON, else the body itself. */
export function errorMessageFromBody(status: number, body: string): string {
  const trimmed = body.trim();
  try {
    const parsed = JSON.parse(trimmed) as { message?: unknown };
    if (parsed && typeof parsed.message === 'string') return parsed.message;
  } catch {
    // not JSON: fall through to the raw text
  }
  return trimmed || `${status} ${statusText[status] ?? 'error'}`;
}

export class EngineClient {
  readonly address: string;
  readonly endpoint: DaemonEndpoint;
  /** the version spoken: API_VERSION until an older daemon says it needs less (negotiated) */
  apiVersion: string | null;
  readonly tls: ClientTls | undefined;

  /** `address` defaults to -H's chain: BERTH_HOST, DOCKER_HOST, the default socket. */
  constructor(address?: string, opts: EngineClientOptions = {}) {
    this.address = address ?? resolveDaemonAddress();
    this.endpoint = parseDaemonAddress(this.address);
    this.apiVersion = opts.apiVersion === undefined ? API_VERSION : opts.apiVersion;
    this.tls = opts.tls ?? (this.endpoint.kind === 'tcp' && this.endpoint.tls ? { verify: true } : undefined);
  }

  /** Adds the version prefix to an API path (not to /_ping, nor to paths that have one). */
  pathFor(path: string, query?: Query): string {
    const versioned = this.apiVersion && !/^\/v\d/.test(path) && !path.startsWith('/_ping') ? `/v${this.apiVersion}${path}` : path;
    return versioned + encodeQuery(query);
  }

  /** A connection to the daemon; writes made before it is up are queued by the socket. */
  openConnection(): net.Socket {
    const ep = this.endpoint;
    // loaded here, not at the top: node:net brings node streams, which a buffered request under Bun does without
    const net = require('node:net') as typeof import('node:net');
    if (ep.kind === 'unix') return net.connect({ path: ep.socketPath, allowHalfOpen: true });
    if (ep.kind === 'ssh') {
      // loaded only for ssh:// hosts, to keep the CLI's start small
      const { connectSsh } = require('./ssh-conn') as typeof import('./ssh-conn');
      return connectSsh(ep) as unknown as net.Socket;
    }
    if (this.tls) {
      const tls = require('node:tls') as typeof import('node:tls');
      const t = this.tls;
      const socket = tls.connect({
        host: ep.host,
        port: ep.portGiven ? ep.port : 2376,
        servername: net.isIP(ep.host) ? undefined : ep.host,
        ca: t.ca,
        cert: t.cert,
        key: t.key,
        rejectUnauthorized: t.verify,
        minVersion: 'TLSv1.2',
        // not in the typings, but honoured: the hijacked streams end stdin and keep reading
        allowHalfOpen: true,
      } as import('node:tls').ConnectionOptions);
      socket.once('secureConnect', () => handshaken.add(socket));
      return socket;
    }
    return net.connect({ host: ep.host, port: ep.port, allowHalfOpen: true });
  }

  /** The error to report for `e`, met on `socket` (none: Bun's, never TLS) before the daemon answered. */
  private unreachable(e: unknown, socket?: net.Socket): unknown {
    const err = e as NodeJS.ErrnoException;
    if (err && this.tls && err.code === 'ECONNRESET') return new ConnectionResetError(this.address, err, this.tls.cert !== undefined && socket !== undefined && handshaken.has(socket));
    if (err && this.tls && err.code && (tlsCodes.test(err.code) || err.code === 'EPROTO')) return new DaemonTlsError(this.address, err);
    if (err && this.endpoint.kind === 'ssh' && err.code === 'ESSH') return new Error(`error during connect: ${this.address}: ${err.message}`);
    return err && err.code && unreachableCodes.has(err.code) ? new DaemonUnreachableError(this.address, err) : e;
  }

  /**
   * Whether an answer is an older daemon's refusal of the API version (Docker: 400 "client
   * version 1.50 is too new. Maximum supported API version is 1.41"); if so the client speaks
   * that version from now on, as the docker CLI negotiates, and the caller sends again.
   */
  private renegotiated(status: number, text: string): boolean {
    if (status !== 400 || this.apiVersion === null) return false;
    const max = TOO_NEW.exec(text)?.[1];
    if (!max || !olderVersion(max, this.apiVersion)) return false;
    this.apiVersion = max;
    return true;
  }

  /** Sends a request; resolves with the answer whatever its status. */
  async request(method: string, path: string, opts: RequestOptions = {}): Promise<EngineResponse> {
    const res = await this.requestOnce(method, path, opts);
    // a body that streams cannot be sent twice: its answer stays the refusal
    if (res.status !== 400 || isReadable(opts.body)) return res;
    const body = await res.buffer();
    if (this.renegotiated(res.status, body.toString('utf8'))) return this.requestOnce(method, path, opts);
    const { Readable: ReadableStream } = require('node:stream') as typeof import('node:stream');
    return { ...res, stream: ReadableStream.from([body]), buffer: async () => body };
  }

  private requestOnce(method: string, path: string, opts: RequestOptions): Promise<EngineResponse> {
    const { headers, payload } = requestContent(method, opts);

    const socket = this.openConnection();
    return sendRequest(socket, { method, path: this.pathFor(path, opts.query), headers, body: payload, signal: opts.signal }).then(
      (res) => {
        let buffered: Promise<Buffer> | undefined;
        const buffer = () => (buffered ??= readAll(res.body));
        return {
          status: res.status,
          headers: res.headers,
          stream: res.body,
          buffer,
          text: async () => (await buffer()).toString('utf8'),
          json: async <T>() => {
            const text = (await buffer()).toString('utf8');
            return (text.trim() ? JSON.parse(text) : undefined) as T;
          },
        };
      },
      (e: unknown) => {
        throw this.unreachable(e, socket);
      },
    );
  }

  /**
   * Sends a request and reads the whole answer, whatever its status. The compiled CLI sends
   * it over Bun's sockets (bun-request.ts) where it can: a plain socket, a body in memory.
   */
  async requestBuffered(method: string, path: string, opts: RequestOptions = {}): Promise<BufferedResponse> {
    const ep = this.endpoint;
    const bun = bunSockets();
    if (bun && !isReadable(opts.body) && !opts.signal && !this.tls && (ep.kind === 'unix' || ep.kind === 'tcp')) {
      const { headers, payload } = requestContent(method, opts);
      const send = () =>
        bufferedRequest(bun, ep, method, this.pathFor(path, opts.query), headers, payload as Buffer | string | undefined).catch((e: unknown) => {
          throw this.unreachable(e);
        });
      let answer = await send();
      if (this.renegotiated(answer.status, answer.body.toString('utf8'))) answer = await send();
      return bufferedResponse(answer.status, answer.headers, answer.body);
    }
    const res = await this.request(method, path, opts);
    return bufferedResponse(res.status, res.headers, await res.buffer());
  }

  /** Sends a request and parses the JSON answer; non-2xx → EngineError. */
  async call<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.requestBuffered(method, path, opts);
    if (res.status < 200 || res.status >= 300) throw new EngineError(res.status, errorMessageFromBody(res.status, res.text()));
    return res.json<T>();
  }

  /** Sends a request and hands back the body as a stream; non-2xx → EngineError. */
  async stream(method: string, path: string, opts: RequestOptions = {}): Promise<Readable> {
    const res = await this.request(method, path, opts);
    if (res.status < 200 || res.status >= 300) throw new EngineError(res.status, errorMessageFromBody(res.status, await res.text()));
    return res.stream;
  }

  /** GET /_ping: the daemon's API version and whether it answers. */
  async ping(): Promise<{ apiVersion?: string; osType?: string }> {
    const res = await this.requestBuffered('GET', '/_ping');
    if (res.status !== 200) throw new EngineError(res.status, `ping answered ${res.status}`);
    return { apiVersion: res.headers['api-version'] as string | undefined, osType: res.headers['ostype'] as string | undefined };
  }

  /**
   * Upgrades a request to a raw connection, as attach and exec start do: sends
   * `Connection: Upgrade` / `Upgrade: tcp`, accepts 101 (or 200 from daemons that
   * hijack without upgrading), and returns the socket positioned at the first byte
   * of the stream. Ending the socket's write side (socket.end()) tells the daemon
   * that stdin is finished. Non-2xx → EngineError.
   */
  async hijack(method: string, path: string, opts: RequestOptions = {}): Promise<HijackedConnection> {
    try {
      return await this.hijackOnce(method, path, opts);
    } catch (e) {
      if (e instanceof EngineError && this.renegotiated(e.status, e.message)) return this.hijackOnce(method, path, opts);
      throw e;
    }
  }

  private async hijackOnce(method: string, path: string, opts: RequestOptions): Promise<HijackedConnection> {
    const body = opts.body === undefined ? '' : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    const headers: Record<string, string> = {
      Host: 'berth',
      'Content-Type': opts.body === undefined ? 'text/plain' : 'application/json',
      'Content-Length': String(Buffer.byteLength(body)),
      Connection: 'Upgrade',
      Upgrade: 'tcp',
      ...(opts.headers ?? {}),
    };
    let res: Awaited<ReturnType<typeof sendRequest>>;
    const socket = this.openConnection();
    try {
      // written at once: a socket queues it until it is connected (TLS: until the handshake is done)
      res = await sendRequest(socket, { method, path: this.pathFor(path, opts.query), headers, body, signal: opts.signal, upgrade: true });
    } catch (e) {
      throw this.unreachable(e, socket);
    }
    if (res.upgraded) return { socket: res.upgraded, status: res.status, headers: res.headers };
    // what came before a connection cut short is still the daemon's words
    const text = await readAll(res.body).then((b) => b.toString('utf8'), () => '');
    throw new EngineError(res.status, errorMessageFromBody(res.status, text));
  }
}

/**
 * Reads a stream of JSON objects (pull/push/import/build progress, events): one
 * per line, or simply concatenated. Calls `onMessage` for each as it arrives.
 */
export function readJsonStream<T = Record<string, unknown>>(stream: NodeJS.ReadableStream, onMessage: (msg: T) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let pending = '';
    const flush = (final: boolean) => {
      for (;;) {
        const trimmed = pending.replace(/^\s+/, '');
        if (!trimmed) {
          pending = '';
          return;
        }
        const end = jsonValueEnd(trimmed);
        if (end < 0) {
          if (final) throw new Error(`invalid JSON in stream: ${trimmed.slice(0, 80)}`);
          pending = trimmed;
          return;
        }
        onMessage(JSON.parse(trimmed.slice(0, end)) as T);
        pending = trimmed.slice(end);
      }
    };
    stream.on('data', (c: Buffer | string) => {
      pending += c.toString();
      try {
        flush(false);
      } catch (e) {
        reject(e);
      }
    });
    stream.on('end', () => {
      try {
        flush(true);
        resolve();
      } catch (e) {
        reject(e);
      }
    });
    stream.on('error', reject);
  });
}

/** Index just past the first complete JSON object/array in `s`, or -1 if it is incomplete. */
function jsonValueEnd(s: string): number {
  if (s[0] !== '{' && s[0] !== '[') {
    const nl = s.indexOf('\n');
    return nl < 0 ? -1 : nl;
  }
  let depth = 0;
  let inString = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}
