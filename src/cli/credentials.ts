/**
 * Registry credentials of the CLI, kept the way docker keeps them without a
 * credential helper: `config.json` in the client config directory, with one
 * entry per registry under "auths":
 *
 *   {"auths": {"127.0.0.1:5000": {"auth": "<base64 of user:password>"}}}
 *
 * An entry may also hold an `identitytoken` (a registry's token returned by
 * POST /auth), which then stands in for the password. Keys are registry hosts
 * ("host[:port]"); Docker Hub is always "https://index.docker.io/v1/". Other
 * keys of the file, and unknown keys of an entry, are kept as they are.
 *
 * Directory: --config, else $BERTH_CONFIG, else $HOME/.berth. The file is
 * written whole to a temporary file and renamed over the old one, mode 0600 in a
 * directory created 0700, so a crash never leaves a half-written file.
 *
 * What the daemon gets is an AuthConfig (username, password or identitytoken,
 * serveraddress) as JSON in URL-safe base64, in the X-Registry-Auth header.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

/** Docker Hub's key in the credential store (docker's registry.IndexServer). */
export const INDEX_SERVER = 'https://index.docker.io/v1/';

const HUB_HOSTS = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** Docker's AuthConfig, as POST /auth and X-Registry-Auth carry it. */
export interface AuthConfig {
  username?: string;
  password?: string;
  auth?: string;
  email?: string;
  serveraddress?: string;
  identitytoken?: string;
  registrytoken?: string;
}

/** What the store holds for one registry. */
export interface StoredCredentials {
  /** The key the entry is stored under (normalized). */
  serveraddress: string;
  username: string;
  password: string;
  identitytoken?: string;
}

/** A config file that cannot be read or written; the message names the file. */
export class ConfigFileError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigFileError';
  }
}

/**
 * The key a registry's credentials are stored under: Docker Hub's spellings
 * (docker.io, index.docker.io, https://index.docker.io/v1/, ...) all become
 * INDEX_SERVER; anything else is reduced to host[:port], without scheme or path.
 */
export function normalizeServer(server: string): string {
  const s = server.trim();
  if (s === '') return INDEX_SERVER;
  const host = s.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').split('/')[0];
  if (HUB_HOSTS.has(host.toLowerCase())) return INDEX_SERVER;
  return host;
}

/** The client config directory: --config, else BERTH_CONFIG, else $HOME/.berth. */
export function configDir(env: NodeJS.ProcessEnv, flag?: string): string {
  if (flag) return flag;
  if (env.BERTH_CONFIG) return env.BERTH_CONFIG;
  return path.join(env.HOME || os.homedir(), '.berth');
}

