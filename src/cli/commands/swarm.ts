/**
 * `berth swarm init | join | join-token | leave | update` over the Engine API's
 * /swarm endpoints, with docker's flags and messages, manager autolock too (`unlock`,
 * `unlock-key`). berth's swarm has no external CA, so `ca` says so and exits 1.
 */
import type { CommandContext, CommandSpec } from '../command';
import type { FlagDef, ParsedFlags } from '../flags';
import { parseInt64, parseUint } from '../flags';
import { StatusError, UsageError } from '../errors';
import { ipNetString, parseCidr } from '../opts/ip';
import { boolFlag, durationFlag, strFlag, toNanos } from './swarm-shared';

interface SwarmInfo {
  ID?: string;
  Version: { Index: number };
  Spec: Record<string, any>;
  JoinTokens: { Worker: string; Manager: string };
}

interface InfoSwarm {
  NodeID?: string;
  NodeAddr?: string;
  LocalNodeState?: string;
  ControlAvailable?: boolean;
  RemoteManagers?: { NodeID: string; Addr: string }[] | null;
}

const addrHelp = 'Advertised address (format: "<ip|interface>[:port]")';
const listenHelp = 'Listen address (format: "<ip|interface>[:port]")';

/** The flags of the cluster's settings that init and update share (SwarmSpec fields). */
const specFlags: FlagDef[] = [
  durationFlag('cert-expiry', 'Validity period for node certificates (ns|us|ms|s|m|h)', '2160h0m0s'),
  durationFlag('dispatcher-heartbeat', 'Dispatcher heartbeat period (ns|us|ms|s|m|h)', '5s'),
  { name: 'max-snapshots', type: 'uint64', help: 'Number of additional Raft snapshots to retain', parse: (v) => parseUint(v), default: 0 },
  { name: 'snapshot-interval', type: 'uint64', help: 'Number of log entries between Raft snapshots', parse: (v) => parseUint(v), default: 10000 },
  { name: 'task-history-limit', type: 'int64', help: 'Task history retention limit', parse: (v) => parseInt64(v), default: 5 },
];

/** Sets the SwarmSpec fields whose flags were given, leaving the others as they are. */
export function applySpecFlags(spec: Record<string, any>, p: ParsedFlags): Record<string, any> {
  const v = p.values;
  const has = (k: string) => p.changed.has(k);
  if (has('task-history-limit')) (spec.Orchestration ??= {}).TaskHistoryRetentionLimit = v['task-history-limit'] as number;
  if (has('dispatcher-heartbeat')) (spec.Dispatcher ??= {}).HeartbeatPeriod = toNanos(v['dispatcher-heartbeat'] as number);
  if (has('cert-expiry')) (spec.CAConfig ??= {}).NodeCertExpiry = toNanos(v['cert-expiry'] as number);
  if (has('snapshot-interval')) (spec.Raft ??= {}).SnapshotInterval = v['snapshot-interval'] as number;
  if (has('max-snapshots')) (spec.Raft ??= {}).KeepOldSnapshots = v['max-snapshots'] as number;
  return spec;
}

function checkAvailability(v: string): string {
  const a = v.toLowerCase();
  if (!['active', 'pause', 'drain'].includes(a)) throw new StatusError(`invalid availability "${v}", only active, pause and drain are supported`, 1);
  return a;
}

/** The manager address to join: this node's entry in RemoteManagers, else NodeAddr on the swarm port. */
async function managerAddr(ctx: CommandContext): Promise<string> {
  const info = await ctx.client().call<{ Swarm?: InfoSwarm }>('GET', '/info');
  const sw = info?.Swarm ?? {};
  const mine = (sw.RemoteManagers ?? []).find((m) => m.NodeID === sw.NodeID);
  if (mine?.Addr) return mine.Addr;
  return `${sw.NodeAddr ?? ''}:2377`;
}

/** "To add a worker to this swarm, ..." with the command to run. */
async function joinHint(ctx: CommandContext, role: 'worker' | 'manager', token: string): Promise<string> {
  const addr = await managerAddr(ctx);
  return `To add a ${role} to this swarm, run the following command:\n\n    ${ctx.prog} swarm join --token ${token} ${addr}\n\n`;
}

