/**
 * Where the daemon listens: `-H/--host`, else BERTH_HOST, else DOCKER_HOST, else
 * the default socket. Accepted forms are docker's: unix:///path, tcp://host:port,
 * http://host:port, and a bare absolute socket path.
 */
export const DEFAULT_DAEMON_ADDRESS = 'unix:///run/berth/berth.sock';

export type DaemonEndpoint =
  | { kind: 'unix'; socketPath: string; address: string }
  /** portGiven false: 2375, or 2376 once TLS is on (as the docker CLI) */
  | { kind: 'tcp'; host: string; port: number; address: string; tls: boolean; portGiven: boolean }
  /** ssh://[user@]host[:port][/socket]: the remote's `berth system dial-stdio` carries the API */
  | { kind: 'ssh'; user?: string; host: string; port?: number; socketPath?: string; address: string };

export function resolveDaemonAddress(flagHost?: string, env: NodeJS.ProcessEnv = process.env): string {
  return flagHost || env.BERTH_HOST || env.DOCKER_HOST || DEFAULT_DAEMON_ADDRESS;
}

/** Parses a daemon address; throws with docker's wording when it is not one. */
export function parseDaemonAddress(address: string): DaemonEndpoint {
  if (address.startsWith('/')) return { kind: 'unix', socketPath: address, address: `unix://${address}` };
  const m = /^([a-z]+):\/\/(.*)$/.exec(address);
  if (!m) throw new Error(`unable to parse docker host \`${address}\``);
  const [, proto, rest] = m;
  if (proto === 'unix') {
    if (!rest) throw new Error(`invalid bind address format: ${address}`);
    return { kind: 'unix', socketPath: rest, address };
  }
  if (proto === 'tcp' || proto === 'http' || proto === 'https') {
    const hp = /^(\[[^\]]+\]|[^:/]*)(?::(\d+))?\/?$/.exec(rest);
    if (!hp) throw new Error(`invalid bind address format: ${address}`);
    const host = (hp[1] || '127.0.0.1').replace(/^\[|\]$/g, '');
    const port = hp[2] ? Number(hp[2]) : proto === 'https' ? 2376 : 2375;
    return { kind: 'tcp', host, port, address, tls: proto === 'https', portGiven: hp[2] !== undefined };
  }
  if (proto === 'ssh') {
    const sm = /^(?:([^@/]+)@)?(\[[^\]]+\]|[^:/@]+)(?::(\d+))?(\/.*)?$/.exec(rest);
    if (!sm) throw new Error(`invalid SSH URL: ${address}`);
    const [, user, host, port, socketPath] = sm;
    // the path reaches the remote as part of a shell command line (ssh joins its arguments):
    // only plain path characters, so an address from an imported context cannot run anything
    if (socketPath && !/^\/[A-Za-z0-9._/-]*$/.test(socketPath)) throw new Error(`invalid SSH URL: ${address}`);
    return { kind: 'ssh', user: user ? decodeURIComponent(user) : undefined, host: host.replace(/^\[|\]$/g, ''), port: port ? Number(port) : undefined, socketPath: socketPath && socketPath !== '/' ? socketPath : undefined, address };
  }
  throw new Error(`invalid bind address format: ${address}`);
}