/** AuthConfig JSON in URL-safe base64 with padding (Go's base64.URLEncoding), as X-Registry-Auth wants it. */
export function encodeAuthConfig(a: AuthConfig): string {
  // Go's field order, empty fields left out (the struct's omitempty tags).
  const ordered: AuthConfig = {};
  for (const k of ['username', 'password', 'auth', 'email', 'serveraddress', 'identitytoken', 'registrytoken'] as const) {
    if (a[k]) ordered[k] = a[k];
  }
  return Buffer.from(JSON.stringify(ordered), 'utf8').toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

/** Inverse of encodeAuthConfig (accepts standard or URL-safe base64, padded or not). */
export function decodeAuthConfig(header: string): AuthConfig {
  return JSON.parse(Buffer.from(header.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8')) as AuthConfig;
}

type Json = Record<string, unknown>;

const ENTRY_KEYS = new Set(['auth', 'username', 'password', 'identitytoken', 'registrytoken', 'serveraddress']);

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class CredentialStore {
  readonly dir: string;
  readonly file: string;

  constructor(dir: string) {
    this.dir = dir;
    this.file = path.join(dir, 'config.json');
  }

  /** The whole config file; {} when there is none. */
  private load(): Json {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new ConfigFileError(`loading config file ${this.file}: ${(e as Error).message}`, { cause: e });
    }
    if (text.trim() === '') return {};
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new ConfigFileError(`loading config file ${this.file}: ${(e as Error).message}`, { cause: e });
    }
    if (!isObject(doc)) throw new ConfigFileError(`loading config file ${this.file}: not a JSON object`);
    return doc;
  }

  private auths(doc: Json): Json {
    return isObject(doc.auths) ? doc.auths : {};
  }

  /** The entry's key in `auths`: the normalized key, else an older spelling of it (https://host/...). */
  private findKey(auths: Json, server: string): string | undefined {
    const key = normalizeServer(server);
    if (key in auths) return key;
    return Object.keys(auths).find((k) => normalizeServer(k) === key);
  }

  /** Whether there is an entry for a registry (any spelling of its address). */
  has(server: string): boolean {
    return this.findKey(this.auths(this.load()), server) !== undefined;
  }

  /** The credentials stored for a registry (any spelling of its address), or undefined. */
  get(server: string): StoredCredentials | undefined {
    const auths = this.auths(this.load());
    const key = this.findKey(auths, server);
    if (key === undefined) return undefined;
    const entry = auths[key];
    if (!isObject(entry)) return undefined;
    let username = typeof entry.username === 'string' ? entry.username : '';
    let password = typeof entry.password === 'string' ? entry.password : '';
    if (typeof entry.auth === 'string' && entry.auth !== '') {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8').replace(/\0+$/, '');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw new ConfigFileError(`loading config file ${this.file}: invalid auth configuration for ${key}`);
      username = decoded.slice(0, colon);
      password = decoded.slice(colon + 1);
    }
    const identitytoken = typeof entry.identitytoken === 'string' && entry.identitytoken !== '' ? entry.identitytoken : undefined;
    return { serveraddress: normalizeServer(key), username, password, ...(identitytoken ? { identitytoken } : {}) };
  }

  /**
   * Stores credentials for a registry under its normalized key, replacing any
   * entry under another spelling of the same address. With an identity token,
   * the password is not stored.
   */
  set(server: string, creds: { username: string; password?: string; identitytoken?: string }): void {
    const doc = this.load();
    const auths = this.auths(doc);
    const key = normalizeServer(server);
    const kept: Json = {};
    for (const k of Object.keys(auths)) {
      if (normalizeServer(k) !== key) continue;
      const old = auths[k];
      if (isObject(old)) for (const [f, v] of Object.entries(old)) if (!ENTRY_KEYS.has(f)) kept[f] = v;
      delete auths[k];
    }
    const password = creds.identitytoken ? '' : (creds.password ?? '');
    const entry: Json = { ...kept };
    if (creds.username || password) entry.auth = Buffer.from(`${creds.username}:${password}`, 'utf8').toString('base64');
    if (creds.identitytoken) entry.identitytoken = creds.identitytoken;
    auths[key] = entry;
    doc.auths = auths;
    this.save(doc);
  }

  /** Every stored login, by normalized server key (for build's X-Registry-Config). */
  all(): Record<string, StoredCredentials> {
    const out: Record<string, StoredCredentials> = {};
    for (const key of Object.keys(this.auths(this.load()))) {
      const c = this.get(key);
      if (c) out[normalizeServer(key)] = c;
    }
    return out;
  }

  /** Removes a registry's credentials (every spelling of its address); false when there were none. */
  erase(server: string): boolean {
    const doc = this.load();
    const auths = this.auths(doc);
    const key = normalizeServer(server);
    const found = Object.keys(auths).filter((k) => normalizeServer(k) === key);
    if (found.length === 0) return false;
    for (const k of found) delete auths[k];
    doc.auths = auths;
    this.save(doc);
    return true;
  }

  /** The AuthConfig for a registry: the stored credentials, or {} when there are none. */
  authConfig(server: string): AuthConfig {
    const c = this.get(server);
    if (!c) return {};
    return c.identitytoken
      ? { username: c.username, serveraddress: c.serveraddress, identitytoken: c.identitytoken }
      : { username: c.username, password: c.password, serveraddress: c.serveraddress };
  }

  /** The X-Registry-Auth value for a registry (base64url of "{}" when not logged in). */
  registryAuthHeader(server: string): string {
    return encodeAuthConfig(this.authConfig(server));
  }

  /** Writes the file whole: a temporary file (0600) in the same directory, then rename. */
  private save(doc: Json): void {
    try {
      fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      // Replace the file a symlink points at, not the symlink.
      let target = this.file;
      try {
        target = fs.realpathSync(this.file);
      } catch {
        // no file yet
      }
      const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
      const fd = fs.openSync(tmp, 'wx', 0o600);
      try {
        fs.fchmodSync(fd, 0o600);
        fs.writeSync(fd, JSON.stringify(doc, null, '\t') + '\n');
        fs.fsyncSync(fd);
      } catch (e) {
        fs.closeSync(fd);
        fs.rmSync(tmp, { force: true });
        throw e;
      }
      fs.closeSync(fd);
      try {
        fs.renameSync(tmp, target);
      } catch (e) {
        fs.rmSync(tmp, { force: true });
        throw e;
      }
    } catch (e) {
      if (e instanceof ConfigFileError) throw e;
      throw new ConfigFileError(`saving config file ${this.file}: ${(e as Error).message}`, { cause: e });
    }
  }
}

/** The store of the config directory a command runs with. */
export function credentialStore(ctx: { env: NodeJS.ProcessEnv; configDir?: string }): CredentialStore {
  return new CredentialStore(configDir(ctx.env, ctx.configDir));
}

/** X-Registry-Config for build: every stored login, base64url JSON keyed by server. */
export function registryConfigHeader(ctx: { env: NodeJS.ProcessEnv; configDir?: string; err(s: string): void }): string {
  try {
    return Buffer.from(JSON.stringify(credentialStore(ctx).all())).toString('base64url');
  } catch (e) {
    if (!(e instanceof ConfigFileError)) throw e;
    ctx.err(`WARNING: Error ${e.message}\n`);
    return Buffer.from('{}').toString('base64url');
  }
}

/**
 * The X-Registry-Auth header for a registry, for commands that only read
 * credentials (pull, push, search): an unreadable config file is a warning, as
 * docker treats it, and the request goes out without credentials.
 */
export function authHeaderFor(ctx: { env: NodeJS.ProcessEnv; configDir?: string; err(s: string): void }, server: string): string {
  try {
    return credentialStore(ctx).registryAuthHeader(server);
  } catch (e) {
    if (!(e instanceof ConfigFileError)) throw e;
    ctx.err(`WARNING: Error ${e.message}\n`);
    return encodeAuthConfig({});
  }
}
