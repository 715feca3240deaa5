/**
 * The ServiceSpec that `service create` builds from its flags and that
 * `service update` edits: the flags both commands share (set a field when given),
 * the list flags of create (--env, --label, --publish ...) and their -add/-rm
 * pairs for update. Durations go to the API in nanoseconds, sizes in bytes, CPUs
 * in nano-CPUs, with the field names of the Engine API's ServiceSpec.
 */
import type { FlagDef, ParsedFlags } from '../flags';
import { parseInt64 } from '../flags';
import { StatusError } from '../errors';
import { parseGoFloat, parseNanoCpus } from '../../common/units';
import { keyValueMap, parseMemBytes, parseMount, parseNetworkOpt, parsePortSpec, readKeyValueFile, validateEnv, validateLabel } from '../opts/values';
import { PortConfig, ServiceSpec, boolFlag, durationFlag, listFlag, strFlag, toNanos, uintFlag } from './swarm-shared';

// ---------------------------------------------------------------- value parsers

/** --publish: "published:target[/proto]", "target[/proto]", ranges, or the long "mode=host,target=80,published=8080,protocol=udp". */
export function parseServicePort(v: string): PortConfig[] {
  if (v.includes('=')) {
    const port: PortConfig = { Protocol: 'tcp', PublishMode: 'ingress' };
    let target = false;
    for (const field of v.split(',')) {
      const eq = field.indexOf('=');
      if (eq < 0) throw new Error(`invalid field ${field}`);
      const key = field.slice(0, eq).toLowerCase().trim();
      const val = field.slice(eq + 1).trim();
      const num = () => {
        if (!/^\d+$/.test(val) || Number(val) > 65535) throw new Error(`invalid ${key} port ${val}`);
        return Number(val);
      };
      switch (key) {
        case 'protocol':
          if (!['tcp', 'udp', 'sctp'].includes(val)) throw new Error(`invalid protocol value '${val}'`);
          port.Protocol = val;
          break;
        case 'mode':
          if (val !== 'ingress' && val !== 'host') throw new Error(`invalid publish mode value (${val}): must be either "ingress" or "host"`);
          port.PublishMode = val;
          break;
        case 'target':
          port.TargetPort = num();
          target = true;
          break;
        case 'published':
          port.PublishedPort = num();
          break;
        default:
          throw new Error(`invalid field key ${key}`);
      }
    }
    if (!target) throw new Error('missing mandatory field "target"');
    if (!port.PublishedPort) delete port.PublishedPort;
    return [{ Protocol: port.Protocol, TargetPort: port.TargetPort, ...(port.PublishedPort ? { PublishedPort: port.PublishedPort } : {}), PublishMode: port.PublishMode }];
  }
  return parsePortSpec(v).map((m) => {
    if (m.binding.HostIp) throw new Error('hostip is not supported');
    const [target, proto] = m.port.split('/');
    const out: PortConfig = { Protocol: proto, TargetPort: Number(target) };
    if (m.binding.HostPort) {
      if (!/^\d+$/.test(m.binding.HostPort)) throw new Error(`invalid hostPort: ${m.binding.HostPort}`);
      out.PublishedPort = Number(m.binding.HostPort);
    }
    out.PublishMode = 'ingress';
    return out;
  });
}

/** --placement-pref spread=node.labels.zone → {Spread: {SpreadDescriptor}}. */
export function parsePlacementPref(v: string): { Spread: { SpreadDescriptor: string } } {
  const eq = v.indexOf('=');
  if (eq < 0) throw new Error('placement preference must be of the format "<strategy>=<arg>"');
  const strategy = v.slice(0, eq);
  if (strategy !== 'spread') throw new Error(`unsupported placement preference ${strategy} (only spread is supported)`);
  return { Spread: { SpreadDescriptor: v.slice(eq + 1) } };
}

/** Words as a shell splits them (quotes group, backslash escapes), for --entrypoint and --args. */
export function shellWords(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  let quote = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === quote) quote = '';
      else if (c === '\\' && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      has = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has || cur) out.push(cur);
      cur = '';
      has = false;
    } else cur += c;
  }
  if (quote) throw new Error('invalid command line string');
  if (has || cur) out.push(cur);
  return out;
}

