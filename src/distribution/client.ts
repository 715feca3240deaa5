import * as http from 'node:http';
import * as https from 'node:https';
import type { Readable } from 'node:stream';
import { BerthError, system } from '../common/errors';
import { AuthConfig, hasCredentials, parseChallenges, RegistryUnauthorized } from './auth';
import type { Endpoint } from './endpoint';

/**
 * One conversation with a registry about some repositories: the scheme is found once per
 * host (insecure registries fall back from HTTPS to HTTP, as dockerd does), the first
 * answer's challenge decides between Basic credentials and a bearer token for the scopes,
 * and later 401s fetch a fresh token once before giving up.
 */
const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 16 });
const insecureHttpsAgent = new https.Agent({ keepAlive: true, maxSockets: 16, rejectUnauthorized: false });

/** Hosts known to answer only plain HTTP, so the HTTPS attempt is made once per daemon. */
const plainHttpHosts = new Set<string>();

export interface RegistryResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: http.IncomingMessage;
  /** the request URL, for messages */
  url: string;
}

export interface RequestOptions {
  headers?: Record<string, string | number>;
  /** Buffers are replayed after an auth challenge; a stream is sent once */
  body?: Buffer | Readable;
  /** the full URL (upload locations), instead of a path under the endpoint */
  url?: string;
}

/** Reads a registry error body into Docker's wording: "manifest unknown: manifest unknown". */
export async function registryErrorText(res: RegistryResponse): Promise<string> {
  const text = (await readAll(res.body, 64 * 1024).catch(() => Buffer.alloc(0))).toString('utf8');
  try {
    const doc = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    const e = doc.errors?.[0];
    if (e?.code) return `${e.code.toLowerCase().replace(/_/g, ' ')}: ${e.message ?? ''}`.replace(/: $/, '');
  } catch {
    // not a distribution error body
  }
  return `unexpected status from ${res.url}: ${res.status} ${http.STATUS_CODES[res.status] ?? ''}`.trim();
}

