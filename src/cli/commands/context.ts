/**
 * `berth context`: create, ls, use, inspect, rm, update, export, import, show, on the docker
 * CLI's own store (client/context-store.ts), so berth and docker share their contexts. Output,
 * messages and exit statuses are the docker CLI's.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CommandContext, CommandSpec } from '../command';
import { StatusError, UsageError } from '../errors';
import { prepareFormat, renderList, parseInspectFormat, templateFailure } from '../format/render';
import { ContextStore, DEFAULT_CONTEXT, dockerConfigDir, TLS_FILES, validateContextName, type ContextMeta, type TlsFileName } from '../../client/context-store';
import { currentContextName, defaultContextTls } from '../../client/connection';
import { parseDaemonAddress, resolveDaemonAddress } from '../../client/address';

const DEFAULT_DESCRIPTION = 'Current DOCKER_HOST based configuration';

function storeOf(ctx: CommandContext): ContextStore {
  return new ContextStore(dockerConfigDir(ctx.env));
}

function fail(e: unknown): never {
  if (e instanceof StatusError || e instanceof UsageError) throw e;
  throw new StatusError((e as Error).message, 1);
}

function current(ctx: CommandContext): string {
  try {
    return currentContextName(ctx.connectionFlags, ctx.env, storeOf(ctx));
  } catch (e) {
    fail(e);
  }
}

/** The "default" context as docker shows it: the -H/DOCKER_HOST/default socket and TLS flags. */
function defaultContext(ctx: CommandContext): { meta: ContextMeta; tls: Partial<Record<TlsFileName, Buffer>> } {
  const f = ctx.connectionFlags;
  const address = resolveDaemonAddress(f.hosts.length ? f.hosts[f.hosts.length - 1] : undefined, ctx.env);
  let t;
  try {
    t = defaultContextTls(f, ctx.env);
  } catch (e) {
    fail(e);
  }
  const tls: Partial<Record<TlsFileName, Buffer>> = {};
  if (t?.ca) tls['ca.pem'] = t.ca;
  if (t?.cert) tls['cert.pem'] = t.cert;
  if (t?.key) tls['key.pem'] = t.key;
  return { meta: { Name: DEFAULT_CONTEXT, Metadata: {}, Endpoints: { docker: { Host: address, SkipTLSVerify: !!t && !t.verify } } }, tls };
}

/** A context's metadata and TLS files, "default" included. */
function load(ctx: CommandContext, name: string): { meta: ContextMeta; tls: Partial<Record<TlsFileName, Buffer>> } {
  if (name === DEFAULT_CONTEXT) return defaultContext(ctx);
  const store = storeOf(ctx);
  try {
    return { meta: store.get(name), tls: store.tlsFiles(name) };
  } catch (e) {
    fail(e);
  }
}

function expandHome(p: string): string {
  return p === '~' ? os.homedir() : p.startsWith('~/') ? path.join(os.homedir(), p.slice(2)) : p;
}

/** Parses --docker "host=…,ca=…,cert=…,key=…,skip-tls-verify=…,from=…" (CSV, as docker's). */
export function parseDockerEndpointFlag(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw.trim() === '') return out;
  const fields: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of raw) {
    if (ch === '"') quoted = !quoted;
    else if (ch === ',' && !quoted) {
      fields.push(cur);
      cur = '';
    } else cur += ch;
  }
  fields.push(cur);
  const known = new Set(['from', 'host', 'ca', 'cert', 'key', 'skip-tls-verify']);
  for (const f of fields) {
    const eq = f.indexOf('=');
    if (eq < 1) throw new StatusError(`invalid docker endpoint option "${f}": expected key=value`, 1);
    const k = f.slice(0, eq).trim().toLowerCase();
    if (!known.has(k)) throw new StatusError(`unrecognized config key: ${k}`, 1);
    out[k] = f.slice(eq + 1).trim();
  }
  return out;
}