/** --host "name:ip" as the "ip name" line ContainerSpec.Hosts holds. */
function hostLine(v: string): string {
  const i = v.indexOf(':');
  if (i <= 0) throw new StatusError(`bad format for add-host: ${JSON.stringify(v)}`, 1);
  return `${v.slice(i + 1)} ${v.slice(0, i)}`;
}

const splitLabel = (l: string): [string, string] => {
  const eq = l.indexOf('=');
  return eq < 0 ? [l, ''] : [l.slice(0, eq), l.slice(eq + 1)];
};

// ---------------------------------------------------------------- flags

const durHelp = ' (ns|us|ms|s|m|h)';

/** Flags that set one field; create and update have them alike. */
export const commonServiceFlags: FlagDef[] = [
  boolFlag('detach', 'Exit immediately instead of waiting for the service to converge', 'd'),
  strFlag('endpoint-mode', 'Endpoint mode (vip or dnsrr)', undefined, 'vip'),
  { name: 'entrypoint', type: 'command', help: 'Overwrite the default ENTRYPOINT of the image', parse: shellWords },
  strFlag('health-cmd', 'Command to run to check health'),
  durationFlag('health-interval', 'Time between running the check (ms|s|m|h)'),
  { name: 'health-retries', type: 'int', help: 'Consecutive failures needed to report unhealthy', parse: (v) => parseInt64(v), default: 0 },
  durationFlag('health-start-interval', 'Time between running the check during the start period (ms|s|m|h)'),
  durationFlag('health-start-period', 'Start period for the container to initialize before counting retries towards unstable (ms|s|m|h)'),
  durationFlag('health-timeout', 'Maximum time to allow one check to run (ms|s|m|h)'),
  strFlag('hostname', 'Container hostname'),
  boolFlag('init', 'Use an init inside each service container to forward signals and reap processes'),
  { name: 'limit-cpu', type: 'decimal', help: 'Limit CPUs', parse: parseNanoCpus },
  { name: 'limit-memory', type: 'bytes', help: 'Limit Memory', parse: parseMemBytes, defaultText: '0' },
  { name: 'limit-pids', type: 'int', help: 'Limit maximum number of processes (default 0 = unlimited)', parse: (v) => parseInt64(v) },
  strFlag('log-driver', 'Logging driver for service'),
  listFlag('log-opt', 'Logging driver options'),
  boolFlag('no-healthcheck', 'Disable any container-specified HEALTHCHECK'),
  boolFlag('no-resolve-image', 'Do not query the registry to resolve image digest and supported platforms'),
  boolFlag('quiet', 'Suppress progress output', 'q'),
  boolFlag('read-only', "Mount the container's root filesystem as read only"),
  { name: 'max-concurrent', type: 'uint', help: 'Number of job tasks to run concurrently (default equal to --replicas)', parse: (v) => uintValue(v) },
  { name: 'replicas', type: 'uint', help: 'Number of tasks', parse: (v) => uintValue(v) },
  { name: 'replicas-max-per-node', type: 'uint64', help: 'Maximum number of tasks per node (default 0 = unlimited)', parse: (v) => uintValue(v) },
  { name: 'reserve-cpu', type: 'decimal', help: 'Reserve CPUs', parse: parseNanoCpus },
  { name: 'reserve-memory', type: 'bytes', help: 'Reserve Memory', parse: parseMemBytes, defaultText: '0' },
  strFlag('restart-condition', 'Restart when condition is met ("none", "on-failure", "any") (default "any")'),
  durationFlag('restart-delay', 'Delay between restart attempts' + durHelp + ' (default 5s)'),
  uintFlag('restart-max-attempts', 'Maximum number of restarts before giving up'),
  durationFlag('restart-window', 'Window used to evaluate the restart policy' + durHelp),
  durationFlag('rollback-delay', 'Delay between task rollbacks' + durHelp, '0s'),
  strFlag('rollback-failure-action', 'Action on rollback failure ("pause", "continue")', undefined, 'pause'),
  { name: 'rollback-max-failure-ratio', type: 'float', help: 'Failure rate to tolerate during a rollback', parse: parseGoFloat, defaultText: '0' },
  durationFlag('rollback-monitor', 'Duration after each task rollback to monitor for failure' + durHelp, '0s'),
  strFlag('rollback-order', 'Rollback order ("start-first", "stop-first")', undefined, 'stop-first'),
  { ...uintFlag('rollback-parallelism', 'Maximum number of tasks rolled back simultaneously (0 to roll back all at once)', '1'), type: 'uint64' },
  durationFlag('stop-grace-period', 'Time to wait before force killing a container' + durHelp + ' (default 10s)'),
  strFlag('stop-signal', 'Signal to stop the container'),
  boolFlag('tty', 'Allocate a pseudo-TTY', 't'),
  durationFlag('update-delay', 'Delay between updates' + durHelp, '0s'),
  strFlag('update-failure-action', 'Action on update failure ("pause", "continue", "rollback")', undefined, 'pause'),
  { name: 'update-max-failure-ratio', type: 'float', help: 'Failure rate to tolerate during an update', parse: parseGoFloat, defaultText: '0' },
  durationFlag('update-monitor', 'Duration after each task update to monitor for failure' + durHelp, '0s'),
  strFlag('update-order', 'Update order ("start-first", "stop-first")', undefined, 'stop-first'),
  { ...uintFlag('update-parallelism', 'Maximum number of tasks updated simultaneously (0 to update all at once)', '1'), type: 'uint64' },
  strFlag('user', 'Username or UID (format: <name|uid>[:<group|gid>])', 'u'),
  boolFlag('with-registry-auth', 'Send registry authentication details to swarm agents'),
  strFlag('workdir', 'Working directory inside the container', 'w'),
];

