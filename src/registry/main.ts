import { mkdirSync, readFileSync } from 'node:fs';
import { keepRunningOnUncaught } from '../common/last-resort';
import { createHandler, createRegistry } from './app';
import { parseAcl } from './auth/acl';
import { Authorizer } from './auth/authorizer';
import { HtpasswdAuthorizer } from './auth/basic';
import { HtpasswdFile } from './auth/htpasswd';
import { loadPrivateKey, loadPublicKeys } from './auth/keys';
import { algorithmFor } from './auth/jwt';
import { TokenAuthorizer } from './auth/token-verifier';
import { collectGarbage } from './gc';
import { listen, TlsFiles } from './listen';
import { FilesystemDriver } from './storage/filesystem';
import { createTokenHandler } from './token-server';
import type { ForeignUrlPolicy } from './manifest';
import { parseGoDuration } from '../common/time';
import { createStoreServer } from './store-server';
import { fileClock, systemClock } from '../store/clock';
import { providerNamed } from '../store/payments';

const USAGE = `usage:
  berth-registry serve [--addr 127.0.0.1:5000] [--root DIR] [--read-only]
                       [--allow-foreign-url REGEX ...]
                       [--htpasswd FILE]
                       [--token-realm URL --token-service NAME --token-issuer ISS --token-cert PEM]
                       [--tls-cert PEM --tls-key PEM]
                       [--store --htpasswd FILE [--store-admin USER ...] [--store-db FILE]
                        [--store-payments invoice|test] [--store-vendors admin|self-service]]
  berth-registry token [--addr 127.0.0.1:5001] --htpasswd FILE --acl ACL.json --key PEM --issuer ISS
                       [--service NAME] [--tls-cert PEM --tls-key PEM]
  berth-registry gc [--root DIR] [--dry-run] [--grace DURATION]
See docs/registry.md.`;

interface Options {
  cmd: string;
  addr?: string;
  root: string;
  readOnly: boolean;
  dryRun: boolean;
  htpasswd?: string;
  tokenRealm?: string;
  tokenService?: string;
  tokenIssuer?: string;
  tokenCert?: string;
  tlsCert?: string;
  tlsKey?: string;
  acl?: string;
  key?: string;
  issuer?: string;
  service?: string;
  grace?: string;
  /** regular expressions for the foreign layer URLs a pushed manifest may name */
  allowForeignUrl: string[];
  store: boolean;
  storeDb?: string;
  storeAdmin: string[];
  storePayments?: string;
  storeVendors?: string;
}

type ValueOption = Exclude<keyof Options, 'cmd' | 'readOnly' | 'dryRun' | 'allowForeignUrl' | 'store' | 'storeAdmin'>;

const VALUE_FLAGS: Record<string, ValueOption> = {
  '--addr': 'addr',
  '--root': 'root',
  '--htpasswd': 'htpasswd',
  '--token-realm': 'tokenRealm',
  '--token-service': 'tokenService',
  '--token-issuer': 'tokenIssuer',
  '--token-cert': 'tokenCert',
  '--tls-cert': 'tlsCert',
  '--tls-key': 'tlsKey',
  '--acl': 'acl',
  '--key': 'key',
  '--issuer': 'issuer',
  '--service': 'service',
  '--grace': 'grace',
  '--store-db': 'storeDb',
  '--store-payments': 'storePayments',
  '--store-vendors': 'storeVendors',
};

// Which flags each command takes, so that a flag given to the wrong command is an error
// rather than silently ignored (a --token-cert meant for serve must not vanish).
const COMMAND_FLAGS: Record<string, string[]> = {
  serve: ['--addr', '--root', '--read-only', '--allow-foreign-url', '--htpasswd', '--token-realm', '--token-service', '--token-issuer', '--token-cert', '--tls-cert', '--tls-key',
    '--store', '--store-db', '--store-admin', '--store-payments', '--store-vendors'],
  token: ['--addr', '--htpasswd', '--acl', '--key', '--issuer', '--service', '--tls-cert', '--tls-key'],
  gc: ['--root', '--dry-run', '--grace'],
};

