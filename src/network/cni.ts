import { execFile } from 'node:child_process';
import { system } from '../common/errors';

/**
 * Runs CNI plugin chains (a network configuration list) the way libcni does: each plugin
 * of the list is executed with the CNI_* environment and its configuration on stdin, gets
 * the previous plugin's result as `prevResult`, and the capabilities it declares filled in
 * from the runtime's arguments (`runtimeConfig`). DEL runs the list backwards with the
 * result ADD returned.
 */
export const CNI_VERSION = '1.0.0';
export const DEFAULT_CNI_PATH = '/usr/lib/cni';

export interface CniPluginConf {
  type: string;
  capabilities?: Record<string, boolean>;
  [key: string]: unknown;
}

export interface CniConfList {
  cniVersion: string;
  name: string;
  plugins: CniPluginConf[];
}

export interface CniResult {
  cniVersion?: string;
  interfaces?: { name: string; mac?: string; sandbox?: string }[];
  ips?: { interface?: number; address: string; gateway?: string }[];
  routes?: { dst: string; gw?: string }[];
  dns?: Record<string, unknown>;
}

export interface CniRuntime {
  containerId: string;
  netns: string;
  ifName: string;
  /** by capability name: portMappings, ips, mac ... */
  capabilityArgs?: Record<string, unknown>;
}

export class CniError extends Error {
  constructor(
    readonly plugin: string,
    readonly code: number | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'CniError';
  }
}

function execPlugin(cniPath: string, plugin: string, command: 'ADD' | 'DEL' | 'CHECK', rt: CniRuntime, stdin: string): Promise<string> {
  const env = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: command,
    CNI_CONTAINERID: rt.containerId,
    CNI_NETNS: rt.netns,
    CNI_IFNAME: rt.ifName,
    CNI_PATH: cniPath,
  };
  return new Promise((resolve, reject) => {
    const child = execFile(`${cniPath}/${plugin}`, [], { env, timeout: 30_000, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      // Plugins report failures as a JSON error object on stdout.
      let msg = (stderr || '').trim() || err.message;
      let code: number | undefined;
      try {
        const doc = JSON.parse(stdout) as { code?: number; msg?: string; details?: string };
        if (doc.msg) msg = doc.details ? `${doc.msg}: ${doc.details}` : doc.msg;
        code = doc.code;
      } catch {
        // not JSON: keep stderr
      }
      reject(new CniError(plugin, code, `plugin type="${plugin}" failed (${command.toLowerCase()}): ${msg}`));
    });
    child.stdin?.end(stdin);
  });
}

function pluginConfig(list: CniConfList, plugin: CniPluginConf, rt: CniRuntime, prevResult: CniResult | undefined): string {
  const conf: Record<string, unknown> = { ...plugin, cniVersion: list.cniVersion, name: list.name };
  if (prevResult) conf.prevResult = prevResult;
  const runtimeConfig: Record<string, unknown> = {};
  for (const [cap, on] of Object.entries(plugin.capabilities ?? {})) {
    if (on && rt.capabilityArgs?.[cap] !== undefined) runtimeConfig[cap] = rt.capabilityArgs[cap];
  }
  if (Object.keys(runtimeConfig).length) conf.runtimeConfig = runtimeConfig;
  delete conf.capabilities;
  return JSON.stringify(conf);
}

export async function cniAdd(list: CniConfList, rt: CniRuntime, cniPath = DEFAULT_CNI_PATH): Promise<CniResult> {
  let result: CniResult | undefined;
  for (const plugin of list.plugins) {
    const out = await execPlugin(cniPath, plugin.type, 'ADD', rt, pluginConfig(list, plugin, rt, result));
    try {
      result = JSON.parse(out) as CniResult;
    } catch {
      throw system(`plugin type="${plugin.type}" returned something that is not JSON`);
    }
  }
  return result ?? {};
}

/** Tears down in reverse order; every plugin runs even when one fails, the first error is thrown. */
export async function cniDel(list: CniConfList, rt: CniRuntime, prevResult: CniResult | undefined, cniPath = DEFAULT_CNI_PATH): Promise<void> {
  let first: unknown;
  for (const plugin of [...list.plugins].reverse()) {
    try {
      await execPlugin(cniPath, plugin.type, 'DEL', rt, pluginConfig(list, plugin, rt, prevResult));
    } catch (e) {
      first ??= e;
    }
  }
  if (first) throw first;
}