function uintValue(v: string): number {
  if (!/^\d+$/.test(v)) throw new Error(`strconv.ParseUint: parsing ${JSON.stringify(v)}: invalid syntax`);
  return Number(v);
}

/** The list flags of `service create`. */
export const createListFlags: FlagDef[] = [
  listFlag('cap-add', 'Add Linux capabilities'),
  listFlag('cap-drop', 'Drop Linux capabilities'),
  listFlag('constraint', 'Placement constraints'),
  listFlag('container-label', 'Container labels'),
  listFlag('dns', 'Set custom DNS servers'),
  listFlag('dns-option', 'Set DNS options'),
  listFlag('dns-search', 'Set custom DNS search domains'),
  listFlag('env', 'Set environment variables', 'e', (v) => validateEnv(v)),
  listFlag('env-file', 'Read in a file of environment variables'),
  listFlag('group', 'Set one or more supplementary user groups for the container'),
  listFlag('host', 'Set one or more custom host-to-IP mappings (host:ip)'),
  listFlag('label', 'Service labels', 'l', validateLabel),
  strFlag('mode', 'Service mode ("replicated", "global", "replicated-job", "global-job")', undefined, 'replicated'),
  { name: 'mount', type: 'mount', help: 'Attach a filesystem mount to the service', parse: parseMount },
  strFlag('name', 'Service name'),
  { name: 'network', type: 'network', help: 'Network attachments', parse: parseNetworkOpt },
  { name: 'secret', type: 'secret', repeat: true, help: 'Specify secrets to expose to the service', parse: (v: string) => parseFileRef('secret', v) },
  { name: 'config', type: 'config', repeat: true, help: 'Specify configurations to expose to the service', parse: (v: string) => parseFileRef('config', v) },
  { name: 'placement-pref', type: 'pref', help: 'Add a placement preference', repeat: true, parse: parsePlacementPref },
  { name: 'publish', short: 'p', type: 'port', help: 'Publish a port as a node port', repeat: true, parse: parseServicePort },
  listFlag('sysctl', 'Sysctl options'),
];