function parseArgs(argv: string[]): Options {
  const o: Options = { cmd: argv[0] ?? '', root: '/var/lib/berth-registry', readOnly: false, dryRun: false, allowForeignUrl: [], store: false, storeAdmin: [] };
  for (let i = 1; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const known = COMMAND_FLAGS[o.cmd];
    if (known && !known.includes(flag)) fail(`${o.cmd} does not take ${flag}`);
    if (flag === '--read-only') o.readOnly = true;
    else if (flag === '--dry-run') o.dryRun = true;
    else if (flag === '--store') o.store = true;
    else if (flag === '--store-admin') o.storeAdmin.push(inline ?? argv[++i] ?? fail(`${flag} needs a value`));
    else if (flag === '--allow-foreign-url') o.allowForeignUrl.push(inline ?? argv[++i] ?? fail(`${flag} needs a value`));
    else if (Object.hasOwn(VALUE_FLAGS, flag)) o[VALUE_FLAGS[flag]] = inline ?? argv[++i] ?? fail(`${flag} needs a value`);
    else fail(`unknown flag ${argv[i]}`);
  }
  return o;
}

/** `--grace 90s|30m|2h|0`: how young a blob or upload may be and still be in use by a push. */
function graceOf(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  try {
    const ms = parseGoDuration(v);
    if (ms >= 0) return ms;
  } catch {
    // said below
  }
  return fail(`--grace takes a duration such as 30m or 2h, not ${v}`);
}

function fail(msg: string): never {
  console.error(`berth-registry: ${msg}\n${USAGE}`);
  process.exit(2);
}

const log = (line: string) => console.error(`berth-registry: ${line}`);

function tlsOf(o: Options): TlsFiles | undefined {
  if (!o.tlsCert !== !o.tlsKey) fail('--tls-cert and --tls-key go together');
  return o.tlsCert && o.tlsKey ? { cert: o.tlsCert, key: o.tlsKey } : undefined;
}

/** The auth scheme `serve` was asked for: none, htpasswd, or tokens; never both. */
function authorizerOf(o: Options): Authorizer | undefined {
  const token = [o.tokenRealm, o.tokenService, o.tokenIssuer, o.tokenCert];
  if (o.htpasswd && token.some(Boolean)) fail('--htpasswd and --token-* are alternatives: use one');
  if (o.htpasswd) return new HtpasswdAuthorizer(new HtpasswdFile(o.htpasswd, log));
  if (!token.some(Boolean)) return undefined;
  if (!token.every(Boolean)) fail('token auth needs all of --token-realm, --token-service, --token-issuer and --token-cert');
  return new TokenAuthorizer({
    realm: o.tokenRealm!,
    service: o.tokenService!,
    issuer: o.tokenIssuer!,
    keys: loadPublicKeys(readFileSync(o.tokenCert!, 'utf8')),
  });
}

/** `--allow-foreign-url REGEX`, repeatable; without it no foreign layer URL is accepted (as Distribution). */
function foreignUrlPolicyOf(o: Options): ForeignUrlPolicy {
  return {
    allow: o.allowForeignUrl.map((re) => {
      try {
        return new RegExp(re);
      } catch (e) {
        return fail(`--allow-foreign-url: ${(e as Error).message}`);
      }
    }),
  };
}

/**
 * `serve --store`: registry, store and token service in one process. Accounts are the
 * htpasswd file's; the store decides who pulls and pushes (docs/registry.md, "Store").
 */
