/**
 * The docker CLI's context store, read and written in its own on-disk format so that `berth
 * context` and `docker context` share every context:
 *
 *   $DOCKER_CONFIG (default ~/.docker)/
 *     config.json                              "currentContext": the context in use
 *     contexts/meta/<sha256 of name>/meta.json  {"Name", "Metadata": {"Description"}, "Endpoints": {"docker": {"Host", "SkipTLSVerify"}}}
 *     contexts/tls/<sha256 of name>/docker/     ca.pem, cert.pem, key.pem (files 0600)
 *
 * The name "default" is never stored: it stands for the -H/DOCKER_HOST/TLS-flags configuration.
 * Synchronous on purpose: these are a few small files read once per CLI command.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const DEFAULT_CONTEXT = 'default';
export const TLS_FILES = ['ca.pem', 'cert.pem', 'key.pem'] as const;
export type TlsFileName = (typeof TLS_FILES)[number];

export interface DockerEndpointMeta {
  Host: string;
  SkipTLSVerify: boolean;
}

export interface ContextMeta {
  Name: string;
  Metadata: { Description?: string; [k: string]: unknown };
  Endpoints: { docker?: DockerEndpointMeta; [k: string]: unknown };
}

export class ContextNotFoundError extends Error {
  readonly code = 'CONTEXT_NOT_FOUND';
}

/** docker's rule for context names */
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$/;

export function validateContextName(name: string): void {
  if (name === '') throw new Error('context name cannot be empty');
  if (name === DEFAULT_CONTEXT) throw new Error(`"${DEFAULT_CONTEXT}" is a reserved context name`);
  if (!NAME.test(name)) throw new Error(`context name "${name}" is invalid, names are validated against regexp "${NAME.source}"`);
}

/** The docker CLI's config directory: DOCKER_CONFIG, else ~/.docker. */
export function dockerConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_CONFIG || path.join(env.HOME || os.homedir(), '.docker');
}

function contextId(name: string): string {
  // required here, not at the top: loading node:crypto costs the compiled CLI ~6 ms at every
  // start, and most commands never name a context
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  return createHash('sha256').update(name).digest('hex');
}

export class ContextStore {
  constructor(readonly configDir: string) {}

  metaDir(name: string): string {
    return path.join(this.configDir, 'contexts', 'meta', contextId(name));
  }

  tlsDir(name: string): string {
    return path.join(this.configDir, 'contexts', 'tls', contextId(name));
  }

  exists(name: string): boolean {
    return fs.existsSync(path.join(this.metaDir(name), 'meta.json'));
  }

  /** A stored context; throws ContextNotFoundError with docker's words. */
  get(name: string): ContextMeta {
    const file = path.join(this.metaDir(name), 'meta.json');
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ContextNotFoundError(`context "${name}": context not found: open ${file}: no such file or directory`);
      throw e;
    }
    return normalize(JSON.parse(text) as ContextMeta);
  }

  /** Every stored context, by name. */
  list(): ContextMeta[] {
    const dir = path.join(this.configDir, 'contexts', 'meta');
    let ids: string[];
    try {
      ids = fs.readdirSync(dir);
    } catch {
      return [];
    }
    const out: ContextMeta[] = [];
    for (const id of ids) {
      try {
        out.push(normalize(JSON.parse(fs.readFileSync(path.join(dir, id, 'meta.json'), 'utf8')) as ContextMeta));
      } catch {
        // a half-written or foreign entry is not a context
      }
    }
    return out.sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
  }

  /** The docker endpoint's TLS files that exist. */
  tlsFiles(name: string): Partial<Record<TlsFileName, Buffer>> {
    const dir = path.join(this.tlsDir(name), 'docker');
    const out: Partial<Record<TlsFileName, Buffer>> = {};
    for (const f of TLS_FILES) {
      try {
        out[f] = fs.readFileSync(path.join(dir, f));
      } catch {
        // absent: the endpoint has no such file
      }
    }
    return out;
  }

  /** Writes a context's metadata and, when `tls` is given, replaces its TLS files. */
  write(meta: ContextMeta, tls?: Partial<Record<TlsFileName, Buffer>>): void {
    const dir = this.metaDir(meta.Name);
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    writeAtomic(path.join(dir, 'meta.json'), JSON.stringify(meta), 0o644);
    if (tls) {
      const tdir = path.join(this.tlsDir(meta.Name), 'docker');
      fs.rmSync(tdir, { recursive: true, force: true });
      const files = TLS_FILES.filter((f) => tls[f]);
      if (files.length) {
        fs.mkdirSync(tdir, { recursive: true, mode: 0o700 });
        for (const f of files) writeAtomic(path.join(tdir, f), tls[f]!, 0o600);
      } else fs.rmSync(this.tlsDir(meta.Name), { recursive: true, force: true });
    }
  }

  remove(name: string): void {
    if (!this.exists(name)) this.get(name);
    fs.rmSync(this.metaDir(name), { recursive: true, force: true });
    fs.rmSync(this.tlsDir(name), { recursive: true, force: true });
  }

  private configFile(): string {
    return path.join(this.configDir, 'config.json');
  }

  private readConfig(): Record<string, unknown> {
    try {
      return JSON.parse(fs.readFileSync(this.configFile(), 'utf8')) as Record<string, unknown>;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new Error(`loading config file ${this.configFile()}: ${(e as Error).message}`);
    }
  }

  /** config.json's currentContext; undefined for none (or "default"), or when config.json is unreadable. */
  currentContext(): string | undefined {
    let config: Record<string, unknown>;
    try {
      config = this.readConfig();
    } catch {
      // as the docker CLI: a config file it cannot read does not stop a command (it warns)
      return undefined;
    }
    const c = config.currentContext;
    return typeof c === 'string' && c !== '' && c !== DEFAULT_CONTEXT ? c : undefined;
  }

  /** Sets currentContext, keeping every other key of config.json (the docker CLI's logins). */
  setCurrentContext(name: string | undefined): void {
    const config = this.readConfig();
    if (name === undefined || name === DEFAULT_CONTEXT) delete config.currentContext;
    else config.currentContext = name;
    fs.mkdirSync(this.configDir, { recursive: true, mode: 0o700 });
    writeAtomic(this.configFile(), JSON.stringify(config, null, '\t'), 0o600);
  }
}

function normalize(m: ContextMeta): ContextMeta {
  return { Name: m.Name, Metadata: m.Metadata ?? {}, Endpoints: m.Endpoints ?? {} };
}

function writeAtomic(file: string, data: string | Buffer, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, data, { mode });
  fs.renameSync(tmp, file);
}
