import * as path from 'node:path';
import { invalid } from '../../common/errors';
import type { RunMount } from './types';

/**
 * `RUN --mount=type=cache,target=/root/.cache,sharing=locked`: comma-separated options,
 * `key=value` or a bare boolean key. Defaults follow the reference: bind mounts are
 * read-only, secrets land in /run/secrets/<id>, ssh ids default to "default".
 */

const TYPES = new Set(['bind', 'cache', 'tmpfs', 'secret', 'ssh']);
const SHARING = new Set(['shared', 'private', 'locked']);

/** Comma-separated fields; a field may be double-quoted to hold a comma (CSV rules). */
function csvFields(spec: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < spec.length; i++) {
    const c = spec[i];
    if (c === '"') {
      if (quoted && spec[i + 1] === '"') {
        cur += '"';
        i++;
      } else quoted = !quoted;
    } else if (c === ',' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out.map((f) => f.trim()).filter((f) => f !== '');
}

function bool(key: string, value: string | undefined): boolean {
  if (value === undefined) return true;
  const v = value.toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw invalid(`invalid value for ${key}: ${value}`);
}

export function parseMount(spec: string): RunMount {
  const m: RunMount = { type: 'bind', readonly: true, required: false, raw: spec };
  let readonly: boolean | undefined;
  for (const field of csvFields(spec)) {
    const eq = field.indexOf('=');
    const key = (eq >= 0 ? field.slice(0, eq) : field).toLowerCase();
    const value = eq >= 0 ? field.slice(eq + 1) : undefined;
    const need = (): string => {
      if (value === undefined) throw invalid(`invalid field '${field}' must be a key=value pair`);
      return value;
    };
    switch (key) {
      case 'type': {
        const t = need().toLowerCase();
        if (!TYPES.has(t)) throw invalid(`unsupported mount type "${t}"`);
        m.type = t as RunMount['type'];
        break;
      }
      case 'target':
      case 'dst':
      case 'destination':
        m.target = need();
        break;
      case 'source':
      case 'src':
        m.source = need();
        break;
      case 'from':
        m.from = need();
        break;
      case 'id':
        m.id = need();
        break;
      case 'ro':
      case 'readonly':
        readonly = bool(key, value);
        break;
      case 'rw':
      case 'readwrite':
        readonly = !bool(key, value);
        break;
      case 'required':
        m.required = bool(key, value);
        break;
      case 'sharing': {
        const s = need().toLowerCase();
        if (!SHARING.has(s)) throw invalid(`unsupported sharing value "${s}"`);
        m.sharing = s as RunMount['sharing'];
        break;
      }
      case 'mode':
        m.mode = need();
        break;
      case 'uid':
        m.uid = need();
        break;
      case 'gid':
        m.gid = need();
        break;
      case 'size':
        m.size = need();
        break;
      case 'env':
        m.env = need();
        break;
      default:
        throw invalid(`unexpected key '${key}' in '${field}'`);
    }
  }
  // Only bind mounts are read-only unless told otherwise.
  m.readonly = readonly ?? m.type === 'bind';
  if (m.type === 'secret') {
    if (m.id === undefined && m.target !== undefined) m.id = path.posix.basename(m.target);
    if (m.id === undefined) throw invalid('secret ID missing from mount options');
    if (m.target === undefined && m.env === undefined) m.target = `/run/secrets/${m.id}`;
  } else if (m.type === 'ssh') {
    m.id ??= 'default';
  } else if (m.target === undefined) {
    throw invalid(`mount target is required for type=${m.type}`);
  }
  if (m.type === 'cache') m.sharing ??= 'shared';
  return m;
}
