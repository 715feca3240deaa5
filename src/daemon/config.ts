import { promises as fsp } from 'node:fs';
import { invalid } from '../common/errors';
import { DEFAULT_LOG_DRIVER, validateLogConfig } from '../container/log-options';
import { DEFAULT_REGISTRY_SETTINGS, validateRegistrySettings, type RegistrySettings } from '../distribution/endpoint';
import { builtinRuntimes } from '../runtime/runtimes';
import { resolveDashboardSettings, type DashboardSettings } from '../dashboard/settings';
import { refusePlainTcp, resolveListenerTls, type ListenerTls, type TlsInput } from './tls-config';

/** berthd's settings, from dockerd's flag names and, under them, a daemon.json. */
export interface DaemonConfig {
  hosts: string[];
  dataRoot: string;
  execRoot: string;
  pidfile: string;
  debug: boolean;
  storageDriver?: 'overlay2' | 'vfs';
  defaultRuntime: string;
  runtimes: Record<string, string>;
  cgroupParent: string;
  registries: RegistrySettings;
  /** the default bridge's gateway with prefix (dockerd --bip) */
  bip?: string;
  /** where the default bridge hands out addresses (dockerd --fixed-cidr) */
  fixedCidr?: string;
  /** resolvers for containers and for the embedded DNS servers' forwarding (dockerd --dns) */
  dns: string[];
  /**
   * Whether containers keep running while the daemon is down. berth's default is true
   * (conmon holds each container), unlike dockerd's; false stops them at shutdown.
   */
  liveRestore: boolean;
  /** containers' default log driver and options (dockerd --log-driver, --log-opt; see container/log-options.ts) */
  logDriver: string;
  logOpts: Record<string, string>;
  /** TLS for tcp:// listeners (see tls-config.ts); explicitlyOff: --tls=false was given */
  tls: ListenerTls & { explicitlyOff: boolean };
  /** dockerd --experimental: the checkpoint routes, and the `Docker-Experimental` answer clients check */
  experimental: boolean;
  /** the web dashboard's listener (--dashboard); off when unset */
  dashboard?: DashboardSettings;
}

export const DEFAULTS: DaemonConfig = {
  hosts: ['unix:///run/berth/berth.sock'],
  dataRoot: '/var/lib/berth',
  execRoot: '/run/berth',
  pidfile: '/run/berth/berthd.pid',
  debug: false,
  // crun when it is installed and usable here, else runc (runtime/runtimes.ts)
  ...builtinRuntimes(),
  cgroupParent: '/berth',
  registries: DEFAULT_REGISTRY_SETTINGS,
  dns: [],
  liveRestore: true,
  logDriver: DEFAULT_LOG_DRIVER,
  logOpts: {},
  tls: resolveListenerTls({}, {}, {}),
  experimental: false,
};

const USAGE = `Usage:  berthd [OPTIONS]

A container platform that speaks Docker's Engine API

Options:
      --config-file string     Daemon configuration file (default "/etc/berth/daemon.json")
      --data-root string       Root directory of persistent state (default "/var/lib/berth")
  -D, --debug                  Enable debug mode
      --default-runtime string Default OCI runtime for containers (default "crun" when installed, else "runc")
      --exec-root string       Root directory for execution state files (default "/run/berth")
      --cgroup-parent string   Parent cgroup for all containers (default "/berth")
  -H, --host list              Daemon socket(s) to connect to (default unix:///run/berth/berth.sock)
      --pidfile string         Path to use for daemon PID file (default "/run/berth/berthd.pid")
  -s, --storage-driver string  Storage driver to use: overlay2 or vfs
      --add-runtime name=path  Register an additional OCI runtime
      --insecure-registry list Enable insecure registry communication
      --registry-mirror list   Preferred registry mirror
      --default-registry string Registry for short names like "alpine" (default "registry-1.docker.io")
      --bip string             Specify default-bridge IPv4 network (default "172.17.0.1/16")
      --fixed-cidr string      IPv4 subnet for fixed IPs of the default bridge
      --dns list               DNS server to use
      --experimental           Enable experimental features (checkpoints)
      --live-restore           Keep containers running while the daemon is down (default true)
      --log-driver string      Default driver for container logs (default "json-file")
      --log-opt map            Default log driver options for containers (default max-size=20m, max-file=5)
      --dashboard ADDR:PORT    Serve the web dashboard there (off by default; e.g. 127.0.0.1:9880)
      --dashboard-tls-cert string  TLS certificate for the dashboard (needed off loopback)
      --dashboard-tls-key string   TLS key for the dashboard
      --dashboard-tls-cacert string  Log in browsers whose client certificate this CA signed
      --tls                    Use TLS on tcp:// listeners; implied by --tlsverify
      --tlscacert string       Trust certs signed only by this CA (default "/etc/berth/tls/ca.pem")
      --tlscert string         Path to TLS certificate file (default "/etc/berth/tls/server-cert.pem")
      --tlskey string          Path to TLS key file (default "/etc/berth/tls/server-key.pem")
      --tlsverify              Use TLS and require client certificates signed by the CA
  -v, --version                Print version information and quit
`;

