/**
 * berthd's TLS settings for its tcp:// listeners, from dockerd's flags (--tls, --tlsverify,
 * --tlscacert, --tlscert, --tlskey) and daemon.json keys of the same names, and the rule
 * Docker 27 brought in: a TCP listener that anyone on the network can reach must not serve
 * the API (root on the host) in plain HTTP unless the operator said so with --tls=false.
 * unix:// listeners are never TLS: the socket's file mode guards them.
 */
import { invalid } from '../common/errors';

export interface ListenerTls {
  /** serve TLS on tcp:// listeners */
  enabled: boolean;
  /** require a client certificate signed by `cacert` (mutual TLS) */
  verify: boolean;
  cacert: string;
  cert: string;
  key: string;
}

/** What the command line and daemon.json said; undefined = not said. */
export interface TlsInput {
  tls?: boolean;
  tlsverify?: boolean;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
}

/**
 * Where `berth system certs --dir /etc/berth/tls` puts the server's files. dockerd's defaults are
 * ~/.docker/{ca,cert,key}.pem, a client's layout; a daemon's own files belong under /etc.
 */
export const TLS_DEFAULTS = {
  cacert: '/etc/berth/tls/ca.pem',
  cert: '/etc/berth/tls/server-cert.pem',
  key: '/etc/berth/tls/server-key.pem',
};

/**
 * Merges flags and daemon.json (config.ts has already refused a key given both ways, as dockerd
 * does). DOCKER_TLS_VERIFY, which dockerd also reads, turns verification on when neither says
 * otherwise; DOCKER_CERT_PATH, as for dockerd, moves the default files.
 */
export function resolveListenerTls(flags: TlsInput, file: TlsInput, env: NodeJS.ProcessEnv): ListenerTls & { explicitlyOff: boolean } {
  const verify = flags.tlsverify ?? file.tlsverify ?? (env.DOCKER_TLS_VERIFY ? true : false);
  const tlsSaid = flags.tls ?? file.tls;
  // as dockerd: --tlsverify implies --tls
  const enabled = verify || tlsSaid === true;
  // dockerd takes DOCKER_CERT_PATH as the folder of its files, named as the client's are
  const dir = env.DOCKER_CERT_PATH;
  const defaults = dir ? { cacert: `${dir}/ca.pem`, cert: `${dir}/cert.pem`, key: `${dir}/key.pem` } : TLS_DEFAULTS;
  const explicitlyOff = !enabled && (tlsSaid === false || flags.tlsverify === false || file.tlsverify === false);
  for (const [k, v] of Object.entries(file)) {
    if (v === undefined) continue;
    const wantBool = k === 'tls' || k === 'tlsverify';
    if (wantBool ? typeof v !== 'boolean' : typeof v !== 'string') throw invalid(`${k} in the configuration file must be ${wantBool ? 'true or false' : 'a path'}`);
  }
  return {
    enabled,
    verify,
    explicitlyOff,
    cacert: flags.tlscacert ?? file.tlscacert ?? defaults.cacert,
    cert: flags.tlscert ?? file.tlscert ?? defaults.cert,
    key: flags.tlskey ?? file.tlskey ?? defaults.key,
  };
}

/** The host part of a tcp:// listen address, without brackets. */
export function tcpHostOf(address: string): string | undefined {
  if (!address.startsWith('tcp://')) return undefined;
  const u = new URL(address.replace(/^tcp:/, 'http:'));
  return u.hostname.replace(/^\[|\]$/g, '');
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * The plain-TCP listeners that others can reach. With TLS off and not explicitly off, any of
 * them stops the daemon from starting; with --tls=false they are allowed and warned about.
 */
export function exposedPlainListeners(hosts: string[], tls: ListenerTls): string[] {
  if (tls.enabled) return [];
  return hosts.filter((h) => {
    const host = tcpHostOf(h);
    return host !== undefined && !isLoopbackHost(host);
  });
}

export function refusePlainTcp(hosts: string[], tls: ListenerTls & { explicitlyOff: boolean }): void {
  const exposed = exposedPlainListeners(hosts, tls);
  if (exposed.length && !tls.explicitlyOff) {
    throw invalid(
      `refusing to serve the API without TLS on ${exposed.join(', ')}: anyone who reaches it is root on this host. ` +
        'Use --tlsverify with --tlscacert, --tlscert and --tlskey (berth system certs makes them), ' +
        'or pass --tls=false to accept the risk.',
    );
  }
}

/** The loud warning printed when --tls=false lets a plain listener through. */
export function plainTcpWarning(address: string): string {
  const shown = address.replace(/^tcp:/, 'http:');
  return (
    `berthd WARNING: API is accessible on ${shown} without encryption and without authentication (--tls=false).\n` +
    '         Anyone who can reach this address has root access on this host.\n' +
    '         Use --tlsverify with a CA, server certificate and key instead (berth system certs --help).'
  );
}
