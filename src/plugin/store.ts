import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { BerthError, conflict, invalid, notFound } from '../common/errors';
import { readJSON, writeJSONAtomic } from '../common/fsutil';
import { extractTar } from '../archive/extract';
import { ScopedFS } from '../archive/scoped-fs';
import { familiarString, parseReference, withDefaultTag } from '../image/reference';
import { parsePluginConfig, type PluginConfig, type PluginDevice, type PluginMount } from './config';

/**
 * Managed (v2) plugins, as far as berthd keeps them: `<root>/<id>/plugin.json` (the API's
 * Plugin object) beside `<root>/<id>/rootfs` (the plugin's files). berthd does not run a
 * plugin's process: enabling one marks it enabled and nothing else, so an enabled plugin
 * gives containers no volume or network driver. What the Engine API's plugin routes answer
 * (create, list, inspect, enable, disable, set, remove) is kept as Docker keeps it.
 */
export interface PluginRecord {
  Id: string;
  Name: string;
  Enabled: boolean;
  Settings: { Mounts: PluginMount[]; Env: string[]; Args: string[]; Devices: PluginDevice[] };
  PluginReference?: string;
  Config: PluginConfig;
}

/** `vieux/sshfs` → `vieux/sshfs:latest`, as Docker names plugins; digests are refused as Docker does. */
export function normalizePluginName(name: string): string {
  let ref;
  try {
    ref = parseReference(name);
  } catch (e) {
    throw invalid(`failed to parse reference ${name}: ${(e as Error).message}`);
  }
  if (ref.digest) throw invalid('canonical references are not permitted');
  return familiarString(withDefaultTag(ref));
}

const ID = /^[0-9a-f]{64}$/;

export class PluginStore {
  private readonly plugins = new Map<string, PluginRecord>();
  /** names being created right now: a second create of the same name is refused at once */
  private readonly creating = new Set<string>();

  private constructor(readonly root: string) {}

  static async open(root: string): Promise<PluginStore> {
    const s = new PluginStore(root);
    await fsp.mkdir(root, { recursive: true, mode: 0o700 });
    for (const id of await fsp.readdir(root)) {
      if (!ID.test(id)) {
        // what a create left half done when the daemon stopped
        if (id.startsWith('.create-')) await fsp.rm(path.join(root, id), { recursive: true, force: true });
        continue;
      }
      const rec = await readJSON<PluginRecord>(path.join(root, id, 'plugin.json')).catch(() => undefined);
      if (rec?.Id === id) s.plugins.set(id, rec);
    }
    return s;
  }

  list(): PluginRecord[] {
    return [...this.plugins.values()].sort((a, b) => a.Name.localeCompare(b.Name));
  }

  /** By name (`:latest` implied) or by a prefix of its ID, as Docker looks plugins up. */
  get(refOrID: string): PluginRecord {
    let name: string | undefined;
    try {
      name = normalizePluginName(refOrID);
    } catch {
      name = undefined;
    }
    if (name) {
      for (const p of this.plugins.values()) if (p.Name === name) return p;
    }
    if (/^[0-9a-f]+$/.test(refOrID)) {
      const found = [...this.plugins.values()].filter((p) => p.Id.startsWith(refOrID));
      if (found.length > 1) throw invalid(`multiple plugins found for "${refOrID}"`);
      if (found.length === 1) return found[0];
    }
    throw notFound(`plugin "${refOrID}" not found`);
  }

  find(refOrID: string): PluginRecord | undefined {
    try {
      return this.get(refOrID);
    } catch (e) {
      if (e instanceof BerthError && e.code === 'NOT_FOUND') return undefined;
      throw e;
    }
  }

  private exists(name: string): boolean {
    return this.creating.has(name) || [...this.plugins.values()].some((p) => p.Name === name);
  }