/** The list flags of `service update`: an -add and an -rm for each list of the spec. */
export const updateListFlags: FlagDef[] = [
  strFlag('args', 'Service command args'),
  listFlag('cap-add', 'Add Linux capabilities'),
  listFlag('cap-drop', 'Drop Linux capabilities'),
  listFlag('constraint-add', 'Add or update a placement constraint'),
  listFlag('constraint-rm', 'Remove a constraint'),
  listFlag('container-label-add', 'Add or update a container label'),
  listFlag('container-label-rm', 'Remove a container label by its key'),
  listFlag('dns-add', 'Add or update a custom DNS server'),
  listFlag('dns-rm', 'Remove a custom DNS server'),
  listFlag('dns-search-add', 'Add or update a custom DNS search domain'),
  listFlag('dns-search-rm', 'Remove a DNS search domain'),
  listFlag('env-add', 'Add or update an environment variable', undefined, (v) => validateEnv(v)),
  listFlag('env-rm', 'Remove an environment variable'),
  boolFlag('force', 'Force update even if no changes require it'),
  listFlag('group-add', 'Add an additional supplementary user group to the container'),
  listFlag('group-rm', 'Remove a previously added supplementary user group from the container'),
  listFlag('host-add', 'Add a custom host-to-IP mapping ("host:ip")'),
  listFlag('host-rm', 'Remove a custom host-to-IP mapping ("host:ip")'),
  strFlag('image', 'Service image tag'),
  listFlag('label-add', 'Add or update a service label'),
  listFlag('label-rm', 'Remove a label by its key'),
  { name: 'mount-add', type: 'mount', help: 'Add or update a mount on a service', parse: parseMount },
  listFlag('mount-rm', 'Remove a mount by its target path'),
  { name: 'network-add', type: 'network', help: 'Add a network', parse: parseNetworkOpt },
  { name: 'secret-add', type: 'secret', repeat: true, help: 'Add or update a secret on a service', parse: (v: string) => parseFileRef('secret', v) },
  listFlag('secret-rm', 'Remove a secret'),
  { name: 'config-add', type: 'config', repeat: true, help: 'Add or update a config file on a service', parse: (v: string) => parseFileRef('config', v) },
  listFlag('config-rm', 'Remove a configuration file'),
  listFlag('network-rm', 'Remove a network'),
  { name: 'placement-pref-add', type: 'pref', help: 'Add a placement preference', repeat: true, parse: parsePlacementPref },
  { name: 'placement-pref-rm', type: 'pref', help: 'Remove a placement preference', repeat: true, parse: parsePlacementPref },
  { name: 'publish-add', type: 'port', help: 'Add or update a published port', repeat: true, parse: parseServicePort },
  { name: 'publish-rm', type: 'port', help: 'Remove a published port by its target port', repeat: true, parse: parseServicePort },
  boolFlag('rollback', 'Rollback to previous specification'),
  listFlag('sysctl-add', 'Add or update a Sysctl option'),
  listFlag('sysctl-rm', 'Remove a Sysctl option'),
];

// ---------------------------------------------------------------- the single-field flags

const oneOf = (flag: string, v: string, allowed: string[]) => {
  if (!allowed.includes(v)) throw new StatusError(`invalid argument "${v}" for "--${flag}" flag: must be one of ${allowed.map((a) => `"${a}"`).join(', ')}`, 125);
  return v;
};

