import { invalid } from '../common/errors';

/**
 * A plugin's config.json as the Engine API shows it (the reference's Plugin.Config). Plugin
 * authors write the keys in lower case (`entrypoint`, `interface`); Go decodes field names
 * case-insensitively, so both spellings are read here, and the API answers in Docker's.
 */
export interface PluginInterfaceType {
  Prefix: string;
  Capability: string;
  Version: string;
}

export interface PluginSettable {
  Name: string;
  Description: string;
  Settable: string[] | null;
}

export interface PluginEnv extends PluginSettable {
  Value: string;
}

export interface PluginMount extends PluginSettable {
  Source: string | null;
  Destination: string;
  Type: string;
  Options: string[] | null;
}

export interface PluginDevice extends PluginSettable {
  Path: string | null;
}

export interface PluginArgs extends PluginSettable {
  Value: string[] | null;
}

export interface PluginConfig {
  DockerVersion?: string;
  Description: string;
  Documentation: string;
  /** Types in their text form, `docker.volumedriver/1.0`: Go's PluginInterfaceType (un)marshals as that string, whatever the reference's schema says */
  Interface: { Types: string[] | null; Socket: string; ProtocolScheme?: string };
  Entrypoint: string[] | null;
  WorkDir: string;
  User: { UID?: number; GID?: number };
  Network: { Type: string };
  Linux: { Capabilities: string[] | null; AllowAllDevices: boolean; Devices: PluginDevice[] | null };
  PropagatedMount: string;
  IpcHost: boolean;
  PidHost: boolean;
  Mounts: PluginMount[] | null;
  Env: PluginEnv[] | null;
  Args: PluginArgs;
  rootfs?: { type: string; diff_ids: string[] };
}

type Loose = Record<string, unknown>;

/** The value of `key` in `o`, matched as Go's encoding/json matches field names. */
function field(o: unknown, key: string): unknown {
  if (!o || typeof o !== 'object' || Array.isArray(o)) return undefined;
  const rec = o as Loose;
  if (key in rec) return rec[key];
  const k = Object.keys(rec).find((name) => name.toLowerCase() === key.toLowerCase());
  return k === undefined ? undefined : rec[k];
}

function str(v: unknown, what: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw invalid(`failed to parse config: json: cannot unmarshal ${typeof v} into Go struct field ${what} of type string`);
  return v;
}

function bool(v: unknown): boolean {
  return v === true;
}

function strings(v: unknown, what: string): string[] | null {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v)) throw invalid(`failed to parse config: json: cannot unmarshal ${typeof v} into Go struct field ${what} of type []string`);
  return v.map((s) => str(s, what));
}

function list<T>(v: unknown, one: (item: unknown) => T): T[] | null {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v)) throw invalid('failed to parse config: expected an array');
  return v.map(one);
}

function settable(o: unknown, what: string): PluginSettable {
  return { Name: str(field(o, 'Name'), `${what}.Name`), Description: str(field(o, 'Description'), `${what}.Description`), Settable: strings(field(o, 'Settable'), `${what}.Settable`) };
}

/** `docker.volumedriver/1.0` → prefix, capability, version (Go's PluginInterfaceType text form). */
export function parseInterfaceType(t: unknown): PluginInterfaceType {
  if (t && typeof t === 'object') {
    return { Prefix: str(field(t, 'Prefix'), 'Prefix'), Capability: str(field(t, 'Capability'), 'Capability'), Version: str(field(t, 'Version'), 'Version') };
  }
  const text = str(t, 'Interface.Types');
  const slash = text.split('/');
  if (slash.length !== 2) throw invalid(`failed to parse config: "${text}" is not a plugin type`);
  const dot = slash[0].split('.');
  if (dot.length !== 2) throw invalid(`failed to parse config: "${text}" is not a plugin type`);
  return { Prefix: dot[0], Capability: dot[1], Version: slash[1] };
}

export function interfaceTypeText(t: PluginInterfaceType): string {
  return `${t.Prefix}.${t.Capability}/${t.Version}`;
}

