import { invalid } from '../common/errors';
import type { ContainerConfig } from '../api/types';

/**
 * Applies `--change` instructions (Dockerfile syntax) to an image config, as
 * `docker import -c` and `docker commit -c` do. Only the instructions that change
 * metadata are allowed there.
 */
const ALLOWED = ['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'USER', 'VOLUME', 'WORKDIR', 'STOPSIGNAL'];

export function applyChanges(config: ContainerConfig, changes: string[]): ContainerConfig {
  const out: ContainerConfig = { ...config };
  for (const change of changes) {
    const trimmed = change.trim();
    if (!trimmed) continue;
    const m = /^(\S+)\s*(.*)$/s.exec(trimmed);
    if (!m) continue;
    const instr = m[1].toUpperCase();
    const arg = m[2].trim();
    if (!ALLOWED.includes(instr)) throw invalid(`${m[1].toLowerCase()} is not a valid change command`);
    switch (instr) {
      case 'CMD':
        out.Cmd = commandForm(arg);
        break;
      case 'ENTRYPOINT':
        out.Entrypoint = commandForm(arg);
        break;
      case 'ENV':
        out.Env = mergeEnv(out.Env ?? [], keyValues(arg, 'ENV'));
        break;
      case 'LABEL':
        out.Labels = { ...(out.Labels ?? {}), ...Object.fromEntries(keyValues(arg, 'LABEL')) };
        break;
      case 'EXPOSE': {
        const ports: Record<string, object> = { ...(out.ExposedPorts ?? {}) };
        for (const p of arg.split(/\s+/).filter(Boolean)) {
          if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/.test(p)) throw invalid(`invalid containerPort: ${p}`);
          ports[p.includes('/') ? p : `${p}/tcp`] = {};
        }
        out.ExposedPorts = ports;
        break;
      }
      case 'VOLUME': {
        const vols: Record<string, object> = { ...(out.Volumes ?? {}) };
        const list = arg.startsWith('[') ? parseJSONArray(arg) ?? [arg] : arg.split(/\s+/).filter(Boolean);
        for (const v of list) vols[v] = {};
        out.Volumes = vols;
        break;
      }
      case 'USER':
        out.User = arg;
        break;
      case 'WORKDIR':
        out.WorkingDir = arg.startsWith('/') ? arg : `${out.WorkingDir || '/'}/${arg}`.replace(/\/+/g, '/');
        break;
      case 'STOPSIGNAL':
        out.StopSignal = arg;
        break;
      case 'ONBUILD':
        out.OnBuild = [...(out.OnBuild ?? []), arg];
        break;
    }
  }
  return out;
}

function parseJSONArray(arg: string): string[] | undefined {
  try {
    const v = JSON.parse(arg) as unknown;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    /* not JSON: shell form */
  }
  return undefined;
}

/** JSON (exec) form as given, anything else in shell form. */
function commandForm(arg: string): string[] {
  return parseJSONArray(arg) ?? ['/bin/sh', '-c', arg];
}

function unquote(s: string): string {
  if ((s.startsWith('"') && s.endsWith('"')) || (s.startsWith("'") && s.endsWith("'"))) {
    return s.slice(1, -1).replace(/\\(.)/g, '$1');
  }
  return s.replace(/\\(.)/g, '$1');
}

/** `k=v k2="v 2"` or the legacy single `k v` form. */
function keyValues(arg: string, instr: string): [string, string][] {
  if (!arg) throw invalid(`${instr} requires at least one argument`);
  const tokens = arg.match(/(?:[^\s"']+|"(?:\\.|[^"\\])*"|'[^']*')+/g) ?? [];
  if (!tokens[0]?.includes('=')) {
    const m = /^(\S+)\s+(.*)$/s.exec(arg);
    if (!m) throw invalid(`${instr} must have two arguments`);
    return [[m[1], unquote(m[2].trim())]];
  }
  return tokens.map((t) => {
    const eq = t.indexOf('=');
    if (eq <= 0) throw invalid(`${instr} names can not be blank`);
    return [unquote(t.slice(0, eq)), unquote(t.slice(eq + 1))];
  });
}

function mergeEnv(env: string[], add: [string, string][]): string[] {
  const out = [...env];
  for (const [k, v] of add) {
    const i = out.findIndex((e) => e.split('=')[0] === k);
    if (i >= 0) out[i] = `${k}=${v}`;
    else out.push(`${k}=${v}`);
  }
  return out;
}