/** The docker endpoint and its TLS files that --docker describes, on top of `base` (a copy, or empty). */
function endpointFrom(ctx: CommandContext, opts: Record<string, string>, base?: { meta: ContextMeta; tls: Partial<Record<TlsFileName, Buffer>> }) {
  let host = base?.meta.Endpoints.docker?.Host ?? '';
  let skip = base?.meta.Endpoints.docker?.SkipTLSVerify ?? false;
  let tls: Partial<Record<TlsFileName, Buffer>> = { ...(base?.tls ?? {}) };
  if (opts.from !== undefined) {
    const src = load(ctx, opts.from);
    host = src.meta.Endpoints.docker?.Host ?? '';
    skip = src.meta.Endpoints.docker?.SkipTLSVerify ?? false;
    tls = { ...src.tls };
  }
  if (opts.host !== undefined) host = opts.host;
  if (opts['skip-tls-verify'] !== undefined) {
    const v = opts['skip-tls-verify'].toLowerCase();
    if (!['true', 'false', '1', '0'].includes(v)) throw new StatusError(`invalid value for skip-tls-verify: ${opts['skip-tls-verify']}`, 1);
    skip = v === 'true' || v === '1';
  }
  const files: Array<[string, TlsFileName]> = [['ca', 'ca.pem'], ['cert', 'cert.pem'], ['key', 'key.pem']];
  for (const [k, f] of files) {
    if (opts[k] === undefined) continue;
    if (opts[k] === '') {
      delete tls[f];
      continue;
    }
    try {
      tls[f] = fs.readFileSync(expandHome(opts[k]));
    } catch (e) {
      throw new StatusError(`unable to read ${k} file ${opts[k]}: ${(e as Error).message}`, 1);
    }
  }
  if (!host) throw new StatusError('a docker endpoint needs host=… (unix://, tcp:// or ssh://)', 1);
  try {
    parseDaemonAddress(host);
  } catch (e) {
    throw new StatusError(`unable to parse docker host: ${(e as Error).message}`, 1);
  }
  if ((tls['cert.pem'] === undefined) !== (tls['key.pem'] === undefined)) throw new StatusError('a TLS certificate needs its key: give both cert= and key=', 1);
  return { endpoint: { Host: host, SkipTLSVerify: skip }, tls };
}

const descriptionFlag = { name: 'description', type: 'string', help: 'Description of the context', default: '' };
const dockerFlag = { name: 'docker', type: 'stringToString', help: 'set the docker endpoint: host=unix:///…|tcp://host:port|ssh://user@host, ca, cert, key, skip-tls-verify, from', default: '', defaultText: '[]' };

export const contextCreate: CommandSpec = {
  usage: '[OPTIONS] CONTEXT',
  summary: 'Create a context',
  args: { min: 1, max: 1 },
  flags: [descriptionFlag, dockerFlag, { name: 'from', type: 'string', help: 'create context from a named context', default: '' }],
  async run(ctx, p) {
    const name = p.args[0];
    const store = storeOf(ctx);
    try {
      validateContextName(name);
    } catch (e) {
      fail(e);
    }
    if (store.exists(name)) throw new StatusError(`context "${name}" already exists`, 1);
    const from = p.values.from as string;
    const dockerRaw = p.values.docker as string;
    let base: ReturnType<typeof load> | undefined;
    // as docker: with neither --docker nor --from, the new context copies the current one
    if (from || !p.changed.has('docker')) base = load(ctx, from || current(ctx));
    const { endpoint, tls } = endpointFrom(ctx, parseDockerEndpointFlag(dockerRaw), base);
    const description = p.changed.has('description') ? (p.values.description as string) : base && base.meta.Name !== DEFAULT_CONTEXT ? base.meta.Metadata.Description : undefined;
    store.write({ Name: name, Metadata: description ? { Description: description } : {}, Endpoints: { docker: endpoint } }, tls);
    ctx.out(`${name}\n`);
    ctx.err(`Successfully created context "${name}"\n`);
    return 0;
  },
};

