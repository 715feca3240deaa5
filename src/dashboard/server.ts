/**
 * berthd's web dashboard: its own HTTP(S) listener, off unless `--dashboard ADDR:PORT`.
 *
 *   GET  /?token=T          trades a one-time login token for a session cookie, then 303 to /
 *   GET  /, /assets/…       the front end (static; it shows nothing without a session)
 *   GET  /session           the session's CSRF token, or 401
 *   POST /logout            ends the session
 *   ANY  /api/<engine path> the Engine API, proxied (session; CSRF header and same origin
 *                           on anything but GET)
 *   WS   /terminal?exec=ID&csrf=T   the exec's TTY (session, same origin, CSRF)
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { hostname } from 'node:os';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer } from 'ws';
import type { DashboardSettings } from './settings';
import { isLoopback } from './settings';
import { LoginTokens } from './login-tokens';
import { csrfMatches, Sessions, SESSION_TTL_MS, type Session } from './sessions';
import { clearedSessionCookie, isSameOrigin, readCookie, sessionCookie, SESSION_COOKIE, setSecurityHeaders } from './guard';
import { proxyToEngine } from './engine-proxy';
import { joinExecToWebSocket } from './terminal';
import { ASSETS_DIR, loadAssets, type StaticFile } from './static-files';

export const CSRF_HEADER = 'x-berth-csrf';

export interface DashboardOptions {
  settings: DashboardSettings;
  /** the daemon's own unix socket: the dashboard is one more client of it */
  engineSocket: string;
  log: (msg: string) => void;
  assetsDir?: string;
}