/** Reads a plugin directory's config.json (its text) into the API's shape; 400 with Go's words when it does not parse. */
export function parsePluginConfig(text: string): PluginConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw invalid(`failed to parse config: ${(e as Error).message}`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw invalid('failed to parse config: json: cannot unmarshal into Go value of type types.PluginConfig');
  const iface = field(raw, 'Interface');
  const linux = field(raw, 'Linux');
  const args = field(raw, 'Args');
  const user = field(raw, 'User');
  const network = field(raw, 'Network');
  const rootfs = field(raw, 'rootfs');
  const config: PluginConfig = {
    Description: str(field(raw, 'Description'), 'Description'),
    Documentation: str(field(raw, 'Documentation'), 'Documentation'),
    Interface: {
      Types: list(field(iface, 'Types'), (t) => interfaceTypeText(parseInterfaceType(t))),
      Socket: str(field(iface, 'Socket'), 'Interface.Socket'),
      ProtocolScheme: str(field(iface, 'ProtocolScheme'), 'Interface.ProtocolScheme'),
    },
    Entrypoint: strings(field(raw, 'Entrypoint'), 'Entrypoint'),
    WorkDir: str(field(raw, 'WorkDir'), 'WorkDir'),
    User: {},
    Network: { Type: str(field(network, 'Type'), 'Network.Type') },
    Linux: {
      Capabilities: strings(field(linux, 'Capabilities'), 'Linux.Capabilities'),
      AllowAllDevices: bool(field(linux, 'AllowAllDevices')),
      Devices: list(field(linux, 'Devices'), (d) => ({ ...settable(d, 'Linux.Devices'), Path: field(d, 'Path') == null ? null : str(field(d, 'Path'), 'Devices.Path') })),
    },
    PropagatedMount: str(field(raw, 'PropagatedMount'), 'PropagatedMount'),
    IpcHost: bool(field(raw, 'IpcHost')),
    PidHost: bool(field(raw, 'PidHost')),
    Mounts: list(field(raw, 'Mounts'), (m) => ({
      ...settable(m, 'Mounts'),
      Source: field(m, 'Source') == null ? null : str(field(m, 'Source'), 'Mounts.Source'),
      Destination: str(field(m, 'Destination'), 'Mounts.Destination'),
      Type: str(field(m, 'Type'), 'Mounts.Type'),
      Options: strings(field(m, 'Options'), 'Mounts.Options'),
    })),
    Env: list(field(raw, 'Env'), (e) => ({ ...settable(e, 'Env'), Value: str(field(e, 'Value'), 'Env.Value') })),
    Args: { ...settable(args, 'Args'), Value: strings(field(args, 'Value'), 'Args.Value') },
  };
  const uid = field(user, 'UID');
  const gid = field(user, 'GID');
  if (typeof uid === 'number') config.User.UID = uid;
  if (typeof gid === 'number') config.User.GID = gid;
  if (rootfs && typeof rootfs === 'object') {
    config.rootfs = { type: str(field(rootfs, 'type'), 'rootfs.type'), diff_ids: strings(field(rootfs, 'diff_ids'), 'rootfs.diff_ids') ?? [] };
  }
  return config;
}

/** What installing a plugin of this config asks the user to allow (Docker's computePrivileges). */
export function pluginPrivileges(c: PluginConfig): { Name: string; Description: string; Value: string[] }[] {
  const out: { Name: string; Description: string; Value: string[] }[] = [];
  if (c.Network.Type !== '' && c.Network.Type !== 'null' && c.Network.Type !== 'none') {
    out.push({ Name: 'network', Description: 'permissions to access a network', Value: [c.Network.Type] });
  }
  if (c.IpcHost) out.push({ Name: 'host ipc namespace', Description: 'allow access to host ipc namespace', Value: ['true'] });
  if (c.PidHost) out.push({ Name: 'host pid namespace', Description: 'allow access to host pid namespace', Value: ['true'] });
  for (const m of c.Mounts ?? []) {
    if (m.Source) out.push({ Name: 'mount', Description: 'host path to mount', Value: [m.Source] });
  }
  for (const d of c.Linux.Devices ?? []) {
    if (d.Path) out.push({ Name: 'device', Description: 'host device to access', Value: [d.Path] });
  }
  if (c.Linux.AllowAllDevices) out.push({ Name: 'allow-all-devices', Description: "allow 'rwm' access to all devices", Value: ['true'] });
  if (c.Linux.Capabilities?.length) out.push({ Name: 'capabilities', Description: 'list of additional capabilities required', Value: c.Linux.Capabilities });
  return out;
}