export const contextUpdate: CommandSpec = {
  usage: '[OPTIONS] CONTEXT',
  summary: 'Update a context',
  args: { min: 1, max: 1 },
  flags: [descriptionFlag, dockerFlag],
  async run(ctx, p) {
    const name = p.args[0];
    if (name === DEFAULT_CONTEXT) throw new StatusError(`context "${DEFAULT_CONTEXT}" cannot be updated`, 1);
    const store = storeOf(ctx);
    const before = load(ctx, name);
    const meta = before.meta;
    let tls: Partial<Record<TlsFileName, Buffer>> | undefined;
    if (p.changed.has('docker')) {
      const e = endpointFrom(ctx, parseDockerEndpointFlag(p.values.docker as string), before);
      meta.Endpoints.docker = e.endpoint;
      tls = e.tls;
    }
    if (p.changed.has('description')) {
      if (p.values.description) meta.Metadata.Description = p.values.description as string;
      else delete meta.Metadata.Description;
    }
    store.write(meta, tls);
    ctx.out(`${name}\n`);
    ctx.err(`Successfully updated context "${name}"\n`);
    return 0;
  },
};

function warnHostOverride(ctx: CommandContext): void {
  if ((ctx.env.DOCKER_HOST || ctx.env.BERTH_HOST) && !ctx.connectionFlags.context && !ctx.connectionFlags.hosts.length) {
    ctx.err('Warning: DOCKER_HOST environment variable overrides the active context. To use a context, either set the global --context flag, or unset DOCKER_HOST environment variable.\n');
  }
}

