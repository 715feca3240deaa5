import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Duplex } from 'node:stream';
import { BerthError, invalid, isErrno } from '../common/errors';
import { apiCall } from '../common/timing';
import { cleanPath, MalformedTargetError, parseRequestTarget, type RequestTarget } from '../common/request-target';
import { readBody } from './respond';
import type { Router, RequestContext } from './router';
import { RequestValidator } from './validate';
import { loadServerTls, tlsFront, type ServerTlsFiles } from './tls-listener';

export const API_VERSION = '1.50';
export const MIN_API_VERSION = '1.24';

const VERSION_PREFIX = /^\/v(\d+\.\d+)(\/.*)$/;

export interface ApiServerOptions {
  router: Router;
  /** Listen addresses as dockerd's -H takes them: unix:///path, tcp://host:port, fd:// not supported. */
  hosts: string[];
  log: (msg: string) => void;
  /** TLS for the tcp:// listeners (unix sockets stay plain); absent or disabled: plain HTTP */
  tls?: ServerTlsFiles & { enabled: boolean };
  /** answered in `Docker-Experimental`: the docker CLI offers `checkpoint` only when it is true */
  experimental?: boolean;
}

/** Orders API versions ("1.41" < "1.50"); routes use it where Docker's behaviour moved with the version. */
export function compareVersions(a: string, b: string): number {
  const [am, an] = a.split('.').map(Number);
  const [bm, bn] = b.split('.').map(Number);
  return am - bm || an - bn;
}

/** Turns any thrown value into Docker's `{"message": ...}` answer. The one place errors are mapped. */
export function writeError(res: http.ServerResponse | undefined, socket: Duplex | undefined, err: unknown, log: (m: string) => void): void {
  const status = err instanceof BerthError ? err.status : 500;
  const message = err instanceof Error ? err.message : String(err);
  if (status >= 500) log(`error: ${err instanceof Error && err.stack ? err.stack : message}`);
  const body = JSON.stringify({ message });
  if (res && !res.headersSent) {
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  } else if (socket && !socket.destroyed) {
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  } else if (res && !res.writableEnded) {
    res.destroy();
  }
}

export class ApiServer {
  private readonly servers: http.Server[] = [];
  /** the sniffing fronts of TLS listeners (see tls-listener.ts) */
  private readonly fronts: net.Server[] = [];
  /** hijacked connections leave the http server's books; they are closed with it */
  private readonly upgraded = new Set<Duplex>();
  private readonly validator = new RequestValidator();
  constructor(private readonly opts: ApiServerOptions) {}

