/**
 * For tests that run the berth CLI in-process (`main` from src/cli/main) against a fake
 * Engine API on a unix socket in a temp dir: the fake daemon, a stream that collects what
 * the CLI prints, and `runCli`.
 *
 * By default the daemon records every request in `seen` and answers it from `answers`, by
 * "METHOD /path" (without the version prefix and query); what has no answer gets docker's
 * 404 "page not found". `seen` and `answers` are the same array and object for the engine's
 * lifetime (`reset()` empties them in place), so a test file may keep aliases to them.
 */
import * as http from 'node:http';
import { PassThrough } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main';

/** A request the fake daemon received. */
export interface Seen {
  method: string;
  /** Path without the version prefix, with the query. */
  url: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  /** The X-Registry-Auth header, if sent. */
  auth?: string;
  body: string;
}

export type Answer = (req: Seen, res: http.ServerResponse) => void;

export const json = (res: http.ServerResponse, status: number, o: unknown) => {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(o));
};

export const noContent = (res: http.ServerResponse, status = 204) => {
  res.writeHead(status);
  res.end();
};

export class FakeEngine {
  readonly seen: Seen[] = [];
  /** What the fake daemon answers, by "METHOD /path" (without the version prefix and query). */
  readonly answers: Record<string, Answer> = {};
  readonly server: http.Server;
  /** The temp dir holding the socket; set by listen(), removed by stop(). */
  dir = '';
  socketPath = '';

  /**
   * `prefix` names the temp dir. A `handler` replaces the recording, answering one (then
   * `seen` and `answers` stay unused); `server` is there for other listeners, e.g. 'upgrade'.
   */
  constructor(
    private readonly prefix: string,
    handler?: http.RequestListener,
  ) {
    this.server = http.createServer(handler ?? ((req, res) => this.handle(req, res)));
  }

  /** Makes the temp dir and listens on engine.sock in it. */
  async listen(): Promise<this> {
    this.dir = mkdtempSync(join(tmpdir(), this.prefix));
    this.socketPath = join(this.dir, 'engine.sock');
    await new Promise<void>((resolve) => this.server.listen(this.socketPath, resolve));
    return this;
  }

  /** The socket as a -H / BERTH_HOST value. */
  get host(): string {
    return `unix://${this.socketPath}`;
  }

  /** Forgets the requests seen and the answers set. */
  reset(): void {
    this.seen.length = 0;
    for (const key of Object.keys(this.answers)) delete this.answers[key];
  }

  stop(): void {
    this.server.closeAllConnections();
    this.server.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const path = url.pathname.replace(/^\/v[0-9.]+/, '');
      const s: Seen = {
        method: req.method ?? '',
        url: path + url.search,
        query: url.searchParams,
        headers: req.headers,
        auth: req.headers['x-registry-auth'] as string | undefined,
        body,
      };
      this.seen.push(s);
      const answer = this.answers[`${req.method} ${path}`];
      if (answer) answer(s, res);
      else json(res, 404, { message: 'page not found' });
    });
  }
}

/** An output stream that collects what is written to it in `text`; not a terminal unless told. */
export class Capture extends PassThrough {
  text = '';
  isTTY = false;
  override write(chunk: unknown, ...rest: unknown[]): boolean {
    this.text += typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString();
    const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    cb?.();
    return true;
  }
}

export interface CliOptions {
  /** A string is the whole input; a stream is used as is; none: an input that never ends. */
  stdin?: string | PassThrough;
  /** The whole environment, after BERTH_HOST from `host`. */
  env?: Record<string, string>;
  /** Given: BERTH_HOST. */
  host?: string;
}

/** Runs the CLI in-process on args; resolves with its exit status and what it printed. */
export async function runCli(args: string[], opts: CliOptions = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  let stdin: PassThrough;
  if (typeof opts.stdin === 'string') {
    stdin = new PassThrough();
    stdin.end(opts.stdin);
  } else {
    stdin = opts.stdin ?? new PassThrough();
  }
  const code = await main(args, {
    stdin: stdin as unknown as NodeJS.ReadStream,
    stdout: stdout as unknown as NodeJS.WriteStream,
    stderr: stderr as unknown as NodeJS.WriteStream,
    env: { ...(opts.host !== undefined ? { BERTH_HOST: opts.host } : {}), ...(opts.env ?? {}) },
  });
  return { code, stdout: stdout.text, stderr: stderr.text };
}
