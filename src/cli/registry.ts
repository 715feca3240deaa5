/**
 * The command table: names, one-line summaries for the command list, and where
 * each command's spec lives. Modules are required only when their command runs,
 * which keeps `berth`'s start-up small.
 */
import type { CommandSpec } from './command';

export interface CommandEntry {
  /** Module under ./commands/ and the name of the exported CommandSpec. */
  module: string;
  spec: string;
  summary: string;
}

const e = (module: string, spec: string, summary: string): CommandEntry => ({ module, spec, summary });

/** Top-level commands, in the groups docker's help shows them. */
export const commonCommands: Record<string, CommandEntry> = {
  run: e('run', 'run', 'Create and run a new container from an image'),
  exec: e('exec', 'exec', 'Execute a command in a running container'),
  ps: e('ps', 'ps', 'List containers'),
  pull: e('pull', 'pull', 'Download an image from a registry'),
  push: e('push', 'push', 'Upload an image to a registry'),
  images: e('images', 'images', 'List images'),
  login: e('login', 'login', 'Authenticate to a registry'),
  logout: e('login', 'logout', 'Log out from a registry'),
  search: e('search', 'search', 'Search Docker Hub for images'),
  version: e('system', 'version', 'Show the berth version information'),
  info: e('system', 'info', 'Display system-wide information'),
};