  async listen(): Promise<void> {
    const tlsOn = this.opts.tls?.enabled === true;
    const secureOptions = tlsOn && this.opts.hosts.some((h) => h.startsWith('tcp://')) ? await loadServerTls(this.opts.tls!) : undefined;
    for (const host of this.opts.hosts) {
      const secure = secureOptions && host.startsWith('tcp://');
      const handler = (req: http.IncomingMessage, res: http.ServerResponse) => this.serve(req, res);
      const server = secure ? https.createServer({ ...secureOptions, keepAliveTimeout: 60_000, allowHalfOpen: true }, handler) : http.createServer({ keepAliveTimeout: 60_000 }, handler);
      server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
        this.upgraded.add(socket);
        socket.once('close', () => this.upgraded.delete(socket));
        // a client that goes away mid-stream (a detach, a killed CLI) is not the daemon's error
        socket.on('error', () => socket.destroy());
        const res = new http.ServerResponse(req);
        // The upgrade socket is answered by hand; the ServerResponse is only a sink for errors before that.
        res.assignSocket(socket as net.Socket);
        this.serve(req, res, socket, head);
      });
      // Clients hold attach and wait requests open for a long time.
      server.requestTimeout = 0;
      server.headersTimeout = 60_000;
      if (secure) {
        const front = tlsFront(server as https.Server, this.opts.log);
        await listenOn(front, host, 2376);
        this.fronts.push(front);
      } else await listenOn(server, host);
      this.servers.push(server);
    }
  }

  async close(): Promise<void> {
    for (const s of this.upgraded) s.destroy();
    for (const f of this.fronts) f.close();
    await Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            // a TLS server behind a front never listened: its close() calls back with an error at once
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
  }

  /** dispatch() answers every error itself; what escapes it (a failure while answering) is logged, never left to end the process. */
  private serve(req: http.IncomingMessage, res: http.ServerResponse, upgradeSocket?: Duplex, upgradeHead?: Buffer): void {
    const answered = apiCall(req.method ?? 'GET', req.url ?? '');
    this.dispatch(req, res, upgradeSocket, upgradeHead).then(() => answered(res.statusCode), (e: unknown) => {
      this.opts.log(`error: answering ${req.method} ${req.url}: ${e instanceof Error ? e.stack : String(e)}`);
      res.destroy();
      upgradeSocket?.destroy();
    });
  }

  private async dispatch(req: http.IncomingMessage, res: http.ServerResponse, upgradeSocket?: Duplex, upgradeHead?: Buffer): Promise<void> {
    try {
      const target = requestTargetOf(req.url);
      const clean = cleanPath(target.path);
      // as dockerd (gorilla/mux): a path that is not clean is redirected, never routed
      if (clean !== target.path) return redirect(res, upgradeSocket, clean + target.search);
      let pathname = target.path;
      let apiVersion = API_VERSION;
      const m = VERSION_PREFIX.exec(pathname);
      if (m) {
        apiVersion = m[1];
        pathname = m[2];
      }
      if (compareVersions(apiVersion, MIN_API_VERSION) < 0) {
        throw new BerthError('INVALID_PARAMETER', `client version ${apiVersion} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
      }
      if (compareVersions(apiVersion, API_VERSION) > 0) {
        throw new BerthError('INVALID_PARAMETER', `client version ${apiVersion} is too new. Maximum supported API version is ${API_VERSION}`);
      }
      const found = this.opts.router.match(req.method ?? 'GET', pathname);
      if (found === undefined) throw new BerthError('NOT_FOUND', 'page not found');
      if (found === 'method-not-allowed') throw new BerthError('NOT_FOUND', 'page not found');
      res.setHeader('Api-Version', API_VERSION);
      res.setHeader('Docker-Experimental', String(this.opts.experimental === true));
      res.setHeader('Ostype', 'linux');
      res.setHeader('Server', `Berth/${process.env.npm_package_version ?? '0.1.0'} (linux)`);
      const ctx: RequestContext = { req, res, params: found.params, query: target.query, apiVersion, upgradeSocket, upgradeHead };
      await this.validator.check(ctx, req.method ?? 'GET', pathname, readUpgradeBody);
      await found.handler(ctx);
    } catch (err) {
      writeError(res, upgradeSocket, err, this.opts.log);
    }
  }
}

function requestTargetOf(raw: string | undefined): RequestTarget {
  try {
    return parseRequestTarget(raw);
  } catch (e) {
    if (e instanceof MalformedTargetError) throw new BerthError('INVALID_PARAMETER', e.message);
    throw e;
  }
}

function redirect(res: http.ServerResponse, upgradeSocket: Duplex | undefined, location: string): void {
  if (upgradeSocket) {
    upgradeSocket.end(`HTTP/1.1 301 Moved Permanently\r\nLocation: ${location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    return;
  }
  res.writeHead(301, { Location: location, 'Content-Length': 0 });
  res.end();
}

/** `defaultPort`: for a tcp:// address without one, 2375 plain and 2376 with TLS, as dockerd */
async function listenOn(server: net.Server, host: string, defaultPort = 2375): Promise<void> {
  if (host.startsWith('unix://') || host.startsWith('/')) {
    const sock = host.startsWith('unix://') ? host.slice('unix://'.length) : host;
    await fsp.mkdir(path.dirname(sock), { recursive: true });
    await removeStaleSocket(sock);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(sock, () => {
        server.off('error', reject);
        resolve();
      });
    });
    await fsp.chmod(sock, 0o660);
    return;
  }
  if (host.startsWith('tcp://')) {
    const u = new URL(host.replace(/^tcp:/, 'http:'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(Number(u.port || defaultPort), u.hostname.replace(/^\[|\]$/g, ''), () => {
        server.off('error', reject);
        resolve();
      });
    });
    return;
  }
  throw new BerthError('INVALID_PARAMETER', `invalid host address ${host}: use unix:///path or tcp://host:port`);
}

/** A socket file left by a daemon that died is removed; one that still answers belongs to a live daemon. */
async function removeStaleSocket(sock: string): Promise<void> {
  try {
    await fsp.lstat(sock);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return;
    throw e;
  }
  const alive = await new Promise<boolean>((resolve) => {
    const c = net.connect(sock);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (alive) throw new BerthError('CONFLICT', `another daemon is listening on ${sock}`);
  await fsp.unlink(sock);
}

/**
 * The body of a request that asks to upgrade (exec start, attach). Node hands such a request
 * over before its body: the body's bytes are at the start of `head` and of what the socket
 * reads next. They are taken off here, and anything after them (the client's stdin, sent
 * early) is put back on the socket for the stream.
 */
/** attach and exec-start bodies are a few hundred bytes of JSON */
const MAX_UPGRADE_BODY = 1024 * 1024;

export async function readUpgradeBody(ctx: RequestContext): Promise<Buffer> {
  const socket = ctx.upgradeSocket;
  if (!socket) return readBody(ctx.req);
  const length = Number(ctx.req.headers['content-length'] ?? 0);
  // the same bound as any other request body: a declared length is not a licence to buffer
  if (length > MAX_UPGRADE_BODY) throw invalid('request body too large');
  let got = ctx.upgradeHead ?? Buffer.alloc(0);
  if (Number.isFinite(length) && length > got.length) {
    got = await new Promise<Buffer>((resolve, reject) => {
      let acc = got;
      const onData = (d: Buffer) => {
        acc = Buffer.concat([acc, d]);
        if (acc.length >= length) {
          done();
          resolve(acc);
        }
      };
      const onEnd = () => {
        done();
        resolve(acc);
      };
      const onError = (e: Error) => {
        done();
        reject(e);
      };
      const done = () => {
        socket.off('data', onData);
        socket.off('end', onEnd);
        socket.off('error', onError);
        socket.pause();
      };
      socket.on('data', onData);
      socket.once('end', onEnd);
      socket.once('error', onError);
    });
  }
  const body = got.subarray(0, Math.max(0, Math.min(length || 0, got.length)));
  const rest = got.subarray(body.length);
  if (rest.length) socket.unshift(rest);
  return body;
}

/** Writes the 101 answer of a hijacked connection (or 200 for clients that did not ask to upgrade). */
export function startRawStream(ctx: RequestContext, contentType: string): Duplex | http.ServerResponse {
  if (ctx.upgradeSocket) {
    ctx.upgradeSocket.write(
      `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: ${API_VERSION}\r\n\r\n`,
    );
    return ctx.upgradeSocket;
  }
  ctx.res.writeHead(200, { 'Content-Type': contentType });
  ctx.res.flushHeaders();
  return ctx.res;
}