/** Sets the field of every single-value flag that was given; other fields stay as they are. */
export function applyCommonFlags(spec: ServiceSpec, p: ParsedFlags): void {
  const v = p.values;
  const has = (k: string) => p.changed.has(k);
  const ns = (k: string) => toNanos(v[k] as number);
  const t = (spec.TaskTemplate ??= {});
  const c = (t.ContainerSpec ??= {});

  if (has('hostname')) c.Hostname = v.hostname as string;
  if (has('workdir')) c.Dir = v.workdir as string;
  if (has('user')) c.User = v.user as string;
  if (has('entrypoint')) c.Command = v.entrypoint as string[];
  if (has('tty')) c.TTY = !!v.tty;
  if (has('init')) c.Init = !!v.init;
  if (has('read-only')) c.ReadOnly = !!v['read-only'];
  if (has('stop-signal')) c.StopSignal = v['stop-signal'] as string;
  if (has('stop-grace-period')) c.StopGracePeriod = ns('stop-grace-period');

  const health = ['health-cmd', 'health-interval', 'health-timeout', 'health-retries', 'health-start-period', 'health-start-interval'];
  if (has('no-healthcheck') && v['no-healthcheck']) {
    if (health.some(has)) throw new StatusError('--no-healthcheck conflicts with --health-* options', 1);
    c.Healthcheck = { Test: ['NONE'] };
  } else if (health.some(has)) {
    const h = { ...(c.Healthcheck ?? {}) };
    if (h.Test?.[0] === 'NONE') delete h.Test;
    if (has('health-cmd')) h.Test = v['health-cmd'] ? ['CMD-SHELL', v['health-cmd'] as string] : undefined;
    if (has('health-interval')) h.Interval = ns('health-interval');
    if (has('health-timeout')) h.Timeout = ns('health-timeout');
    if (has('health-start-period')) h.StartPeriod = ns('health-start-period');
    if (has('health-start-interval')) h.StartInterval = ns('health-start-interval');
    if (has('health-retries')) h.Retries = v['health-retries'] as number;
    c.Healthcheck = h;
  }

  const limits = ['limit-cpu', 'limit-memory', 'limit-pids', 'reserve-cpu', 'reserve-memory'];
  if (limits.some(has)) {
    const r = (t.Resources ??= {});
    const lim = { ...(r.Limits ?? {}) };
    const res = { ...(r.Reservations ?? {}) };
    if (has('limit-cpu')) lim.NanoCPUs = v['limit-cpu'] as number;
    if (has('limit-memory')) lim.MemoryBytes = v['limit-memory'] as number;
    if (has('limit-pids')) lim.Pids = v['limit-pids'] as number;
    if (has('reserve-cpu')) res.NanoCPUs = v['reserve-cpu'] as number;
    if (has('reserve-memory')) res.MemoryBytes = v['reserve-memory'] as number;
    if (Object.keys(lim).length) r.Limits = lim;
    if (Object.keys(res).length) r.Reservations = res;
  }

  if (['restart-condition', 'restart-delay', 'restart-max-attempts', 'restart-window'].some(has)) {
    const rp = (t.RestartPolicy ??= {});
    if (has('restart-condition')) rp.Condition = oneOf('restart-condition', v['restart-condition'] as string, ['none', 'on-failure', 'any']);
    if (has('restart-delay')) rp.Delay = ns('restart-delay');
    if (has('restart-max-attempts')) rp.MaxAttempts = v['restart-max-attempts'] as number;
    if (has('restart-window')) rp.Window = ns('restart-window');
  }

  if (has('replicas-max-per-node')) (t.Placement ??= {}).MaxReplicas = v['replicas-max-per-node'] as number;

  if (has('log-driver') || has('log-opt')) {
    const ld = (t.LogDriver ??= {});
    if (has('log-driver')) ld.Name = v['log-driver'] as string;
    if (has('log-opt')) ld.Options = { ...(ld.Options ?? {}), ...keyValueMap(v['log-opt'] as string[]) };
  }

  for (const kind of ['update', 'rollback'] as const) {
    const key = kind === 'update' ? 'UpdateConfig' : 'RollbackConfig';
    const f = (name: string) => `${kind}-${name}`;
    if (!['parallelism', 'delay', 'monitor', 'failure-action', 'max-failure-ratio', 'order'].some((n) => has(f(n)))) continue;
    const cfg = (spec[key] ??= {});
    if (has(f('parallelism'))) cfg.Parallelism = v[f('parallelism')] as number;
    if (has(f('delay'))) cfg.Delay = ns(f('delay'));
    if (has(f('monitor'))) cfg.Monitor = ns(f('monitor'));
    if (has(f('failure-action'))) cfg.FailureAction = oneOf(f('failure-action'), v[f('failure-action')] as string, kind === 'update' ? ['pause', 'continue', 'rollback'] : ['pause', 'continue']);
    if (has(f('max-failure-ratio'))) cfg.MaxFailureRatio = v[f('max-failure-ratio')] as number;
    if (has(f('order'))) cfg.Order = oneOf(f('order'), v[f('order')] as string, ['start-first', 'stop-first']);
  }

  if (has('endpoint-mode')) (spec.EndpointSpec ??= {}).Mode = oneOf('endpoint-mode', v['endpoint-mode'] as string, ['vip', 'dnsrr']);
}