// ---------------------------------------------------------------- init

export const swarmInit: CommandSpec = {
  usage: '[OPTIONS]',
  summary: 'Initialize a swarm',
  args: { max: 0 },
  flags: [
    strFlag('advertise-addr', addrHelp),
    boolFlag('autolock', 'Enable manager autolocking (requiring an unlock key to start a stopped manager)'),
    strFlag('availability', 'Availability of the node ("active", "pause", "drain")', undefined, 'active'),
    strFlag('data-path-addr', 'Address or interface to use for data path traffic (format: "<ip|interface>")'),
    { name: 'data-path-port', type: 'uint32', help: 'Port number to use for data path traffic (1024 - 49151). If no value is set or is set to 0, the default port (4789) is used.', parse: (v) => parseUint(v, 32), default: 0 },
    {
      name: 'default-addr-pool',
      type: 'ipNetSlice',
      help: 'default address pool in CIDR format',
      repeat: true,
      parse: (v) =>
        v.split(',').map((s) => {
          const n = parseCidr(s.trim());
          if (!n) throw new Error(`invalid string being converted to CIDR: ${s}`);
          return ipNetString(n);
        }),
    },
    { name: 'default-addr-pool-mask-length', type: 'uint32', help: 'default address pool subnet mask length', parse: (v) => parseUint(v, 32), default: 24 },
    boolFlag('force-new-cluster', 'Force create a new cluster from current state'),
    { ...strFlag('listen-addr', listenHelp, undefined, '0.0.0.0:2377'), type: 'node-addr' },
    ...specFlags,
  ],
  async run(ctx, p) {
    const v = p.values;
    const body: Record<string, unknown> = {
      ListenAddr: v['listen-addr'] as string,
      AdvertiseAddr: v['advertise-addr'] as string,
      DataPathAddr: v['data-path-addr'] as string,
      DataPathPort: v['data-path-port'] as number,
      ForceNewCluster: !!v['force-new-cluster'],
      Spec: { ...applySpecFlags({}, p), ...(v.autolock ? { EncryptionConfig: { AutoLockManagers: true } } : {}) },
      AutoLockManagers: !!v.autolock,
      Availability: checkAvailability(v.availability as string),
    };
    if (p.changed.has('default-addr-pool')) {
      body.DefaultAddrPool = (v['default-addr-pool'] as string[][]).flat();
      body.SubnetSize = v['default-addr-pool-mask-length'] as number;
    }
    const client = ctx.client();
    const nodeId = await client.call<string>('POST', '/swarm/init', { body });
    const swarm = await client.call<SwarmInfo>('GET', '/swarm');
    ctx.out(`Swarm initialized: current node (${nodeId}) is now a manager.\n\n`);
    ctx.out(await joinHint(ctx, 'worker', swarm.JoinTokens.Worker));
    ctx.out(`To add a manager to this swarm, run '${ctx.prog} swarm join-token manager' and follow the instructions.\n\n`);
    if (v.autolock) ctx.out(unlockHint(ctx, await fetchUnlockKey(ctx)));
    return 0;
  },
};

// ---------------------------------------------------------------- join

export const swarmJoin: CommandSpec = {
  usage: '[OPTIONS] HOST:PORT',
  summary: 'Join a swarm as a node and/or manager',
  args: { min: 1, max: 1 },
  flags: [
    strFlag('advertise-addr', addrHelp),
    strFlag('availability', 'Availability of the node ("active", "pause", "drain")', undefined, 'active'),
    strFlag('data-path-addr', 'Address or interface to use for data path traffic (format: "<ip|interface>")'),
    { ...strFlag('listen-addr', listenHelp, undefined, '0.0.0.0:2377'), type: 'node-addr' },
    strFlag('token', 'Token for entry into the swarm'),
  ],
  async run(ctx, p) {
    const v = p.values;
    const client = ctx.client();
    await client.call('POST', '/swarm/join', {
      body: {
        ListenAddr: v['listen-addr'] as string,
        AdvertiseAddr: v['advertise-addr'] as string,
        DataPathAddr: v['data-path-addr'] as string,
        RemoteAddrs: [p.args[0]],
        JoinToken: v.token as string,
        Availability: checkAvailability(v.availability as string),
      },
    });
    const info = await client.call<{ Swarm?: InfoSwarm }>('GET', '/info');
    ctx.out(info?.Swarm?.ControlAvailable ? 'This node joined a swarm as a manager.\n' : 'This node joined a swarm as a worker.\n');
    return 0;
  },
};