  /** `POST /plugins/create`: a tar of a plugin directory, `config.json` and `rootfs/`. */
  async create(rawName: string, tar: Readable): Promise<PluginRecord> {
    const name = normalizePluginName(rawName);
    if (this.exists(name)) throw conflict(`plugin ${name} already exists`);
    this.creating.add(name);
    const id = randomBytes(32).toString('hex');
    const work = path.join(this.root, `.create-${id}`);
    try {
      await fsp.mkdir(work, { mode: 0o700 });
      const sfs = ScopedFS.open(work, [], 'refuse');
      try {
        await extractTar(sfs, sfs.rootLocation(), tar, { noOverwriteDirNonDir: false, owner: 'header' });
      } finally {
        sfs.close();
      }
      const text = await fsp.readFile(path.join(work, 'config.json'), 'utf8').catch(() => undefined);
      if (text === undefined) throw invalid('config not found');
      const config = parsePluginConfig(text);
      await fsp.rm(path.join(work, 'config.json'));
      await fsp.mkdir(path.join(work, 'rootfs'), { recursive: true });
      const rec: PluginRecord = {
        Id: id,
        Name: name,
        Enabled: false,
        Settings: {
          Mounts: config.Mounts ?? [],
          Env: (config.Env ?? []).map((e) => `${e.Name}=${e.Value}`),
          Args: config.Args.Value ?? [],
          Devices: config.Linux.Devices ?? [],
        },
        Config: config,
      };
      await writeJSONAtomic(path.join(work, 'plugin.json'), rec);
      await fsp.rename(work, path.join(this.root, id));
      this.plugins.set(id, rec);
      return rec;
    } catch (e) {
      await fsp.rm(work, { recursive: true, force: true });
      throw e;
    } finally {
      this.creating.delete(name);
    }
  }

  /** Marks the plugin enabled; its process is not started (see the class comment). */
  async enable(refOrID: string): Promise<PluginRecord> {
    const p = this.get(refOrID);
    if (p.Enabled) throw conflict(`plugin already enabled: plugin ${p.Name} is enabled`);
    p.Enabled = true;
    await this.save(p);
    return p;
  }

  async disable(refOrID: string): Promise<PluginRecord> {
    const p = this.get(refOrID);
    if (!p.Enabled) throw conflict(`plugin is already disabled: plugin ${p.Name} found but disabled`);
    p.Enabled = false;
    await this.save(p);
    return p;
  }

  async remove(refOrID: string, force: boolean): Promise<PluginRecord> {
    const p = this.get(refOrID);
    if (p.Enabled && !force) throw conflict(`plugin ${p.Name} is enabled`);
    this.plugins.delete(p.Id);
    await fsp.rm(path.join(this.root, p.Id), { recursive: true, force: true });
    return p;
  }

  /**
   * `POST /plugins/{name}/set`: `NAME=value` sets an env variable, `mount.source=…` a mount's
   * source, `device.path=…` a device's path, `args=…` the arguments; only what the plugin's
   * config declares settable, and only while the plugin is disabled.
   */
  async set(refOrID: string, args: string[]): Promise<PluginRecord> {
    const p = this.get(refOrID);
    if (p.Enabled) throw conflict('cannot set on an active plugin, disable plugin before setting');
    const next = structuredClone(p.Settings);
    for (const arg of args) {
      const eq = arg.indexOf('=');
      if (eq <= 0) throw invalid(`invalid argument: ${arg}`);
      const key = arg.slice(0, eq);
      const value = arg.slice(eq + 1);
      const dot = key.indexOf('.');
      const [item, fieldName] = dot < 0 ? [key, undefined] : [key.slice(0, dot), key.slice(dot + 1)];
      const settableBy = (declared: { Settable: string[] | null }, wanted: string) => {
        if (!(declared.Settable ?? []).includes(wanted)) throw invalid(`setting "${key}" not settable: ${wanted} is not settable`);
      };
      const env = (p.Config.Env ?? []).find((e) => e.Name === item);
      if (env && (fieldName === undefined || fieldName === 'value')) {
        settableBy(env, 'value');
        next.Env = next.Env.filter((e) => !e.startsWith(`${item}=`)).concat(`${item}=${value}`);
        continue;
      }
      const mount = next.Mounts.find((m) => m.Name === item);
      if (mount && (fieldName === undefined || fieldName === 'source')) {
        settableBy(mount, 'source');
        mount.Source = value;
        continue;
      }
      const device = next.Devices.find((d) => d.Name === item);
      if (device && (fieldName === undefined || fieldName === 'path')) {
        settableBy(device, 'path');
        device.Path = value;
        continue;
      }
      if (p.Config.Args.Name !== '' && item === p.Config.Args.Name) {
        settableBy(p.Config.Args, 'value');
        next.Args = value.split(/\s+/).filter(Boolean);
        continue;
      }
      throw invalid(`setting "${item}" not found in the plugin configuration`);
    }
    p.Settings = next;
    await this.save(p);
    return p;
  }

  private async save(p: PluginRecord): Promise<void> {
    await writeJSONAtomic(path.join(this.root, p.Id, 'plugin.json'), p);
  }
}