// ---------------------------------------------------------------- create

/** docker's defaults for the update and rollback settings, sent by create. */
const rolloutDefaults = () => ({ Parallelism: 1, FailureAction: 'pause', MaxFailureRatio: 0, Order: 'stop-first' });

/** The ServiceSpec `service create` sends. */
export function buildCreateSpec(p: ParsedFlags, env: NodeJS.ProcessEnv): ServiceSpec {
  const v = p.values;
  const [image, ...args] = p.args;
  const list = (k: string) => v[k] as string[];
  const container: ServiceSpec = { Image: image };
  if (args.length) container.Args = args;
  const envs = [...list('env-file').flatMap((f) => readKeyValueFile(f, true, env)), ...list('env')];
  if (envs.length) container.Env = envs;
  if (list('container-label').length) container.Labels = keyValueMap(list('container-label'));
  if ((v.mount as unknown[]).length) container.Mounts = v.mount;
  if ((v.secret as unknown[]).length) container.Secrets = v.secret;
  if ((v.config as unknown[]).length) container.Configs = v.config;
  if (list('group').length) container.Groups = list('group');
  if (list('host').length) container.Hosts = list('host').map(hostLine);
  if (list('dns').length || list('dns-search').length || list('dns-option').length) {
    container.DNSConfig = {
      ...(list('dns').length ? { Nameservers: list('dns') } : {}),
      ...(list('dns-search').length ? { Search: list('dns-search') } : {}),
      ...(list('dns-option').length ? { Options: list('dns-option') } : {}),
    };
  }
  if (list('cap-add').length) container.CapabilityAdd = list('cap-add');
  if (list('cap-drop').length) container.CapabilityDrop = list('cap-drop');
  if (list('sysctl').length) container.Sysctls = keyValueMap(list('sysctl'));

  const spec: ServiceSpec = { TaskTemplate: { ContainerSpec: container } };
  if (v.name) spec.Name = v.name as string;
  if (list('label').length) spec.Labels = keyValueMap(list('label'));
  const constraints = list('constraint');
  const prefs = v['placement-pref'] as unknown[];
  if (constraints.length || prefs.length) {
    spec.TaskTemplate.Placement = { ...(constraints.length ? { Constraints: constraints } : {}), ...(prefs.length ? { Preferences: prefs } : {}) };
  }
  const nets = v.network as ReturnType<typeof parseNetworkOpt>[];
  if (nets.length) spec.TaskTemplate.Networks = nets.map(networkConfig);

  const mode = v.mode as string;
  const replicas = p.changed.has('replicas') ? (v.replicas as number) : undefined;
  const maxConcurrent = p.changed.has('max-concurrent') ? (v['max-concurrent'] as number) : undefined;
  if (maxConcurrent !== undefined && mode !== 'replicated-job') throw new StatusError('max-concurrent can only be used with replicated-job mode', 1);
  switch (mode) {
    case 'replicated':
      spec.Mode = { Replicated: replicas === undefined ? {} : { Replicas: replicas } };
      break;
    case 'global':
      if (replicas !== undefined) throw new StatusError('replicas can only be used with replicated or replicated-job mode', 1);
      spec.Mode = { Global: {} };
      break;
    case 'replicated-job':
      // as Docker's CLI: as many at once as there are to do, unless told otherwise
      spec.Mode = { ReplicatedJob: { MaxConcurrent: maxConcurrent ?? replicas, TotalCompletions: replicas } };
      break;
    case 'global-job':
      if (replicas !== undefined) throw new StatusError('replicas can only be used with replicated or replicated-job mode', 1);
      spec.Mode = { GlobalJob: {} };
      break;
    default:
      throw new StatusError(`invalid service mode: ${mode}`, 1);
  }
  if (!mode.endsWith('-job')) {
    spec.UpdateConfig = rolloutDefaults();
    spec.RollbackConfig = rolloutDefaults();
  }
  const ports = (v.publish as PortConfig[][]).flat();
  spec.EndpointSpec = { Mode: 'vip', ...(ports.length ? { Ports: ports } : {}) };
  applyCommonFlags(spec, p);
  return spec;
}