// ---------------------------------------------------------------- join-token

export const swarmJoinToken: CommandSpec = {
  usage: '[OPTIONS] (worker|manager)',
  summary: 'Manage join tokens',
  args: { min: 1, max: 1 },
  flags: [boolFlag('quiet', 'Only display token', 'q'), boolFlag('rotate', 'Rotate join token')],
  async run(ctx, p) {
    const role = p.args[0];
    if (role !== 'worker' && role !== 'manager') throw new StatusError(`unknown role ${role}`, 1);
    const client = ctx.client();
    if (p.values.rotate) {
      const s = await client.call<SwarmInfo>('GET', '/swarm');
      const flag = role === 'worker' ? 'rotateWorkerToken' : 'rotateManagerToken';
      await client.call('POST', '/swarm/update', { query: { version: String(s.Version.Index), [flag]: 'true' }, body: s.Spec });
      if (!p.values.quiet) ctx.out(`Successfully rotated ${role} join token.\n\n`);
    }
    const swarm = await client.call<SwarmInfo>('GET', '/swarm');
    const token = role === 'worker' ? swarm.JoinTokens.Worker : swarm.JoinTokens.Manager;
    if (p.values.quiet) ctx.out(`${token}\n`);
    else ctx.out(await joinHint(ctx, role, token));
    return 0;
  },
};

// ---------------------------------------------------------------- leave / update

export const swarmLeave: CommandSpec = {
  usage: '[OPTIONS]',
  summary: 'Leave the swarm',
  args: { max: 0 },
  flags: [boolFlag('force', 'Force this node to leave the swarm, ignoring warnings', 'f')],
  async run(ctx, p) {
    await ctx.client().call('POST', '/swarm/leave', { query: { force: !!p.values.force } });
    ctx.out('Node left the swarm.\n');
    return 0;
  },
};

export const swarmUpdate: CommandSpec = {
  usage: '[OPTIONS]',
  summary: 'Update the swarm',
  args: { max: 0 },
  flags: [{ name: 'autolock', type: 'bool', help: 'Change manager autolocking setting (true|false)' }, ...specFlags],
  async run(ctx, p) {
    if (p.changed.size === 0) throw new UsageError('at least one flag is required', 'args');
    const client = ctx.client();
    const s = await client.call<SwarmInfo>('GET', '/swarm');
    const spec = applySpecFlags(structuredClone(s.Spec ?? {}), p);
    const wasLocked = s.Spec?.EncryptionConfig?.AutoLockManagers === true;
    if (p.changed.has('autolock')) spec.EncryptionConfig = { ...(spec.EncryptionConfig ?? {}), AutoLockManagers: !!p.values.autolock };
    await client.call('POST', '/swarm/update', { query: { version: String(s.Version.Index) }, body: spec });
    ctx.out('Swarm updated.\n');
    // turned on: the key is printed once, as docker does
    if (spec.EncryptionConfig?.AutoLockManagers === true && !wasLocked) ctx.out(unlockHint(ctx, await fetchUnlockKey(ctx)));
    return 0;
  },
};

// ---------------------------------------------------------------- not supported

function unsupported(name: string, usage: string, summary: string, flags: FlagDef[], why: string): CommandSpec {
  return {
    usage,
    summary,
    args: { max: 0 },
    flags,
    async run(ctx) {
      throw new StatusError(`${ctx.prog} swarm ${name}: not supported: ${why}`, 1);
    },
  };
}

// ---------------------------------------------------------------- autolock