export const otherCommands: Record<string, CommandEntry> = {
  build: e('build', 'build', 'Build an image from a Dockerfile'),
  attach: e('attach', 'attach', 'Attach local standard input, output, and error streams to a running container'),
  commit: e('changes', 'commit', "Create a new image from a container's changes"),
  cp: e('cp', 'cp', 'Copy files/folders between a container and the local filesystem'),
  create: e('run', 'create', 'Create a new container'),
  dashboard: e('dashboard', 'dashboard', 'Print a one-time login link to the web dashboard'),
  diff: e('changes', 'diff', "Inspect changes to files or directories on a container's filesystem"),
  events: e('events', 'events', 'Get real time events from the server'),
  export: e('changes', 'exportContainer', "Export a container's filesystem as a tar archive"),
  history: e('history', 'history', 'Show the history of an image'),
  import: e('import', 'importImage', 'Import the contents from a tarball to create a filesystem image'),
  inspect: e('inspect', 'inspect', 'Return low-level information on berth objects'),
  kill: e('lifecycle', 'kill', 'Kill one or more running containers'),
  load: e('archive', 'load', 'Load an image from a tar archive or STDIN'),
  logs: e('logs', 'logs', 'Fetch the logs of a container'),
  pause: e('changes', 'pause', 'Pause all processes within one or more containers'),
  port: e('port', 'port', 'List port mappings or a specific mapping for the container'),
  rename: e('rename', 'rename', 'Rename a container'),
  restart: e('lifecycle', 'restart', 'Restart one or more containers'),
  rm: e('lifecycle', 'rm', 'Remove one or more containers'),
  rmi: e('images', 'rmi', 'Remove one or more images'),
  save: e('archive', 'save', 'Save one or more images to a tar archive (streamed to STDOUT by default)'),
  start: e('lifecycle', 'start', 'Start one or more stopped containers'),
  stats: e('stats', 'stats', 'Display a live stream of container(s) resource usage statistics'),
  stop: e('lifecycle', 'stop', 'Stop one or more running containers'),
  tag: e('images', 'tag', 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE'),
  top: e('top', 'top', 'Display the running processes of a container'),
  unpause: e('changes', 'unpause', 'Unpause all processes within one or more containers'),
  update: e('update', 'update', 'Update configuration of one or more containers'),
  wait: e('lifecycle', 'wait', 'Block until one or more containers stop, then print their exit codes'),
};

export interface GroupEntry {
  summary: string;
  subcommands: Record<string, CommandEntry>;
  /** Other names of a subcommand (not listed in help): ps → ls. */
  aliases: Record<string, string>;
}

export const groups: Record<string, GroupEntry> = {
  checkpoint: {
    summary: 'Manage checkpoints',
    subcommands: {
      create: e('checkpoint', 'checkpointCreate', 'Create a checkpoint from a running container'),
      ls: e('checkpoint', 'checkpointLs', 'List checkpoints for a container'),
      rm: e('checkpoint', 'checkpointRm', 'Remove a checkpoint'),
    },
    aliases: { list: 'ls', remove: 'rm' },
  },
  builder: {
    summary: 'Manage builds',
    subcommands: {
      build: otherCommands.build,
      prune: e('prune', 'builderPrune', 'Remove build cache'),
    },
    aliases: {},
  },
  config: {
    summary: 'Manage Swarm configs',
    subcommands: {
      create: e('secret', 'configCreate', 'Create a config from a file or STDIN'),
      inspect: e('secret', 'configInspect', 'Display detailed information on one or more configs'),
      ls: e('secret', 'configLs', 'List configs'),
      rm: e('secret', 'configRm', 'Remove one or more configs'),
    },
    aliases: { list: 'ls', remove: 'rm' },
  },
  context: {
    summary: 'Manage contexts',
    subcommands: {
      create: e('context', 'contextCreate', 'Create a context'),
      export: e('context', 'contextExport', 'Export a context to a tar archive FILE or a tar stream on STDOUT.'),
      import: e('context', 'contextImport', 'Import a context from a tar or zip file'),
      inspect: e('context', 'contextInspect', 'Display detailed information on one or more contexts'),
      ls: e('context', 'contextLs', 'List contexts'),
      rm: e('context', 'contextRm', 'Remove one or more contexts'),
      show: e('context', 'contextShow', 'Print the name of the current context'),
      update: e('context', 'contextUpdate', 'Update a context'),
      use: e('context', 'contextUse', 'Set the current docker context'),
    },
    aliases: { list: 'ls', remove: 'rm' },
  },
  container: {
    summary: 'Manage containers',
    subcommands: {
      attach: otherCommands.attach,
      create: otherCommands.create,
      commit: otherCommands.commit,
      cp: otherCommands.cp,
      diff: otherCommands.diff,
      exec: commonCommands.exec,
      export: otherCommands.export,
      pause: otherCommands.pause,
      unpause: otherCommands.unpause,
      inspect: e('inspect', 'containerInspect', 'Display detailed information on one or more containers'),
      kill: otherCommands.kill,
      logs: otherCommands.logs,
      ls: commonCommands.ps,
      move: e('move', 'move', 'Move a container to another daemon'),
      port: otherCommands.port,
      prune: e('prune', 'containerPrune', 'Remove all stopped containers'),
      rename: otherCommands.rename,
      restart: otherCommands.restart,
      rm: otherCommands.rm,
      run: commonCommands.run,
      start: otherCommands.start,
      stats: otherCommands.stats,
      stop: otherCommands.stop,
      top: otherCommands.top,
      update: otherCommands.update,
      wait: otherCommands.wait,
    },
    aliases: { ps: 'ls', list: 'ls', remove: 'rm' },
  },
  image: {
    summary: 'Manage images',
    subcommands: {
      build: otherCommands.build,
      history: otherCommands.history,
      import: otherCommands.import,
      inspect: e('inspect', 'imageInspect', 'Display detailed information on one or more images'),
      load: otherCommands.load,
      ls: commonCommands.images,
      prune: e('prune', 'imagePrune', 'Remove unused images'),
      pull: commonCommands.pull,
      push: commonCommands.push,
      rm: otherCommands.rmi,
      save: otherCommands.save,
      tag: otherCommands.tag,
    },
    aliases: { list: 'ls', remove: 'rm' },
  },
  network: {
    summary: 'Manage networks',
    subcommands: {
      connect: e('network', 'networkConnect', 'Connect a container to a network'),
      create: e('network', 'networkCreate', 'Create a network'),
      disconnect: e('network', 'networkDisconnect', 'Disconnect a container from a network'),
      inspect: e('inspect', 'networkInspect', 'Display detailed information on one or more networks'),
      ls: e('network', 'networkLs', 'List networks'),
      prune: e('network', 'networkPrune', 'Remove all unused networks'),
      rm: e('network', 'networkRm', 'Remove one or more networks'),
    },
    aliases: { list: 'ls', remove: 'rm' },
  },
  node: {
    summary: 'Manage Swarm nodes',
    subcommands: {
      demote: e('node', 'nodeDemote', 'Demote one or more nodes from manager in the swarm'),
      inspect: e('node', 'nodeInspect', 'Display detailed information on one or more nodes'),
      promote: e('node', 'nodePromote', 'Promote one or more nodes to manager in the swarm'),
      ls: e('node', 'nodeLs', 'List nodes in the swarm'),
      ps: e('node', 'nodePs', 'List tasks running on one or more nodes, defaults to current node'),
      rm: e('node', 'nodeRm', 'Remove one or more nodes from the swarm'),
      update: e('node', 'nodeUpdate', 'Update a node'),
    },
    aliases: { list: 'ls', remove: 'rm' },
  },
  secret: {
    summary: 'Manage Swarm secrets',
    subcommands: {
      create: e('secret', 'secretCreate', 'Create a secret from a file or STDIN as content'),
      inspect: e('secret', 'secretInspect', 'Display detailed information on one or more secrets'),
      ls: e('secret', 'secretLs', 'List secrets'),
      rm: e('secret', 'secretRm', 'Remove one or more secrets'),
    },
    aliases: { list: 'ls', remove: 'rm' },
  },
  service: {
    summary: 'Manage Swarm services',
    subcommands: {
      create: e('service', 'serviceCreate', 'Create a new service'),
      inspect: e('service', 'serviceInspect', 'Display detailed information on one or more services'),
      logs: e('service', 'serviceLogs', 'Fetch the logs of a service or task'),
      ls: e('service', 'serviceLs', 'List services'),
      ps: e('service', 'servicePs', 'List the tasks of one or more services'),
      rm: e('service', 'serviceRm', 'Remove one or more services'),
      rollback: e('service', 'serviceRollback', "Revert changes to a service's configuration"),
      scale: e('service', 'serviceScale', 'Scale one or multiple replicated services'),
      update: e('service', 'serviceUpdate', 'Update a service'),
    },
    aliases: { list: 'ls', remove: 'rm' },
  },
  swarm: {
    summary: 'Manage Swarm',
    subcommands: {
      init: e('swarm', 'swarmInit', 'Initialize a swarm'),
      join: e('swarm', 'swarmJoin', 'Join a swarm as a node and/or manager'),
      'join-token': e('swarm', 'swarmJoinToken', 'Manage join tokens'),
      leave: e('swarm', 'swarmLeave', 'Leave the swarm'),
      update: e('swarm', 'swarmUpdate', 'Update the swarm'),
      ca: e('swarm', 'swarmCa', 'Display and rotate the root CA'),
      unlock: e('swarm', 'swarmUnlock', 'Unlock swarm'),
      'unlock-key': e('swarm', 'swarmUnlockKey', 'Manage the unlock key'),
    },
    aliases: {},
  },
  store: {
    summary: 'Buy and sell images in a berth-registry store',
    subcommands: {
      buy: e('store', 'storeBuy', 'Buy a product on one of its plans'),
      events: e('store', 'storeEvents', 'Purchases, price changes and new versions of what you bought'),
      'mark-paid': e('store', 'storeMarkPaid', 'Mark invoices paid (vendor)'),
      publish: e('store', 'storePublish', 'Publish a repository as a product (vendor)'),
      purchases: e('store', 'storePurchases', 'List what you bought'),
      refund: e('store', 'storeRefund', 'Refund purchases, ending their entitlement (vendor)'),
      revoke: e('store', 'storeRevoke', 'Revoke purchases without a refund (vendor)'),
      sales: e('store', 'storeSales', "A vendor's sales and revenue (vendor)"),
      search: e('store', 'storeSearch', "Search the store's catalogue"),
      show: e('store', 'storeShow', 'Show a product'),
      upgrade: e('store', 'storeUpgrade', 'Pull the newest version and re-create your containers of it'),
      vendor: e('store', 'storeVendor', 'Create a vendor, add members, show it'),
    },
    aliases: {},
  },
  system: {
    summary: 'Manage berth',
    subcommands: {
      certs: e('certs', 'certs', 'Create a CA, a server and a client certificate for TLS'),
      df: e('df', 'systemDf', 'Show berth disk usage'),
      'dial-stdio': e('dial-stdio', 'dialStdio', 'Proxy the stdio stream to the daemon connection'),
      events: otherCommands.events,
      info: commonCommands.info,
      prune: e('prune', 'systemPrune', 'Remove unused data'),
    },
    aliases: {},
  },
  volume: {
    summary: 'Manage volumes',
    subcommands: {
      create: e('volume', 'volumeCreate', 'Create a volume'),
      inspect: e('inspect', 'volumeInspect', 'Display detailed information on one or more volumes'),
      ls: e('volume', 'volumeLs', 'List volumes'),
      prune: e('prune', 'volumePrune', 'Remove unused local volumes'),
      rm: e('volume', 'volumeRm', 'Remove one or more volumes'),
    },
    aliases: { list: 'ls', remove: 'rm' },
  },
};

/**
 * Where each command module is. Every require names its file literally, so a
 * bundler (bun build --compile) sees and includes them all, while Node still
 * loads only the one the command needs.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
const commandModules: Record<string, () => Record<string, CommandSpec>> = {
  archive: () => require('./commands/archive'),
  attach: () => require('./commands/attach'),
  build: () => require('./commands/build'),
  certs: () => require('./commands/certs'),
  context: () => require('./commands/context'),
  'dial-stdio': () => require('./commands/dial-stdio'),
  changes: () => require('./commands/changes'),
  checkpoint: () => require('./commands/checkpoint'),
  cp: () => require('./commands/cp'),
  dashboard: () => require('./commands/dashboard'),
  df: () => require('./commands/df'),
  events: () => require('./commands/events'),
  exec: () => require('./commands/exec'),
  history: () => require('./commands/history'),
  images: () => require('./commands/images'),
  import: () => require('./commands/import'),
  inspect: () => require('./commands/inspect'),
  lifecycle: () => require('./commands/lifecycle'),
  login: () => require('./commands/login'),
  logs: () => require('./commands/logs'),
  move: () => require('./commands/move'),
  network: () => require('./commands/network'),
  node: () => require('./commands/node'),
  port: () => require('./commands/port'),
  prune: () => require('./commands/prune'),
  ps: () => require('./commands/ps'),
  pull: () => require('./commands/pull'),
  push: () => require('./commands/push'),
  rename: () => require('./commands/rename'),
  run: () => require('./commands/run'),
  search: () => require('./commands/search'),
  secret: () => require('./commands/secret'),
  service: () => require('./commands/service'),
  stats: () => require('./commands/stats'),
  store: () => require('./commands/store'),
  swarm: () => require('./commands/swarm'),
  system: () => require('./commands/system'),
  top: () => require('./commands/top'),
  update: () => require('./commands/update'),
  volume: () => require('./commands/volume'),
};
/* eslint-enable @typescript-eslint/no-require-imports */

export function loadSpec(entry: CommandEntry): CommandSpec {
  const load = commandModules[entry.module];
  if (!load) throw new Error(`berth: no command module ${entry.module}`);
  return load()[entry.spec];
}

function listing(entries: Record<string, { summary: string }>): string {
  const names = Object.keys(entries);
  const width = Math.max(...names.map((n) => n.length), 10);
  return names.map((n) => `  ${n.padEnd(width)}  ${entries[n].summary}`).join('\n');
}

export function mainHelp(prog: string): string {
  return `Usage:  ${prog} [OPTIONS] COMMAND

A self-sufficient runtime for containers

Common Commands:
${listing(commonCommands)}

Management Commands:
${listing(groups)}

Commands:
${listing(otherCommands)}

Global Options:
      --config string      Location of client config files
  -c, --context string     Name of the context to use to connect to the daemon
  -D, --debug              Enable debug mode
  -H, --host list          Daemon socket to connect to (unix://, tcp://, ssh://user@host)
  -l, --log-level string   Set the logging level ("debug", "info", "warn", "error", "fatal") (default "info")
      --tls                Use TLS; implied by --tlsverify
      --tlscacert string   Trust certs signed only by this CA (default "$DOCKER_CERT_PATH/ca.pem")
      --tlscert string     Path to TLS certificate file (default "$DOCKER_CERT_PATH/cert.pem")
      --tlskey string      Path to TLS key file (default "$DOCKER_CERT_PATH/key.pem")
      --tlsverify          Use TLS and verify the remote (or DOCKER_TLS_VERIFY)
  -v, --version            Print version information and quit

The daemon is chosen by -H, else --context, else BERTH_HOST or DOCKER_HOST, else DOCKER_CONTEXT,
else the current context (berth context use; shared with the docker CLI, in $DOCKER_CONFIG or
~/.docker), else unix:///run/berth/berth.sock.

Run '${prog} COMMAND --help' for more information on a command.
`;
}

export function groupHelp(prog: string, name: string, g: GroupEntry): string {
  return `Usage:  ${prog} ${name} COMMAND\n\n${g.summary}\n\nCommands:\n${listing(g.subcommands)}\n\nRun '${prog} ${name} COMMAND --help' for more information on a command.\n`;
}
