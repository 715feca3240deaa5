import { invalid } from '../common/errors';
import { acceptFilters, ACCEPTED_FILTERS, labelsMatch, regexMatch, type FilterArgs } from '../common/filters';
import type { ContainerRecord } from './model';
import { portList } from './present';

/**
 * The filters of `GET /containers/json` (`docker ps --filter`), as Docker's daemon/list.go
 * reads them: every key it accepts narrows the list; any other is refused.
 */

/** What the filters need to know beyond the records themselves. */
export interface ContainerListContext {
  /** the container a `before`/`since` names (404 when there is none) */
  container(ref: string): ContainerRecord;
  /** an image's ID from a name or ID, if there is one */
  imageId(ref: string): string | undefined;
  /** a network's ID and name from a name or ID, if there is one */
  network(ref: string): { Id: string; Name: string } | undefined;
}

const STATES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];
const HEALTH = ['starting', 'healthy', 'unhealthy', 'none'];
// the label swarm puts on the containers of its tasks (Docker's container.Managed)
const TASK_LABEL = 'com.docker.swarm.task.id';

interface PortRange {
  proto: string;
  start: number;
  end: number;
}

/** Docker's nat.SplitProtoPort and ParsePortRange: "80", "80/udp", "8000-8010/tcp". */
function portRange(key: string, value: string): PortRange {
  if (value.includes(':')) throw invalid(`filter for '${key}' should not contain ':': ${value}`);
  const [port, proto] = value.split('/');
  const fail = (why: string) => invalid(`error while looking up for ${key} ${value}: ${why}`);
  const uint16 = (s: string) => {
    if (!/^\d+$/.test(s)) throw fail(`strconv.ParseUint: parsing ${JSON.stringify(s)}: invalid syntax`);
    if (Number(s) > 65535) throw fail(`strconv.ParseUint: parsing ${JSON.stringify(s)}: value out of range`);
    return Number(s);
  };
  if (port === '') throw fail('empty string specified for ports');
  const dash = port.indexOf('-');
  const start = uint16(dash < 0 ? port : port.slice(0, dash));
  const end = dash < 0 ? start : uint16(port.slice(dash + 1).split('-')[0]);
  if (end < start) throw fail(`invalid range specified for port: ${port}`);
  return { proto: proto || 'tcp', start, end };
}

const inRanges = (ranges: PortRange[], port: number, proto: string) => ranges.some((r) => r.proto === proto && port >= r.start && port <= r.end);

/**
 * The containers of `list` (newest first) that the filters keep. Values are checked before
 * any container is looked at, so a bad value is refused even on an empty list.
 */
export function filterContainers(list: ContainerRecord[], f: FilterArgs, ctx: ContainerListContext): ContainerRecord[] {
  acceptFilters(f, ACCEPTED_FILTERS.containerList);
  const get = (key: string) => f.get(key) ?? [];
  for (const s of get('status')) if (!STATES.includes(s)) throw invalid(`invalid filter 'status=${s}'`);
  for (const h of get('health')) if (!HEALTH.includes(h)) throw invalid(`Unrecognised filter value for health: ${h}`);
  const exited = get('exited').map((v) => {
    if (!/^[+-]?\d+$/.test(v)) throw invalid(`invalid filter 'exited=${v}': strconv.Atoi: parsing ${JSON.stringify(v)}: invalid syntax`);
    return Number(v);
  });
  let isTask: boolean | undefined;
  if (f.has('is-task')) {
    const v = get('is-task');
    if (v.includes('true')) isTask = true;
    else if (v.includes('false')) isTask = false;
    else throw invalid(`Invalid filter 'is-task=[${v.join(' ')}]'`);
  }
  const publish = get('publish').map((v) => portRange('publish', v));
  const expose = get('expose').map((v) => portRange('expose', v));
  const before = f.has('before') ? ctx.container(get('before')[0]) : undefined;
  const since = f.has('since') ? ctx.container(get('since')[0]) : undefined;
  const ancestors = f.has('ancestor') ? new Set(get('ancestor').map((a) => ctx.imageId(a)).filter((id): id is string => !!id)) : undefined;
  const networks = get('network');
  const volumes = get('volume');

  return list.filter((c) => {
    const name = c.Name.startsWith('/') ? c.Name.slice(1) : c.Name;
    if (f.has('name') && !regexMatch(f, 'name', name) && !regexMatch(f, 'name', c.Name)) return false;
    if (!regexMatch(f, 'id', c.ID)) return false;
    if (!labelsMatch(c.Config.Labels, f.get('label'))) return false;
    if (!regexMatch(f, 'isolation', (c.HostConfig.Isolation || 'default').toLowerCase())) return false;
    if (before && Date.parse(c.Created) >= Date.parse(before.Created)) return false;
    if (since && Date.parse(c.Created) <= Date.parse(since.Created)) return false;
    if (exited.length && !(c.State.Status === 'exited' && exited.includes(c.State.ExitCode))) return false;
    if (f.has('status') && !get('status').includes(c.State.Status)) return false;
    if (f.has('health') && !get('health').includes(c.State.Health?.Status ?? 'none')) return false;
    if (ancestors && !(ancestors.has(c.Image) || get('ancestor').includes(c.Config.Image ?? ''))) return false;
    if (isTask !== undefined && isTask !== TASK_LABEL in (c.Config.Labels ?? {})) return false;
    if (networks.length && !networksOf(c, ctx).some((n) => networks.some((v) => v === n.Name || (n.Id !== '' && n.Id.startsWith(v))))) return false;
    if (volumes.length && !(c.MountPoints ?? []).some((m) => volumes.some((v) => v === m.Destination || v === (m.Type === 'volume' ? m.Name : m.Source)))) return false;
    if (publish.length || expose.length) {
      // as Docker: one port that is published or exposed as asked keeps the container
      const ports = portList(c) as { PrivatePort: number; PublicPort?: number; Type: string }[];
      if (!ports.some((p) => inRanges(publish, p.PublicPort ?? 0, p.Type) || inRanges(expose, p.PrivatePort, p.Type))) return false;
    }
    return true;
  });
}

/** The networks a container is on or asked for, by name and ID. */
function networksOf(c: ContainerRecord, ctx: ContainerListContext): { Id: string; Name: string }[] {
  const mode = c.HostConfig.NetworkMode ?? 'bridge';
  const keys = Object.keys(c.EndpointsConfig ?? { [mode === 'default' ? 'bridge' : mode]: {} });
  return keys.map((k) => ctx.network(k) ?? { Id: '', Name: k });
}