export const contextLs: CommandSpec = {
  usage: '[OPTIONS]',
  summary: 'List contexts',
  args: { max: 0 },
  flags: [
    { name: 'format', type: 'string', help: "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.", default: '' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Only show context names' },
  ],
  async run(ctx, p) {
    const store = storeOf(ctx);
    const cur = current(ctx);
    const rows = [defaultContext(ctx).meta, ...store.list()].map((m) => ({
      Current: m.Name === cur,
      Description: m.Name === DEFAULT_CONTEXT ? DEFAULT_DESCRIPTION : (m.Metadata.Description ?? ''),
      DockerEndpoint: m.Endpoints.docker?.Host ?? '',
      Error: '',
      Name: m.Name,
    }));
    let format = p.values.format as string;
    if (p.values.quiet) format = '{{.Name}}';
    const spec = {
      defaultTable: 'table {{.Name}}{{if .Current}} *{{end}}\\t{{.Description}}\\t{{.DockerEndpoint}}\\t{{.Error}}',
      headers: { Name: 'NAME', Description: 'DESCRIPTION', DockerEndpoint: 'DOCKER ENDPOINT', Error: 'ERROR', Current: '' },
    };
    ctx.out(renderList(prepareFormat(format, spec), rows, spec));
    if (cur === DEFAULT_CONTEXT && store.currentContext()) warnHostOverride(ctx);
    return 0;
  },
};

export const contextUse: CommandSpec = {
  usage: 'CONTEXT',
  summary: 'Set the current docker context',
  args: { min: 1, max: 1 },
  flags: [],
  async run(ctx, p) {
    const name = p.args[0];
    const store = storeOf(ctx);
    if (name !== DEFAULT_CONTEXT) load(ctx, name);
    store.setCurrentContext(name);
    ctx.out(`${name}\n`);
    ctx.err(`Current context is now "${name}"\n`);
    if (name !== DEFAULT_CONTEXT) warnHostOverride(ctx);
    return 0;
  },
};

export const contextShow: CommandSpec = {
  usage: '',
  summary: 'Print the name of the current context',
  args: { max: 0 },
  flags: [],
  async run(ctx) {
    const name = current(ctx);
    if (name !== DEFAULT_CONTEXT) load(ctx, name);
    ctx.out(`${name}\n`);
    return 0;
  },
};

/** docker's JSON for a context: HTML-safe escapes as Go's encoder writes them. */
function goJson(v: unknown): string {
  return JSON.stringify(v, null, 4).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}

export const contextInspect: CommandSpec = {
  usage: '[OPTIONS] [CONTEXT] [CONTEXT...]',
  summary: 'Display detailed information on one or more contexts',
  flags: [{ name: 'format', short: 'f', type: 'string', help: "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.", default: '' }],
  async run(ctx, p) {
    const names = p.args.length ? p.args : [current(ctx)];
    const store = storeOf(ctx);
    const items = names.map((name) => {
      const { meta, tls } = load(ctx, name);
      const stored = name !== DEFAULT_CONTEXT;
      const files = TLS_FILES.filter((f) => tls[f]);
      return {
        Name: meta.Name,
        Metadata: meta.Metadata,
        Endpoints: meta.Endpoints,
        TLSMaterial: stored && files.length ? { docker: files } : {},
        Storage: stored ? { MetadataPath: store.metaDir(name), TLSPath: store.tlsDir(name) } : { MetadataPath: '<IN MEMORY>', TLSPath: '<IN MEMORY>' },
      };
    });
    const format = p.values.format as string;
    if (format && format !== 'json') {
      const t = parseInspectFormat(format);
      try {
        for (const it of items) ctx.out(t.execute(it) + '\n');
      } catch (e) {
        throw templateFailure(e);
      }
      return 0;
    }
    ctx.out(goJson(items) + '\n');
    return 0;
  },
};

export const contextRm: CommandSpec = {
  usage: 'CONTEXT [CONTEXT...]',
  summary: 'Remove one or more contexts',
  args: { min: 1 },
  flags: [{ name: 'force', short: 'f', type: 'bool', help: 'Force the removal of a context in use' }],
  async run(ctx, p) {
    const store = storeOf(ctx);
    const cur = current(ctx);
    const errors: string[] = [];
    for (const name of p.args) {
      if (name === DEFAULT_CONTEXT) {
        errors.push(`default: context "default" cannot be removed`);
        continue;
      }
      if (!store.exists(name)) {
        errors.push(`context "${name}" does not exist`);
        continue;
      }
      if (name === cur && !p.values.force) {
        errors.push(`context "${name}" is in use, set -f flag to force remove`);
        continue;
      }
      if (store.currentContext() === name) store.setCurrentContext(undefined);
      store.remove(name);
      ctx.out(`${name}\n`);
    }
    if (errors.length) throw new StatusError(errors.join('\n'), 1);
    return 0;
  },
};

export const contextExport: CommandSpec = {
  usage: '[OPTIONS] CONTEXT [FILE|-]',
  summary: 'Export a context to a tar archive FILE or a tar stream on STDOUT.',
  args: { min: 1, max: 2 },
  flags: [],
  async run(ctx, p) {
    const name = p.args[0];
    if (name === DEFAULT_CONTEXT) throw new StatusError('context "default" cannot be exported', 1);
    const { meta, tls } = load(ctx, name);
    const tar = (await import('tar-stream')).pack();
    tar.entry({ name: 'meta.json', mode: 0o644 }, JSON.stringify(meta));
    const files = TLS_FILES.filter((f) => tls[f]);
    if (files.length) {
      tar.entry({ name: 'tls', type: 'directory', mode: 0o700 });
      tar.entry({ name: 'tls/docker', type: 'directory', mode: 0o700 });
      for (const f of files) tar.entry({ name: `tls/docker/${f}`, mode: 0o600 }, tls[f]!);
    }
    tar.finalize();
    // a few kilobytes: gathered, then written in one go
    const archive = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      tar.on('data', (c: unknown) => chunks.push(c as Buffer));
      tar.on('end', () => resolve(Buffer.concat(chunks)));
      tar.on('error', reject);
    });
    const dest = p.args[1] ?? `${name}.dockercontext`;
    if (dest === '-') await new Promise<void>((resolve) => ctx.stdout.write(archive, () => resolve()));
    else {
      try {
        fs.writeFileSync(dest, archive, { mode: 0o600 });
      } catch (e) {
        throw new StatusError(`open ${dest}: ${(e as Error).message}`, 1);
      }
    }
    if (dest !== '-') ctx.err(`Written file "${dest}"\n`);
    return 0;
  },
};