export class DashboardServer {
  readonly tokens = new LoginTokens();
  private readonly sessions = new Sessions();
  private readonly assets: Map<string, StaticFile>;
  private readonly tls: boolean;
  private server?: http.Server;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });

  constructor(private readonly opts: DashboardOptions) {
    this.tls = Boolean(opts.settings.tlsCert);
    this.assets = loadAssets(opts.assetsDir ?? ASSETS_DIR);
    if (!this.assets.has('/index.html')) opts.log('warning: the dashboard front end is not built (dist/dashboard is missing): run npm run build');
  }

  async listen(): Promise<void> {
    const { settings } = this.opts;
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => this.serve(req, res);
    const server = this.tls
      ? https.createServer(
          {
            cert: readFileSync(settings.tlsCert!),
            key: readFileSync(settings.tlsKey!),
            // a client certificate is asked for, not required: a login link works as well
            ...(settings.tlsCa ? { ca: readFileSync(settings.tlsCa), requestCert: true, rejectUnauthorized: false } : {}),
          },
          handler,
        )
      : http.createServer(handler);
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
    server.requestTimeout = 0;
    server.headersTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(settings.port, settings.host === 'localhost' ? '127.0.0.1' : settings.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  /** The port it listens on (the one asked for, or the one the kernel chose for port 0). */
  get port(): number {
    const a = this.server?.address();
    return typeof a === 'object' && a ? a.port : this.opts.settings.port;
  }

  /** The link `berth dashboard` prints. */
  loginUrl(token: string): string {
    const { host } = this.opts.settings;
    const shown = host === '0.0.0.0' || host === '::' ? hostname() : isLoopback(host) && host !== '::1' ? '127.0.0.1' : host;
    const h = shown.includes(':') ? `[${shown}]` : shown;
    return `${this.tls ? 'https' : 'http'}://${h}:${this.port}/?token=${token}`;
  }

  async close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    const s = this.server;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }

  /**
   * On loopback, a page of another site whose name was made to resolve to 127.0.0.1 (DNS
   * rebinding) would be same-origin with itself; it gets no cookie, and with this no page either.
   */
  private hostAllowed(req: http.IncomingMessage): boolean {
    if (!isLoopback(this.opts.settings.host)) return true;
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    return host === 'localhost' || host === '[::1]' || isLoopback(host);
  }

  private session(req: http.IncomingMessage): { id?: string; session?: Session } {
    const id = readCookie(req, SESSION_COOKIE);
    return { id, session: this.sessions.get(id) };
  }

  /**
   * A browser that shows a client certificate signed by --dashboard-tls-cacert needs no login
   * link: its first request opens a session (and sets the cookie on that answer).
   */
  private sessionOrCertificate(req: http.IncomingMessage, res: http.ServerResponse): { id?: string; session?: Session } {
    const found = this.session(req);
    if (found.session || !this.opts.settings.tlsCa || !(req.socket as TLSSocket).authorized) return found;
    const made = this.sessions.create();
    res.setHeader('Set-Cookie', sessionCookie(made.id, this.tls, Math.floor(SESSION_TTL_MS / 1000)));
    return made;
  }

  private serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    setSecurityHeaders(res, this.tls);
    const url = targetOf(req);
    if (!url) return json(res, 400, { message: 'malformed request target' });
    const method = req.method ?? 'GET';
    if (!this.hostAllowed(req)) return json(res, 421, { message: 'this dashboard answers to 127.0.0.1, localhost and [::1] only' });
    try {
      if (url.pathname.startsWith('/api/')) return this.api(req, res, url, method);
      if (url.pathname === '/session' && method === 'GET') {
        const { session } = this.sessionOrCertificate(req, res);
        if (!session) return json(res, 401, { message: 'no session: log in with the link `berth dashboard` prints' });
        return json(res, 200, { csrf: session.csrf });
      }
      if (url.pathname === '/logout' && method === 'POST') {
        const { id, session } = this.session(req);
        if (!session) return json(res, 401, { message: 'no session' });
        if (!isSameOrigin(req, this.tls) || !csrfMatches(session, header(req, CSRF_HEADER))) return json(res, 403, { message: 'cross-site request refused' });
        this.sessions.delete(id);
        res.setHeader('Set-Cookie', clearedSessionCookie(this.tls));
        return json(res, 200, {});
      }
      if (method !== 'GET' && method !== 'HEAD') return json(res, 405, { message: 'method not allowed' });
      if (url.pathname === '/' && url.searchParams.has('token')) return this.login(res, url.searchParams.get('token') ?? '');
      const file = this.assets.get(url.pathname === '/' ? '/index.html' : url.pathname);
      if (!file && url.pathname === '/') {
        res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('The dashboard front end is not built (dist/dashboard is missing): run npm run build.\n');
        return;
      }
      if (!file) return json(res, 404, { message: 'page not found' });
      if (req.headers['if-none-match'] === file.etag) {
        res.writeHead(304, { etag: file.etag, 'cache-control': 'no-cache' });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': file.type, 'content-length': file.body.length, 'cache-control': 'no-cache', etag: file.etag });
      res.end(method === 'HEAD' ? undefined : file.body);
    } catch (e) {
      this.opts.log(`error: dashboard ${method} ${url.pathname}: ${(e as Error).stack}`);
      if (!res.headersSent) json(res, 500, { message: 'internal error' });
      else res.destroy();
    }
  }

  private login(res: http.ServerResponse, token: string): void {
    if (!this.tokens.redeem(token)) {
      res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('This login link was already used or has expired. Run `berth dashboard` for a new one.\n');
      return;
    }
    const { id } = this.sessions.create();
    // the redirect takes the token out of the address bar and the history
    res.writeHead(303, { location: '/', 'set-cookie': sessionCookie(id, this.tls, Math.floor(SESSION_TTL_MS / 1000)), 'cache-control': 'no-store' });
    res.end();
  }

  private api(req: http.IncomingMessage, res: http.ServerResponse, url: URL, method: string): void {
    const { session } = this.sessionOrCertificate(req, res);
    if (!session) return json(res, 401, { message: 'no session: log in with the link `berth dashboard` prints' });
    if (method !== 'GET' && method !== 'HEAD' && (!isSameOrigin(req, this.tls) || !csrfMatches(session, header(req, CSRF_HEADER)))) {
      return json(res, 403, { message: 'cross-site request refused' });
    }
    const enginePath = url.pathname.slice('/api'.length);
    // berth's own endpoints (login tokens) are for the socket's users, not for a page
    if (/^\/(v[\d.]+\/)?berth\//.test(enginePath) || enginePath.includes('/../') || req.headers.upgrade) return json(res, 404, { message: 'page not found' });
    proxyToEngine(this.opts.engineSocket, enginePath + url.search, req, res, this.opts.log);
  }

  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const url = targetOf(req);
    const { session } = this.session(req);
    const refuse = (status: number): void => {
      socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    };
    if (!url) return refuse(400);
    if (!this.hostAllowed(req)) return refuse(421);
    if (url.pathname !== '/terminal') return refuse(404);
    if (!session) return refuse(401);
    if (!isSameOrigin(req, this.tls) || !csrfMatches(session, url.searchParams.get('csrf') ?? undefined)) return refuse(403);
    const execId = url.searchParams.get('exec') ?? '';
    if (!/^[0-9a-f]{12,64}$/.test(execId)) return refuse(400);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      void joinExecToWebSocket(ws, this.opts.engineSocket, execId, this.opts.log);
    });
  }
}

/** The request's path and query; undefined when it is not a path ("//host/…", junk). */
function targetOf(req: http.IncomingMessage): URL | undefined {
  const raw = req.url ?? '/';
  if (!raw.startsWith('/') || raw.startsWith('//')) return undefined;
  try {
    return new URL(raw, 'http://dashboard');
  } catch {
    return undefined;
  }
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}
