/** `berth version` and `berth info`. */
import type { CommandContext, CommandSpec } from '../command';
import { API_VERSION } from '../../client/engine';
import { Template, TemplateError } from '../template';
import { StatusError } from '../errors';
import { bytesSize } from '../../common/units';
import { describeError } from './shared';
import { CLI_VERSION, cliRuntime } from '../build-info';

function goArch(): string {
  return ({ x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' } as Record<string, string>)[process.arch] ?? process.arch;
}

function renderFormat(format: string, data: unknown): string {
  try {
    return new Template(format.replace(/\\t/g, '\t').replace(/\\n/g, '\n')).execute(data) + '\n';
  } catch (e) {
    if (e instanceof TemplateError) throw new StatusError(e.phase === 'parse' ? `template parsing error: ${e.message}` : `failed to execute template: ${e.message}`, 1);
    throw e;
  }
}

const formatFlag = {
  name: 'format',
  short: 'f',
  type: 'string',
  default: '',
  help: "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates",
};

interface VersionInfo {
  Platform?: { Name?: string };
  Components?: { Name: string; Version: string; Details?: Record<string, string> }[];
  Version?: string;
  ApiVersion?: string;
  MinAPIVersion?: string;
  GitCommit?: string;
  GoVersion?: string;
  Os?: string;
  Arch?: string;
  KernelVersion?: string;
  Experimental?: boolean;
  BuildTime?: string;
}

function row(indent: string, key: string, value: unknown, width: number): string {
  return `${indent}${(key + ':').padEnd(width)}${value ?? ''}\n`;
}

function serverSection(v: VersionInfo): string {
  let s = `Server:${v.Platform?.Name ? ' ' + v.Platform.Name : ''}\n`;
  const components = v.Components?.length ? v.Components : [{ Name: 'Engine', Version: v.Version ?? '', Details: {} }];
  for (const c of components) {
    s += ` ${c.Name}:\n`;
    if (c.Name === 'Engine') {
      const d = c.Details ?? {};
      s += row('  ', 'Version', c.Version, 18);
      s += row('  ', 'API version', `${d.ApiVersion ?? v.ApiVersion ?? ''} (minimum version ${d.MinAPIVersion ?? v.MinAPIVersion ?? ''})`, 18);
      if (d.GoVersion ?? v.GoVersion) s += row('  ', 'Go version', d.GoVersion ?? v.GoVersion, 18);
      if (d.NodeVersion) s += row('  ', 'Node version', d.NodeVersion, 18);
      s += row('  ', 'Git commit', d.GitCommit ?? v.GitCommit, 18);
      s += row('  ', 'Built', d.BuildTime ?? v.BuildTime, 18);
      s += row('  ', 'OS/Arch', `${d.Os ?? v.Os ?? ''}/${d.Arch ?? v.Arch ?? ''}`, 18);
      s += row('  ', 'Experimental', d.Experimental ?? String(v.Experimental ?? false), 18);
    } else {
      s += row('  ', 'Version', c.Version, 18);
      for (const k of Object.keys(c.Details ?? {}).sort()) s += row('  ', k, c.Details![k], 18);
    }
  }
  return s;
}

export const version: CommandSpec = {
  usage: '[OPTIONS]',
  summary: 'Show the berth version information',
  args: { max: 0 },
  flags: [formatFlag],
  async run(ctx, p) {
    const runtime = cliRuntime();
    const client = {
      Version: CLI_VERSION,
      ApiVersion: API_VERSION,
      DefaultAPIVersion: API_VERSION,
      Runtime: `${runtime.name} ${runtime.version}`,
      Os: process.platform,
      Arch: goArch(),
      Context: ctx.contextName,
    };
    const format = p.values.format as string;
    let server: VersionInfo | undefined;
    let serverErr: unknown;
    try {
      server = await ctx.client().call<VersionInfo>('GET', '/version');
    } catch (e) {
      serverErr = e;
    }
    // an older daemon: the version the client went down to, as the docker CLI shows it
    const spoken = server ? ctx.client().apiVersion : null;
    if (spoken && spoken !== API_VERSION) client.ApiVersion = spoken;
    if (format) {
      ctx.out(renderFormat(format === 'json' ? '{{json .}}' : format, { Client: client, Server: server ?? null }));
    } else {
      ctx.out(
        'Client:\n' +
          row(' ', 'Version', client.Version, 19) +
          row(' ', 'API version', client.ApiVersion === API_VERSION ? client.ApiVersion : `${client.ApiVersion} (downgraded from ${API_VERSION})`, 19) +
          row(' ', 'Runtime', client.Runtime, 19) +
          row(' ', 'OS/Arch', `${client.Os}/${client.Arch}`, 19) +
          row(' ', 'Context', client.Context, 19),
      );
      if (server) ctx.out('\n' + serverSection(server));
    }
    if (serverErr) {
      ctx.err(`${describeError(serverErr)}\n`);
      return 1;
    }
    return 0;
  },
};

type Info = Record<string, unknown> & {
  Containers?: number;
  ContainersRunning?: number;
  ContainersPaused?: number;
  ContainersStopped?: number;
  Images?: number;
  Runtimes?: Record<string, unknown>;
  SecurityOptions?: string[];
  Plugins?: { Volume?: string[]; Network?: string[]; Log?: string[] };
  Swarm?: { LocalNodeState?: string };
  DriverStatus?: [string, string][] | null;
  RegistryConfig?: { InsecureRegistryCIDRs?: string[]; IndexConfigs?: Record<string, { Secure?: boolean }> };
  Labels?: string[];
  Warnings?: string[] | null;
};

function infoText(i: Info): string {
  const lines: string[] = [];
  const add = (k: string, v: unknown) => lines.push(` ${k}: ${v ?? ''}`);
  add('Containers', i.Containers ?? 0);
  lines.push(`  Running: ${i.ContainersRunning ?? 0}`, `  Paused: ${i.ContainersPaused ?? 0}`, `  Stopped: ${i.ContainersStopped ?? 0}`);
  add('Images', i.Images ?? 0);
  add('Server Version', i.ServerVersion);
  add('Storage Driver', i.Driver);
  for (const [k, v] of i.DriverStatus ?? []) lines.push(`  ${k}: ${v}`);
  add('Logging Driver', i.LoggingDriver);
  add('Cgroup Driver', i.CgroupDriver);
  add('Cgroup Version', i.CgroupVersion);
  if (i.Plugins) {
    lines.push(' Plugins:');
    lines.push(`  Volume: ${(i.Plugins.Volume ?? []).join(' ')}`, `  Network: ${(i.Plugins.Network ?? []).join(' ')}`, `  Log: ${(i.Plugins.Log ?? []).join(' ')}`);
  }
  add('Swarm', i.Swarm?.LocalNodeState ?? 'inactive');
  add('Runtimes', Object.keys(i.Runtimes ?? {}).join(' '));
  add('Default Runtime', i.DefaultRuntime);
  add('Init Binary', i.InitBinary);
  if (i.SecurityOptions?.length) {
    lines.push(' Security Options:');
    for (const o of i.SecurityOptions) {
      const parts = o.split(',');
      lines.push(`  ${(parts[0] ?? '').replace(/^name=/, '')}`);
      for (const extra of parts.slice(1)) {
        const [k, v] = extra.split('=');
        lines.push(`   ${k[0].toUpperCase()}${k.slice(1)}: ${v}`);
      }
    }
  }
  add('Kernel Version', i.KernelVersion);
  add('Operating System', i.OperatingSystem);
  add('OSType', i.OSType);
  add('Architecture', i.Architecture);
  add('CPUs', i.NCPU);
  add('Total Memory', bytesSize(Number(i.MemTotal ?? 0)));
  add('Name', i.Name);
  add('ID', i.ID);
  add('Docker Root Dir', i.DockerRootDir);
  add('Debug Mode', i.Debug ?? false);
  if (i.Labels?.length) {
    lines.push(' Labels:');
    for (const l of i.Labels) lines.push(`  ${l}`);
  }
  add('Experimental', i.ExperimentalBuild ?? false);
  const insecure = i.RegistryConfig?.InsecureRegistryCIDRs ?? [];
  lines.push(' Insecure Registries:');
  for (const [name, cfg] of Object.entries(i.RegistryConfig?.IndexConfigs ?? {})) if (cfg.Secure === false) lines.push(`  ${name}`);
  for (const c of insecure) lines.push(`  ${c}`);
  add('Live Restore Enabled', i.LiveRestoreEnabled ?? false);
  return lines.join('\n') + '\n';
}

async function printInfo(ctx: CommandContext, format: string): Promise<number> {
  let info: Info | undefined;
  let serverErr: unknown;
  try {
    info = await ctx.client().call<Info>('GET', '/info');
  } catch (e) {
    serverErr = e;
  }
  const clientInfo = { Version: CLI_VERSION, Context: ctx.contextName, Debug: false };
  if (format) {
    if (serverErr) {
      ctx.err(`${describeError(serverErr)}\n`);
      return 1;
    }
    ctx.out(renderFormat(format === 'json' ? '{{json .}}' : format, { ...info, ClientInfo: clientInfo }));
    return 0;
  }
  ctx.out(`Client:\n Version:    ${clientInfo.Version}\n Context:    ${clientInfo.Context}\n Debug Mode: false\n\nServer:\n`);
  if (serverErr) {
    ctx.err(`${describeError(serverErr)}\n`);
    return 1;
  }
  ctx.out(infoText(info!));
  for (const w of info!.Warnings ?? []) ctx.err(`${w}\n`);
  return 0;
}

export const info: CommandSpec = {
  usage: '[OPTIONS]',
  summary: 'Display system-wide information',
  aliases: ['system info', 'info'],
  args: { max: 0 },
  flags: [formatFlag],
  run: (ctx, p) => printInfo(ctx, p.values.format as string),
};