/** docker's words for the unlock key ('' prints nothing). */
function unlockHint(ctx: CommandContext, key: string): string {
  if (!key) return '';
  return (
    `To unlock a swarm manager after it restarts, run the \`${ctx.prog} swarm unlock\`\ncommand and provide the following key:\n\n    ${key}\n\n` +
    'Remember to store this key in a password manager, since without it you\nwill not be able to restart the manager.\n'
  );
}

async function fetchUnlockKey(ctx: CommandContext): Promise<string> {
  try {
    return (await ctx.client().call<{ UnlockKey: string }>('GET', '/swarm/unlockkey')).UnlockKey ?? '';
  } catch (e) {
    throw new StatusError(`could not fetch unlock key: ${(e as Error).message}`, 1);
  }
}

export const swarmUnlockKey: CommandSpec = {
  usage: '[OPTIONS]',
  summary: 'Manage the unlock key',
  args: { max: 0 },
  flags: [boolFlag('quiet', 'Only display token', 'q'), boolFlag('rotate', 'Rotate unlock key')],
  async run(ctx, p) {
    const client = ctx.client();
    if (p.values.rotate) {
      const s = await client.call<SwarmInfo>('GET', '/swarm');
      if (s.Spec?.EncryptionConfig?.AutoLockManagers !== true) throw new StatusError('cannot rotate because autolock is not turned on', 1);
      await client.call('POST', '/swarm/update', { query: { version: String(s.Version.Index), rotateManagerUnlockKey: 'true' }, body: s.Spec });
      if (!p.values.quiet) ctx.out('Successfully rotated manager unlock key.\n\n');
    }
    const key = await fetchUnlockKey(ctx);
    if (!key) throw new StatusError('no unlock key is set', 1);
    ctx.out(p.values.quiet ? `${key}\n` : unlockHint(ctx, key));
    return 0;
  },
};

export const swarmUnlock: CommandSpec = {
  usage: '',
  summary: 'Unlock swarm',
  args: { max: 0 },
  flags: [],
  async run(ctx) {
    const client = ctx.client();
    // asked only of a node that is locked, as docker does
    const info = await client.call<{ Swarm?: InfoSwarm }>('GET', '/info');
    const state = info.Swarm?.LocalNodeState;
    if (state === 'inactive') throw new StatusError('Error: This node is not part of a swarm', 1);
    if (state !== 'locked') throw new StatusError('Error: swarm is not locked', 1);
    if (ctx.stdin.isTTY) ctx.out('Enter unlock key: ');
    const key = await readLine(ctx.stdin);
    await client.call('POST', '/swarm/unlock', { body: { UnlockKey: key } });
    return 0;
  },
};

/** The first line of the input (all of it if it has no newline), without its line end. */
function readLine(input: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const done = () => {
      input.off('data', onData);
      input.off('end', done);
      input.off('error', reject);
      input.pause();
      resolve(text.split('\n')[0].trim());
    };
    const onData = (chunk: Buffer | string) => {
      text += chunk.toString();
      if (text.includes('\n')) done();
    };
    input.on('data', onData);
    input.once('end', done);
    input.once('error', reject);
  });
}
export const swarmCa = unsupported(
  'ca',
  '[OPTIONS]',
  'Display and rotate the root CA',
  [
    strFlag('ca-cert', 'Path to the PEM-formatted root CA certificate to use for the new cluster'),
    strFlag('ca-key', 'Path to the PEM-formatted root CA key to use for the new cluster'),
    durationFlag('cert-expiry', 'Validity period for node certificates (ns|us|ms|s|m|h)', '2160h0m0s'),
    boolFlag('detach', 'Exit immediately instead of waiting for the root rotation to converge', 'd'),
    { name: 'external-ca', type: 'external-ca', help: 'Specifications of one or more certificate signing endpoints', repeat: true },
    boolFlag('quiet', 'Suppress progress output', 'q'),
    boolFlag('rotate', 'Rotate the swarm CA - if no certificate or key are provided, new ones will be generated'),
  ],
  "berth's swarm CA cannot be shown or rotated",
);