type FileRef = { SecretName?: string; ConfigName?: string; File: { Name: string; UID: string; GID: string; Mode: number } };

/**
 * --secret / --config: a name, or source=,target=,uid=,gid=,mode= (docker's). The daemon
 * finds the object by name; a secret's file lands under /run/secrets, a config's at the root.
 */
export function parseFileRef(kind: 'secret' | 'config', value: string): FileRef {
  const o: Record<string, string> = {};
  if (!value.includes('=')) o.source = value;
  else {
    for (const part of value.split(',')) {
      const i = part.indexOf('=');
      const k = i < 0 ? part : part.slice(0, i).trim().toLowerCase();
      const val = i < 0 ? '' : part.slice(i + 1).trim();
      if (!['source', 'src', 'target', 'uid', 'gid', 'mode'].includes(k)) throw new StatusError(`invalid argument "${value}" for "--${kind}" flag: invalid field '${k}' must be a key=value pair`, 125);
      o[k === 'src' ? 'source' : k] = val;
    }
  }
  if (!o.source) throw new StatusError(`invalid argument "${value}" for "--${kind}" flag: source is required`, 125);
  const mode = o.mode !== undefined ? parseInt(o.mode, 8) : 0o444;
  if (!Number.isFinite(mode) || !/^[0-7]{1,4}$/.test(o.mode ?? '444')) throw new StatusError(`invalid argument "${value}" for "--${kind}" flag: invalid mode ${o.mode}`, 125);
  const file = { Name: o.target || o.source, UID: o.uid || '0', GID: o.gid || '0', Mode: mode };
  return kind === 'secret' ? { SecretName: o.source, File: file } : { ConfigName: o.source, File: file };
}

function networkConfig(n: ReturnType<typeof parseNetworkOpt>): Record<string, unknown> {
  return { Target: n.target, ...(n.aliases.length ? { Aliases: n.aliases } : {}), ...(Object.keys(n.driverOpts).length ? { DriverOpts: n.driverOpts } : {}) };
}

// ---------------------------------------------------------------- update

/** An ordered list with entries removed (by key) then added or replaced (by key). */
function editList<T>(items: readonly T[] | null | undefined, add: readonly T[], rm: readonly string[], key: (x: T) => string): T[] {
  const out = (items ?? []).filter((x) => !rm.includes(key(x)));
  for (const a of add) {
    const i = out.findIndex((x) => key(x) === key(a));
    if (i >= 0) out[i] = a;
    else out.push(a);
  }
  return out;
}

function editMap(map: Record<string, string> | null | undefined, add: readonly string[], rm: readonly string[]): Record<string, string> {
  const out = { ...(map ?? {}) };
  for (const k of rm) delete out[k];
  for (const l of add) {
    const [k, val] = splitLabel(l);
    out[k] = val;
  }
  return out;
}

const portKey = (p: PortConfig) => `${p.TargetPort}/${p.Protocol ?? 'tcp'}`;