export async function readAll(stream: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of stream) {
    size += (c as Buffer).length;
    if (size > limit) {
      stream.destroy();
      throw new BerthError('INVALID_PARAMETER', `response larger than ${limit} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

const isTransportError = (e: unknown) => e instanceof Error && !(e instanceof BerthError);

export class RegistryClient {
  private authorization?: string;
  private pinged = false;
  private challenge?: string;

  constructor(
    readonly endpoint: Endpoint,
    private readonly auth: AuthConfig,
    /** token scopes: `repository:team/app:pull,push` */
    private readonly scopes: string[],
  ) {}

  get base(): string {
    const plain = !this.endpoint.secure || plainHttpHosts.has(this.endpoint.host);
    return `${plain ? 'http' : 'https'}://${this.endpoint.host}`;
  }

  /** GET /v2/: finds the scheme and the auth challenge; every session starts with it. */
  async ping(): Promise<void> {
    if (this.pinged) return;
    let res: RegistryResponse;
    try {
      res = await this.send('GET', `${this.base}/v2/`, {});
    } catch (e) {
      if (!(this.endpoint.secure && this.endpoint.insecure && !plainHttpHosts.has(this.endpoint.host) && isTransportError(e))) throw e;
      plainHttpHosts.add(this.endpoint.host);
      res = await this.send('GET', `${this.base}/v2/`, {});
    }
    res.body.resume();
    this.pinged = true;
    if (res.status === 401) {
      this.challenge = String(res.headers['www-authenticate'] ?? '');
      await this.authenticate(this.challenge);
      return;
    }
    if (res.status >= 400 && res.status !== 404) throw system(`${this.base}/v2/: unexpected status ${res.status}`);
  }

  /** Checks credentials as `docker login` does: the version check must pass with them. */
  async login(): Promise<void> {
    await this.ping();
    if (!this.challenge) return;
    const res = await this.send('GET', `${this.base}/v2/`, {});
    res.body.resume();
    if (res.status === 401) throw new RegistryUnauthorized(`login attempt to ${this.base}/v2/ failed with status: 401 Unauthorized`);
  }

  async request(method: string, pathOrUrl: string, opts: RequestOptions = {}): Promise<RegistryResponse> {
    await this.ping();
    const url = pathOrUrl.startsWith('http') ? pathOrUrl : `${this.base}${pathOrUrl}`;
    let res = await this.send(method, url, opts);
    const replayable = opts.body === undefined || Buffer.isBuffer(opts.body);
    if (res.status === 401 && replayable) {
      res.body.resume();
      await this.authenticate(String(res.headers['www-authenticate'] ?? this.challenge ?? ''));
      res = await this.send(method, url, opts);
    }
    if (res.status === 401) {
      const text = await registryErrorText(res);
      throw new RegistryUnauthorized(text);
    }
    return res;
  }

  private async authenticate(header: string): Promise<void> {
    const challenges = parseChallenges(header);
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    if (bearer) {
      this.authorization = `Bearer ${await this.fetchToken(bearer.params)}`;
      return;
    }
    if (challenges.some((c) => c.scheme === 'basic')) {
      if (!this.auth.username) throw new RegistryUnauthorized('unauthorized: authentication required');
      this.authorization = `Basic ${Buffer.from(`${this.auth.username}:${this.auth.password ?? ''}`).toString('base64')}`;
      return;
    }
    throw new RegistryUnauthorized(`unauthorized: unsupported authentication challenge "${header}"`);
  }

  private async fetchToken(params: Record<string, string>): Promise<string> {
    if (this.auth.registrytoken) return this.auth.registrytoken;
    if (!params.realm) throw new RegistryUnauthorized('unauthorized: bearer challenge without a realm');
    const u = new URL(params.realm);
    if (params.service) u.searchParams.set('service', params.service);
    for (const s of this.scopes) u.searchParams.append('scope', s);
    const headers: Record<string, string> = {};
    if (this.auth.username) {
      u.searchParams.set('account', this.auth.username);
      headers.Authorization = `Basic ${Buffer.from(`${this.auth.username}:${this.auth.identitytoken ?? this.auth.password ?? ''}`).toString('base64')}`;
    }
    const res = await this.send('GET', u.toString(), { headers }, true);
    const body = await readAll(res.body, 1024 * 1024);
    if (res.status === 401 || res.status === 403) {
      throw new RegistryUnauthorized(hasCredentials(this.auth) ? 'unauthorized: incorrect username or password' : 'unauthorized: authentication required');
    }
    if (res.status !== 200) throw system(`token request to ${u.origin}${u.pathname} failed: ${res.status}`);
    let doc: { token?: string; access_token?: string };
    try {
      doc = JSON.parse(body.toString('utf8')) as typeof doc;
    } catch {
      throw system(`token server ${u.origin} answered with something that is not JSON`);
    }
    const token = doc.token || doc.access_token;
    if (!token) throw system(`token server ${u.origin} answered without a token`);
    return token;
  }

  private send(method: string, url: string, opts: RequestOptions, raw = false): Promise<RegistryResponse> {
    const u = new URL(url);
    const secure = u.protocol === 'https:';
    const headers: Record<string, string | number> = { ...(opts.headers ?? {}) };
    if (!raw && this.authorization && !headers.Authorization) headers.Authorization = this.authorization;
    if (Buffer.isBuffer(opts.body)) headers['Content-Length'] = opts.body.length;
    const agent = secure ? (this.endpoint.insecure ? insecureHttpsAgent : httpsAgent) : httpAgent;
    const lib = secure ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(u, { method, headers, agent }, (res) => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res, url });
      });
      req.on('error', (e: NodeJS.ErrnoException) => {
        const what = e.code === 'ECONNREFUSED' ? `dial tcp ${u.host}: connect: connection refused` : e.message;
        reject(Object.assign(new Error(`${method[0]}${method.slice(1).toLowerCase()} "${url}": ${what}`), { code: e.code }));
      });
      const body = opts.body;
      if (body === undefined) req.end();
      else if (Buffer.isBuffer(body)) req.end(body);
      else {
        body.on('error', (e) => req.destroy(e));
        body.pipe(req);
      }
    });
  }
}
