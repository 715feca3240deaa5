/**
 * Secrets and configs (`docker secret|config create/ls/inspect/rm`): small files a service's
 * tasks get in their containers. A config is kept whole in the cluster's objects, which every
 * node reads. A secret's object there has no data: the data lives under the secrets prefix
 * only managers read (access.ts), and a node gets it from a manager, for a task of its own
 * that names it (task-files.ts), never from etcd.
 */
import { BerthError, conflict, invalid, notFound } from '../../common/errors';
import { labelsMatch } from '../../common/filters';
import { newObjectId } from './control';
import { checkTemplating } from './templating';
import type { ServiceSpec, SwarmFileObject, Task } from './model';
import { SECRET_DATA_PREFIX, type ClusterStore, type Snapshot } from './store';

export type FileKind = 'secrets' | 'configs';

const NAME = /^[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$/;
/** Docker's limit for both */
const MAX_BYTES = 500 * 1024;

const singular = (kind: FileKind) => (kind === 'secrets' ? 'secret' : 'config');

export function findFile(snap: Snapshot, kind: FileKind, ref: string): SwarmFileObject | undefined {
  const list = snap[kind];
  const exact = list.find((x) => x.ID === ref) ?? list.find((x) => x.Spec.Name === ref);
  if (exact) return exact;
  const prefixed = ref ? list.filter((x) => x.ID.startsWith(ref)) : [];
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

export function getFile(snap: Snapshot, kind: FileKind, ref: string): SwarmFileObject {
  const f = findFile(snap, kind, ref);
  if (!f) throw notFound(`${singular(kind)} ${ref} not found`);
  return f;
}

export async function createFile(store: ClusterStore, kind: FileKind, spec: SwarmFileObject['Spec'] | undefined): Promise<{ ID: string }> {
  const what = singular(kind);
  const name = spec?.Name ?? '';
  if (!NAME.test(name) || name.length > 64) {
    throw invalid(`rpc error: code = InvalidArgument desc = invalid name, only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end character must be [a-zA-Z0-9]`);
  }
  if (spec?.Driver) throw invalid(`rpc error: code = InvalidArgument desc = ${what} drivers are not supported by berth`);
  const data = Buffer.from(spec?.Data ?? '', 'base64');
  if (kind === 'secrets' && data.length === 0) throw invalid('rpc error: code = InvalidArgument desc = secret data must be larger than 0 and less than 512000 bytes');
  if (data.length > MAX_BYTES) throw invalid(`rpc error: code = InvalidArgument desc = ${what} data must be larger than 0 and less than 512000 bytes`);
  const snap = await store.snapshot();
  if (snap[kind].some((x) => x.Spec.Name === name)) throw conflict(`rpc error: code = AlreadyExists desc = ${what} ${name} already exists`);
  const now = new Date().toISOString();
  const templating = checkTemplating(spec?.Templating);
  const obj: SwarmFileObject = { ID: newObjectId(), Version: { Index: 0 }, CreatedAt: now, UpdatedAt: now, Spec: { Name: name, Labels: spec?.Labels ?? {}, ...(templating ? { Templating: templating } : {}) } };
  if (kind === 'configs') obj.Spec.Data = data.toString('base64');
  else {
    // the data first: a secret is never listed without it
    await store.kv.put(`${SECRET_DATA_PREFIX}${obj.ID}`, data.toString('base64'));
  }
  if (!(await store.create(kind, obj))) throw conflict(`${what} ${obj.ID} already exists`);
  return { ID: obj.ID };
}

/** Only the labels of a secret or config change (Docker's rule). */
export async function updateFile(store: ClusterStore, kind: FileKind, ref: string, version: number, spec: SwarmFileObject['Spec'] | undefined): Promise<void> {
  const snap = await store.snapshot();
  const f = getFile(snap, kind, ref);
  if (!Number.isFinite(version)) throw invalid(`invalid ${singular(kind)} version`);
  const dataChanged = kind === 'configs' ? spec?.Data !== undefined && spec.Data !== f.Spec.Data : spec?.Data !== undefined && spec.Data !== '';
  if (spec?.Name !== f.Spec.Name || dataChanged) throw invalid('rpc error: code = InvalidArgument desc = only updates to Labels are allowed');
  const next: SwarmFileObject = { ...f, Spec: { ...f.Spec, Labels: spec?.Labels ?? {} }, UpdatedAt: new Date().toISOString() };
  if (!(await store.replace(kind, next, version))) throw invalid('rpc error: code = Unknown desc = update out of sequence');
}

export async function removeFile(store: ClusterStore, kind: FileKind, ref: string): Promise<void> {
  const snap = await store.snapshot();
  const f = getFile(snap, kind, ref);
  const users = snap.services.filter((s) => refsOf(s.Spec, kind).some((r) => idOf(r, kind) === f.ID)).map((s) => s.Spec.Name);
  if (users.length) {
    throw new BerthError('INVALID_PARAMETER', `rpc error: code = InvalidArgument desc = ${singular(kind)} '${f.Spec.Name}' is in use by the following service${users.length > 1 ? 's' : ''}: ${users.join(', ')}`);
  }
  await store.remove(kind, f.ID);
  if (kind === 'secrets') await store.kv.delete(`${SECRET_DATA_PREFIX}${f.ID}`);
}

export function filterFiles(list: SwarmFileObject[], f: Record<string, string[]>): SwarmFileObject[] {
  return list.filter((x) => {
    if (f.id && !f.id.some((v) => x.ID.startsWith(v))) return false;
    if (f.name && !f.name.some((v) => x.Spec.Name.startsWith(v))) return false;
    if (f.names && !f.names.includes(x.Spec.Name)) return false;
    if (!labelsMatch(x.Spec.Labels, f.label)) return false;
    return true;
  });
}

type Ref = NonNullable<ServiceSpec['TaskTemplate']['ContainerSpec']['Secrets']>[number] & NonNullable<ServiceSpec['TaskTemplate']['ContainerSpec']['Configs']>[number];

function refsOf(spec: ServiceSpec | Task['Spec'], kind: FileKind): Ref[] {
  const c = 'ContainerSpec' in spec ? (spec as Task['Spec']).ContainerSpec : (spec as ServiceSpec).TaskTemplate.ContainerSpec;
  return ((kind === 'secrets' ? c.Secrets : c.Configs) ?? []) as Ref[];
}

export function idOf(r: Ref, kind: FileKind): string | undefined {
  return kind === 'secrets' ? r.SecretID : r.ConfigID;
}

/**
 * A service's secrets and configs named by ID and name, as Docker keeps them; one that does
 * not exist is refused, and two files at one path too.
 */
export function resolveServiceFiles(spec: ServiceSpec, snap: Snapshot): void {
  const targets = new Set<string>();
  for (const kind of ['secrets', 'configs'] as const) {
    for (const r of refsOf(spec, kind)) {
      const ref = idOf(r, kind) || (kind === 'secrets' ? r.SecretName : r.ConfigName) || '';
      const f = findFile(snap, kind, ref);
      if (!f) throw notFound(`${singular(kind)} ${ref} not found`);
      if (kind === 'secrets') {
        r.SecretID = f.ID;
        r.SecretName = f.Spec.Name;
      } else {
        r.ConfigID = f.ID;
        r.ConfigName = f.Spec.Name;
      }
      r.File = { UID: '0', GID: '0', Mode: 0o444, ...(r.File ?? {}), Name: r.File?.Name || f.Spec.Name };
      const target = fileTarget(kind, r.File.Name);
      if (targets.has(target)) throw invalid(`rpc error: code = InvalidArgument desc = ${singular(kind)} references '${r.File.Name}' conflict`);
      targets.add(target);
      if (r.File.Name.split('/').includes('..')) throw invalid(`rpc error: code = InvalidArgument desc = invalid ${singular(kind)} target ${r.File.Name}`);
    }
  }
}

/** Where the file appears in the container: secrets under /run/secrets, configs at / (unless absolute). */
export function fileTarget(kind: FileKind, name: string): string {
  if (name.startsWith('/')) return name;
  return kind === 'secrets' ? `/run/secrets/${name}` : `/${name}`;
}

/** Whether the task names the secret (a node gets only the secrets of its own tasks). */
export function taskUsesSecret(t: Task, secretId: string): boolean {
  return refsOf(t.Spec, 'secrets').some((r) => r.SecretID === secretId);
}