export const contextImport: CommandSpec = {
  usage: 'CONTEXT FILE|-',
  summary: 'Import a context from a tar or zip file',
  args: { min: 2, max: 2 },
  flags: [],
  async run(ctx, p) {
    const [name, src] = p.args;
    const store = storeOf(ctx);
    try {
      validateContextName(name);
    } catch (e) {
      fail(e);
    }
    if (store.exists(name)) throw new StatusError(`context "${name}" already exists`, 1);
    const input = src === '-' ? ctx.stdin : fs.createReadStream(src);
    const entries = new Map<string, Buffer>();
    const extract = (await import('tar-stream')).extract();
    await new Promise<void>((resolve, reject) => {
      // only meta.json and the TLS files are kept, each at most 1 MiB: the rest of an archive
      // (from anyone) is read past, never held
      const wanted = new Set(['meta.json', ...TLS_FILES.map((f) => `tls/docker/${f}`)]);
      extract.on('entry', (header, stream, next) => {
        const name = header.name.replace(/^\.\//, '');
        if (header.type !== 'file' || !wanted.has(name) || (header.size ?? 0) > 1 << 20) {
          stream.on('end', next);
          stream.resume();
          return;
        }
        const chunks: Buffer[] = [];
        stream.on('data', (c: unknown) => chunks.push(c as Buffer));
        stream.on('end', () => {
          entries.set(name, Buffer.concat(chunks));
          next();
        });
        stream.resume();
      });
      extract.on('finish', resolve);
      // the docker CLI's archives end without tar's two zero blocks: what was read is kept
      extract.on('error', (e: Error) => (entries.has('meta.json') ? resolve() : reject(e)));
      input.on('error', (e: Error) => reject(new StatusError(`open ${src}: ${e.message}`, 1)));
      input.pipe(extract as unknown as NodeJS.WritableStream);
    });
    const raw = entries.get('meta.json');
    if (!raw) throw new StatusError(`${src}: not a context archive (no meta.json)`, 1);
    let meta: ContextMeta;
    try {
      meta = JSON.parse(raw.toString('utf8')) as ContextMeta;
    } catch (e) {
      throw new StatusError(`${src}: invalid meta.json: ${(e as Error).message}`, 1);
    }
    const isObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
    if (!isObject(meta) || (meta.Endpoints !== undefined && !isObject(meta.Endpoints)) || (meta.Endpoints?.docker !== undefined && !isObject(meta.Endpoints.docker))) {
      throw new StatusError(`${src}: invalid meta.json: not a context's metadata (an object, with an object of endpoints)`, 1);
    }
    const host = meta.Endpoints?.docker?.Host;
    if (host !== undefined) {
      try {
        if (typeof host !== 'string') throw new Error('the docker endpoint\'s Host is not a string');
        parseDaemonAddress(host);
      } catch (e) {
        throw new StatusError(`${src}: invalid meta.json: ${(e as Error).message}`, 1);
      }
    }
    const tls: Partial<Record<TlsFileName, Buffer>> = {};
    for (const f of TLS_FILES) {
      const b = entries.get(`tls/docker/${f}`);
      if (b) tls[f] = b;
    }
    store.write({ Name: name, Metadata: meta.Metadata ?? {}, Endpoints: meta.Endpoints ?? {} }, tls);
    ctx.out(`${name}\n`);
    ctx.err(`Successfully imported context "${name}"\n`);
    return 0;
  },
};