/** Changes `spec` (a copy of the service's) as `service update`'s flags say. */
export function applyUpdateFlags(spec: ServiceSpec, p: ParsedFlags): void {
  const v = p.values;
  const has = (k: string) => p.changed.has(k);
  const list = (k: string) => (v[k] as string[] | undefined) ?? [];
  const t = (spec.TaskTemplate ??= {});
  const c = (t.ContainerSpec ??= {});

  if (has('image')) c.Image = v.image as string;
  if (has('args')) c.Args = shellWords(v.args as string);
  if (has('replicas')) {
    if (spec.Mode?.Replicated) spec.Mode.Replicated.Replicas = v.replicas as number;
    else if (spec.Mode?.ReplicatedJob) spec.Mode.ReplicatedJob.TotalCompletions = v.replicas as number;
    else throw new StatusError('replicas can only be used with replicated or replicated-job mode', 1);
  }
  if (has('max-concurrent')) {
    if (!spec.Mode?.ReplicatedJob) throw new StatusError('max-concurrent can only be used with replicated-job mode', 1);
    spec.Mode.ReplicatedJob.MaxConcurrent = v['max-concurrent'] as number;
  }
  if (has('env-add') || has('env-rm')) {
    const envKey = (e: string) => e.split('=')[0];
    c.Env = editList<string>(c.Env, list('env-add'), list('env-rm').map(envKey), envKey);
  }
  if (has('label-add') || has('label-rm')) spec.Labels = editMap(spec.Labels, list('label-add'), list('label-rm'));
  if (has('container-label-add') || has('container-label-rm')) c.Labels = editMap(c.Labels, list('container-label-add'), list('container-label-rm'));
  if (has('constraint-add') || has('constraint-rm')) {
    const pl = (t.Placement ??= {});
    pl.Constraints = editList<string>(pl.Constraints, list('constraint-add'), list('constraint-rm'), (x) => x);
  }
  if (has('placement-pref-add') || has('placement-pref-rm')) {
    const pl = (t.Placement ??= {});
    type Pref = { Spread: { SpreadDescriptor: string } };
    const desc = (x: Pref) => x.Spread?.SpreadDescriptor;
    pl.Preferences = editList<Pref>(pl.Preferences, v['placement-pref-add'] as Pref[], (v['placement-pref-rm'] as Pref[]).map(desc), desc);
  }
  if (has('publish-add') || has('publish-rm')) {
    const ep = (spec.EndpointSpec ??= {});
    const rm = (v['publish-rm'] as PortConfig[][]).flat().map(portKey);
    ep.Ports = editList<PortConfig>(ep.Ports, (v['publish-add'] as PortConfig[][]).flat(), rm, portKey);
  }
  if (has('mount-add') || has('mount-rm')) c.Mounts = editList<{ Target: string }>(c.Mounts, v['mount-add'] as { Target: string }[], list('mount-rm'), (m) => m.Target);
  if (has('secret-add') || has('secret-rm')) c.Secrets = editList<FileRef>(c.Secrets, v['secret-add'] as FileRef[], list('secret-rm'), (r) => r.SecretName ?? '');
  if (has('config-add') || has('config-rm')) c.Configs = editList<FileRef>(c.Configs, v['config-add'] as FileRef[], list('config-rm'), (r) => r.ConfigName ?? '');
  if (has('network-add') || has('network-rm')) {
    const adds = (v['network-add'] as ReturnType<typeof parseNetworkOpt>[]).map(networkConfig) as { Target: string }[];
    t.Networks = editList<{ Target: string }>(t.Networks, adds, list('network-rm'), (n) => n.Target);
  }
  if (has('group-add') || has('group-rm')) c.Groups = editList<string>(c.Groups, list('group-add'), list('group-rm'), (x) => x);
  if (has('host-add') || has('host-rm')) c.Hosts = editList<string>(c.Hosts, list('host-add').map(hostLine), list('host-rm').map(hostLine), (x) => x);
  if (has('dns-add') || has('dns-rm') || has('dns-search-add') || has('dns-search-rm')) {
    const d = (c.DNSConfig ??= {});
    if (has('dns-add') || has('dns-rm')) d.Nameservers = editList<string>(d.Nameservers, list('dns-add'), list('dns-rm'), (x) => x);
    if (has('dns-search-add') || has('dns-search-rm')) d.Search = editList<string>(d.Search, list('dns-search-add'), list('dns-search-rm'), (x) => x);
  }
  if (has('cap-add')) c.CapabilityAdd = editList<string>(c.CapabilityAdd, list('cap-add'), [], (x) => x);
  if (has('cap-drop')) c.CapabilityDrop = editList<string>(c.CapabilityDrop, list('cap-drop'), [], (x) => x);
  if (has('sysctl-add') || has('sysctl-rm')) c.Sysctls = editMap(c.Sysctls, list('sysctl-add'), list('sysctl-rm'));
  applyCommonFlags(spec, p);
  if (has('force') && v.force) t.ForceUpdate = (t.ForceUpdate ?? 0) + 1;
}
