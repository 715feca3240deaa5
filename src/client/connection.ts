/**
 * Which daemon a CLI command talks to, and how, with the docker CLI's precedence:
 *
 *   1. -H/--host                     (with --context as well: an error, as docker)
 *   2. --context NAME
 *   3. BERTH_HOST, then DOCKER_HOST   (the "default" context)
 *   4. DOCKER_CONTEXT
 *   5. currentContext in $DOCKER_CONFIG/config.json (set by `berth context use` or `docker context use`)
 *   6. the default socket
 *
 * For the default context, TLS comes from --tls/--tlsverify/--tlscacert/--tlscert/--tlskey and
 * DOCKER_TLS/DOCKER_TLS_VERIFY/DOCKER_CERT_PATH (default $DOCKER_CONFIG, else ~/.docker):
 * --tlsverify or DOCKER_TLS_VERIFY (any non-empty value) turn TLS on and check the daemon against
 * the CA; --tls, DOCKER_TLS or a TLS file flag alone encrypt without checking. Files at the default paths that do not exist are left out, as docker does; a file
 * named on the command line must exist. A stored context carries its own TLS files and
 * SkipTLSVerify; the flags and variables do not apply to it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveDaemonAddress } from './address';
import { ContextStore, DEFAULT_CONTEXT, dockerConfigDir } from './context-store';
import type { ClientTls } from './engine';

export interface ConnectionFlags {
  hosts: string[];
  context?: string;
  tls?: boolean;
  tlsverify?: boolean;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
}

export interface Connection {
  contextName: string;
  address: string;
  tls?: ClientTls;
}

export class ConnectionConfigError extends Error {}

/** The name of the context in use, without reading the context itself. */
export function currentContextName(flags: ConnectionFlags, env: NodeJS.ProcessEnv, store = new ContextStore(dockerConfigDir(env))): string {
  if (flags.hosts.length && flags.context) throw new ConnectionConfigError('conflicting options: either specify --host or --context, not both');
  if (flags.hosts.length) return DEFAULT_CONTEXT;
  if (flags.context) return flags.context;
  if (env.BERTH_HOST || env.DOCKER_HOST) return DEFAULT_CONTEXT;
  if (env.DOCKER_CONTEXT) return env.DOCKER_CONTEXT;
  return store.currentContext() ?? DEFAULT_CONTEXT;
}

export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv): Connection {
  const store = new ContextStore(dockerConfigDir(env));
  const contextName = currentContextName(flags, env, store);
  if (contextName !== DEFAULT_CONTEXT) {
    let meta;
    try {
      meta = store.get(contextName);
    } catch (e) {
      throw new ConnectionConfigError(`Failed to initialize: unable to resolve docker endpoint: ${(e as Error).message}`);
    }
    const ep = meta.Endpoints.docker;
    if (!ep?.Host) throw new ConnectionConfigError(`context "${contextName}" has no docker endpoint`);
    const files = store.tlsFiles(contextName);
    const hasTls = Object.keys(files).length > 0 || ep.SkipTLSVerify;
    const tls = hasTls && !ep.Host.startsWith('unix://') && !ep.Host.startsWith('ssh://')
      ? { ca: files['ca.pem'], cert: files['cert.pem'], key: files['key.pem'], verify: !ep.SkipTLSVerify }
      : undefined;
    return { contextName, address: ep.Host, tls };
  }
  const address = resolveDaemonAddress(flags.hosts.length ? flags.hosts[flags.hosts.length - 1] : undefined, env);
  return { contextName, address, tls: defaultContextTls(flags, env) };
}

/** TLS of the default context, from flags and variables; undefined when TLS is off. */
export function defaultContextTls(flags: ConnectionFlags, env: NodeJS.ProcessEnv): ClientTls | undefined {
  const verify = flags.tlsverify ?? (env.DOCKER_TLS_VERIFY ? true : false);
  // DOCKER_TLS is --tls; naming any TLS file turns TLS on too (the docker CLI's reference)
  const tls = flags.tls ?? (!!env.DOCKER_TLS || flags.tlscacert !== undefined || flags.tlscert !== undefined || flags.tlskey !== undefined);
  if (!verify && !tls) return undefined;
  const certPath = env.DOCKER_CERT_PATH || dockerConfigDir(env);
  const read = (given: string | undefined, name: string, what: string): Buffer | undefined => {
    const file = given ?? path.join(certPath, name);
    try {
      return fs.readFileSync(file);
    } catch (e) {
      if (given === undefined && (e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new ConnectionConfigError(`could not read ${what} "${file}": ${(e as Error).message}`);
    }
  };
  const cert = read(flags.tlscert, 'cert.pem', 'TLS certificate');
  const key = read(flags.tlskey, 'key.pem', 'TLS key');
  if ((cert === undefined) !== (key === undefined)) throw new ConnectionConfigError('a TLS certificate needs its key, and a key its certificate (--tlscert and --tlskey)');
  // as docker: without verification the CA is not consulted
  const ca = verify ? read(flags.tlscacert, 'ca.pem', 'CA certificate') : undefined;
  return { ca, cert, key, verify };
}