function serveStore(o: Options): void {
  if (!o.htpasswd) fail('--store needs --htpasswd: the store\'s accounts are its users');
  if ([o.tokenRealm, o.tokenService, o.tokenIssuer, o.tokenCert].some(Boolean)) fail('--store runs its own token service: leave out --token-*');
  const vendors = o.storeVendors ?? 'admin';
  if (vendors !== 'admin' && vendors !== 'self-service') fail('--store-vendors takes admin or self-service');
  let provider;
  try {
    provider = providerNamed(o.storePayments ?? 'invoice');
  } catch (e) {
    return fail(`--store-payments: ${(e as Error).message}`);
  }
  const tls = tlsOf(o);
  // Tests move the store's clock to see subscriptions lapse (src/store/clock.ts).
  const clockFile = process.env.BERTH_STORE_CLOCK_FILE;
  const { handler } = createStoreServer({
    root: o.root,
    dbFile: o.storeDb,
    htpasswd: o.htpasswd,
    admins: o.storeAdmin,
    selfServiceVendors: vendors === 'self-service',
    provider,
    clock: clockFile ? fileClock(clockFile) : systemClock,
    https: tls !== undefined,
    readOnly: o.readOnly,
    foreignUrls: foreignUrlPolicyOf(o),
    log,
  });
  listen(handler, o.addr ?? '127.0.0.1:5000', tls, (where) => {
    const notes = [tls ? 'https' : 'http', 'store', `${provider.name} payments`, ...(o.readOnly ? ['read-only'] : [])];
    console.log(`berth-registry listening on ${where} (${notes.join(', ')})`);
  });
}

function serve(o: Options): void {
  keepRunningOnUncaught(log);
  mkdirSync(o.root, { recursive: true });
  if (o.store) return serveStore(o);
  for (const flag of ['--store-db', '--store-admin', '--store-payments', '--store-vendors'] as const) {
    if (process.argv.some((a) => a === flag || a.startsWith(`${flag}=`))) fail(`${flag} needs --store`);
  }
  const auth = authorizerOf(o);
  const tls = tlsOf(o);
  const handler = createHandler(createRegistry(new FilesystemDriver(o.root), o.readOnly, foreignUrlPolicyOf(o)), auth);
  listen(handler, o.addr ?? '127.0.0.1:5000', tls, (where) => {
    const notes = [tls ? 'https' : 'http', o.htpasswd ? 'htpasswd' : o.tokenRealm ? 'token auth' : 'anonymous', ...(o.readOnly ? ['read-only'] : [])];
    // Tests read this line to learn the port when they asked for port 0.
    console.log(`berth-registry listening on ${where} (${notes.join(', ')})`);
  });
}

function token(o: Options): void {
  keepRunningOnUncaught(log);
  for (const [flag, v] of [['--htpasswd', o.htpasswd], ['--acl', o.acl], ['--key', o.key], ['--issuer', o.issuer]] as const) {
    if (!v) fail(`token needs ${flag}`);
  }
  const key = loadPrivateKey(readFileSync(o.key!, 'utf8'));
  algorithmFor(key); // refuse keys we cannot sign with now, not at the first request
  const tls = tlsOf(o);
  const handler = createTokenHandler({
    users: new HtpasswdFile(o.htpasswd!, log),
    acl: parseAcl(readFileSync(o.acl!, 'utf8')),
    key,
    issuer: o.issuer!,
    service: o.service,
  });
  listen(handler, o.addr ?? '127.0.0.1:5001', tls, (where) => {
    console.log(`berth-registry token server listening on ${where} (${tls ? 'https' : 'http'}, issuer ${o.issuer})`);
  });
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  switch (o.cmd) {
    case 'serve':
      return serve(o);
    case 'token':
      return token(o);
    case 'gc': {
      mkdirSync(o.root, { recursive: true });
      const r = await collectGarbage(new FilesystemDriver(o.root), { dryRun: o.dryRun, uploadGraceMs: graceOf(o.grace), log: (l) => console.log(l) });
      console.log(`${r.marked.length} blobs marked, ${r.swept.length} ${o.dryRun ? 'would be ' : ''}deleted`);
      return;
    }
    default:
      fail(o.cmd ? `unknown command ${o.cmd}` : 'missing command');
  }
}

// Loaded only as the program (bin/berth-registry requires this file), so start at once.
main().catch((e) => {
  console.error('berth-registry:', e instanceof Error ? e.message : e);
  process.exit(1);
});