interface DaemonJson {
  hosts?: string[];
  'data-root'?: string;
  'exec-root'?: string;
  pidfile?: string;
  debug?: boolean;
  'storage-driver'?: string;
  'default-runtime'?: string;
  runtimes?: Record<string, { path: string }>;
  'cgroup-parent'?: string;
  'insecure-registries'?: string[];
  'registry-mirrors'?: string[];
  'default-registry'?: string;
  bip?: string;
  'fixed-cidr'?: string;
  dns?: string[];
  'live-restore'?: boolean;
  experimental?: boolean;
  'log-driver'?: string;
  'log-opts'?: Record<string, string>;
  dashboard?: string;
  'dashboard-tls-cert'?: string;
  'dashboard-tls-key'?: string;
  'dashboard-tls-cacert'?: string;
  tls?: boolean;
  tlsverify?: boolean;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
}

export async function parseDaemonArgs(argv: string[]): Promise<DaemonConfig | 'help' | 'version'> {
  const flags: Partial<DaemonConfig> & { hosts?: string[]; runtimes?: Record<string, string> } = {};
  const insecure: string[] = [];
  const mirrors: string[] = [];
  let defaultRegistry: string | undefined;
  let bip: string | undefined;
  let fixedCidr: string | undefined;
  const dns: string[] = [];
  let logDriver: string | undefined;
  const logOpts: Record<string, string> = {};
  const tlsFlags: TlsInput = {};
  let configFile = '/etc/berth/daemon.json';
  let configFileGiven = false;
  const dashboardFlags: { address?: string; tlsCert?: string; tlsKey?: string; tlsCa?: string } = {};
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const next = () => {
      if (value !== undefined) return value;
      const v = argv[++i];
      if (v === undefined) throw invalid(`flag needs an argument: ${arg}`);
      return v;
    };
    switch (arg) {
      case '-h':
      case '--help':
        return 'help';
      case '-v':
      case '--version':
        return 'version';
      case '-H':
      case '--host':
        (flags.hosts ??= []).push(next());
        break;
      case '--data-root':
      case '-g':
      case '--graph':
        flags.dataRoot = next();
        break;
      case '--exec-root':
        flags.execRoot = next();
        break;
      case '-p':
      case '--pidfile':
        flags.pidfile = next();
        break;
      case '--config-file':
        configFile = next();
        configFileGiven = true;
        break;
      case '-D':
      case '--debug':
        flags.debug = value === undefined ? true : value !== 'false';
        break;
      case '-s':
      case '--storage-driver': {
        const d = next();
        if (d !== 'overlay2' && d !== 'vfs' && d !== 'overlay') throw invalid(`unsupported storage driver: ${d} (overlay2 or vfs)`);
        flags.storageDriver = d === 'overlay' ? 'overlay2' : d;
        break;
      }
      case '--default-runtime':
        flags.defaultRuntime = next();
        break;
      case '--add-runtime': {
        const [name, p] = next().split('=');
        if (!name || !p) throw invalid('--add-runtime takes name=path');
        (flags.runtimes ??= {})[name] = p;
        break;
      }
      case '--cgroup-parent':
        flags.cgroupParent = next();
        break;
      case '--insecure-registry':
        insecure.push(next());
        break;
      case '--registry-mirror':
        mirrors.push(next());
        break;
      case '--default-registry':
        defaultRegistry = next();
        break;
      case '--bip':
        bip = next();
        break;
      case '--fixed-cidr':
        fixedCidr = next();
        break;
      case '--dns':
        dns.push(next());
        break;
      case '--log-driver':
        logDriver = next();
        break;
      case '--log-opt': {
        const kv = next();
        const at = kv.indexOf('=');
        if (at < 1) throw invalid(`invalid key value pair format in driver options: ${kv}`);
        logOpts[kv.slice(0, at)] = kv.slice(at + 1);
        break;
      }
      case '--live-restore':
        flags.liveRestore = value === undefined ? true : value !== 'false';
        break;
      case '--tls':
      case '--tlsverify':
        tlsFlags[arg.slice(2) as 'tls' | 'tlsverify'] = value === undefined ? true : value !== 'false';
        break;
      case '--tlscacert':
      case '--tlscert':
      case '--tlskey':
        tlsFlags[arg.slice(2) as 'tlscacert' | 'tlscert' | 'tlskey'] = next();
        break;
      case '--experimental':
        flags.experimental = value === undefined ? true : value !== 'false';
        break;
      case '--dashboard':
        dashboardFlags.address = next();
        break;
      case '--dashboard-tls-cert':
        dashboardFlags.tlsCert = next();
        break;
      case '--dashboard-tls-key':
        dashboardFlags.tlsKey = next();
        break;
      case '--dashboard-tls-cacert':
        dashboardFlags.tlsCa = next();
        break;
      case '-G':
      case '--group':
      case '--log-level':
      case '-l':
        next();
        break;
      default:
        throw invalid(`unknown flag: ${arg}\n\n${USAGE}`);
    }
  }
  let file: DaemonJson = {};
  try {
    file = JSON.parse(await fsp.readFile(configFile, 'utf8')) as DaemonJson;
  } catch (e) {
    if (configFileGiven || (e as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw invalid(`unable to configure the daemon with file ${configFile}: ${(e as Error).message}`);
    }
  }
  if (flags.hosts && file.hosts) {
    throw invalid('the following directives are specified both as a flag and in the configuration file: hosts');
  }
  const fileRuntimes = Object.fromEntries(Object.entries(file.runtimes ?? {}).map(([k, v]) => [k, v.path]));
  const dataRoot = flags.dataRoot ?? file['data-root'] ?? DEFAULTS.dataRoot;
  const execRoot = flags.execRoot ?? file['exec-root'] ?? DEFAULTS.execRoot;
  const sd = flags.storageDriver ?? file['storage-driver'];
  for (const key of ['insecure-registries', 'registry-mirrors'] as const) {
    if (file[key] !== undefined && (!Array.isArray(file[key]) || !file[key]!.every((v) => typeof v === 'string'))) {
      throw invalid(`unable to configure the daemon with file ${configFile}: ${key} must be a list of strings`);
    }
  }
  const registries: RegistrySettings = {
    insecureRegistries: [...(file['insecure-registries'] ?? []), ...insecure],
    registryMirrors: [...(file['registry-mirrors'] ?? []), ...mirrors],
    defaultRegistry: defaultRegistry ?? file['default-registry'] ?? DEFAULT_REGISTRY_SETTINGS.defaultRegistry,
  };
  validateRegistrySettings(registries);
  if (file['live-restore'] !== undefined && typeof file['live-restore'] !== 'boolean') {
    throw invalid(`unable to configure the daemon with file ${configFile}: live-restore must be true or false`);
  }
  const fileLogOpts = file['log-opts'] ?? {};
  if (typeof fileLogOpts !== 'object' || Array.isArray(fileLogOpts) || !Object.values(fileLogOpts).every((v) => typeof v === 'string')) {
    throw invalid(`unable to configure the daemon with file ${configFile}: log-opts must be a map of strings`);
  }
  const log = { Type: logDriver ?? file['log-driver'] ?? DEFAULTS.logDriver, Config: { ...fileLogOpts, ...logOpts } };
  validateLogConfig(log);
  const hosts = flags.hosts ?? file.hosts ?? DEFAULTS.hosts;
  // as dockerd: a setting given both ways is a conflict, not a silent override
  const both = (['tls', 'tlsverify', 'tlscacert', 'tlscert', 'tlskey'] as const).filter((k) => tlsFlags[k] !== undefined && file[k] !== undefined);
  if (both.length) {
    throw invalid(`the following directives are specified both as a flag and in the configuration file: ${both.map((k) => `${k}: (from flag: ${String(tlsFlags[k])}, from file: ${String(file[k])})`).join(', ')}`);
  }
  let tls: DaemonConfig['tls'];
  try {
    tls = resolveListenerTls(tlsFlags, { tls: file.tls, tlsverify: file.tlsverify, tlscacert: file.tlscacert, tlscert: file.tlscert, tlskey: file.tlskey }, process.env);
  } catch (e) {
    throw invalid(`unable to configure the daemon with file ${configFile}: ${(e as Error).message}`);
  }
  refusePlainTcp(hosts, tls);
  return {
    hosts,
    dataRoot,
    execRoot,
    pidfile: flags.pidfile ?? file.pidfile ?? `${execRoot}/berthd.pid`,
    debug: flags.debug ?? file.debug ?? false,
    storageDriver: sd === 'overlay' ? 'overlay2' : (sd as DaemonConfig['storageDriver']),
    defaultRuntime: flags.defaultRuntime ?? file['default-runtime'] ?? DEFAULTS.defaultRuntime,
    runtimes: { ...DEFAULTS.runtimes, ...fileRuntimes, ...(flags.runtimes ?? {}) },
    cgroupParent: flags.cgroupParent ?? file['cgroup-parent'] ?? DEFAULTS.cgroupParent,
    registries,
    bip: bip ?? file.bip,
    fixedCidr: fixedCidr ?? file['fixed-cidr'],
    dns: dns.length ? dns : (file.dns ?? []),
    liveRestore: flags.liveRestore ?? file['live-restore'] ?? DEFAULTS.liveRestore,
    experimental: flags.experimental ?? file.experimental === true,
    logDriver: log.Type,
    logOpts: log.Config,
    dashboard: resolveDashboardSettings(dashboardFlags, { address: file.dashboard, tlsCert: file['dashboard-tls-cert'], tlsKey: file['dashboard-tls-key'], tlsCa: file['dashboard-tls-cacert'] }),
    tls,
  };
}

export { USAGE };
