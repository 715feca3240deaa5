/**
 * Re-creating a container on a newer image, keeping its settings, and putting the old one
 * back when the new one does not start.
 *
 * A container's inspected Config mixes what its creator chose with what it inherited from its
 * image (Env, Cmd, Labels, ...). Only the creator's choices are carried over, so the new image's
 * own defaults (a new PATH, a new CMD) take effect: what equals the old image's value was
 * inherited and is left out.
 */
import type { EngineClient } from '../../client/engine';

type Json = Record<string, unknown>;

export interface ContainerInspect {
  Id: string;
  Name: string;
  Image: string;
  Config: Json;
  HostConfig: Json;
  NetworkSettings?: { Networks?: Record<string, Json> };
  Mounts?: { Type?: string; Name?: string; Destination?: string }[];
  State: { Running?: boolean; Restarting?: boolean; ExitCode?: number; Error?: string; Health?: { Status?: string } };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

const INHERITED = ['Cmd', 'Entrypoint', 'WorkingDir', 'User', 'StopSignal', 'Healthcheck', 'ExposedPorts', 'Volumes', 'OnBuild', 'Shell', 'ArgsEscaped'];

/** The container's own settings: its Config less what it took from `image` (the old image's Config). */
export function ownSettings(config: Json, image: Json, containerId: string): Json {
  const out: Json = { ...config };
  for (const k of INHERITED) if (k in out && same(out[k], image[k])) delete out[k];
  const imageEnv = new Set((image.Env as string[] | undefined) ?? []);
  if (Array.isArray(out.Env)) out.Env = (out.Env as string[]).filter((e) => !imageEnv.has(e));
  const imageLabels = (image.Labels as Record<string, string> | undefined) ?? {};
  if (out.Labels && typeof out.Labels === 'object') {
    out.Labels = Object.fromEntries(Object.entries(out.Labels as Record<string, string>).filter(([k, v]) => imageLabels[k] !== v));
  }
  // a hostname the daemon made from the id is not a setting
  if (out.Hostname === containerId.slice(0, 12)) delete out.Hostname;
  delete out.Image;
  return out;
}

/** The networks the container is attached to, as create's NetworkingConfig takes them. */
export function networkingConfig(c: ContainerInspect): Json {
  const endpoints: Json = {};
  for (const [name, ep] of Object.entries(c.NetworkSettings?.Networks ?? {})) {
    const aliases = ((ep.Aliases as string[] | null) ?? []).filter((a) => a !== c.Id.slice(0, 12));
    endpoints[name] = { Aliases: aliases.length ? aliases : undefined, IPAMConfig: ep.IPAMConfig ?? undefined, Links: ep.Links ?? undefined };
  }
  return { EndpointsConfig: endpoints };
}

/**
 * The HostConfig for the new container: the old one's, plus its anonymous volumes mounted
 * again by name (as compose does), so their data carries over instead of starting empty.
 */
export function hostConfigFor(c: ContainerInspect): Json {
  const hc: Json = { ...c.HostConfig };
  const mounts = [...((hc.Mounts as Json[] | null | undefined) ?? [])];
  const taken = new Set([
    ...mounts.map((m) => m.Target as string),
    ...((hc.Binds as string[] | null | undefined) ?? []).map((b) => b.split(':')[1]),
  ]);
  for (const m of c.Mounts ?? []) {
    if (m.Type !== 'volume' || !m.Name || !m.Destination || !/^[0-9a-f]{64}$/.test(m.Name) || taken.has(m.Destination)) continue;
    mounts.push({ Type: 'volume', Source: m.Name, Target: m.Destination });
  }
  if (mounts.length) hc.Mounts = mounts;
  return hc;
}

export interface RecreateResult {
  name: string;
  ok: boolean;
  /** Why the new container was not kept. */
  why?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether a just-started container counts as started: running, and healthy if it has a health check. */
async function started(client: EngineClient, id: string, settleMs: number): Promise<string | undefined> {
  await sleep(settleMs);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const c = await client.call<ContainerInspect>('GET', `/containers/${id}/json`);
    const s = c.State;
    if (!s.Running || s.Restarting) return `it ${s.Restarting ? 'keeps restarting' : `exited with code ${s.ExitCode ?? '?'}`}${s.Error ? `: ${s.Error}` : ''}`;
    const health = s.Health?.Status;
    if (!health || health === 'healthy' || health === 'none') return undefined;
    if (health === 'unhealthy') return 'it is unhealthy';
    if (Date.now() > deadline) return 'it did not become healthy within 60 s';
    await sleep(500);
  }
}

/** Waits (up to 30 s) for an auto-removed container to be gone, so its name is free. */
async function waitGone(client: EngineClient, id: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      await client.call('GET', `/containers/${id}/json`);
    } catch {
      return;
    }
    await sleep(100);
  }
}

/**
 * Replaces container `c` (created from an image whose Config is `oldImage`) by one of the same
 * name and settings on `newImage`. The old container is stopped and renamed aside first, and
 * removed only once the new one has started; otherwise the new one goes and the old one comes
 * back under its name, running if it was. A container run with --rm is removed by stopping
 * it; if its new version fails, it is created again from its settings on its old image.
 */
export async function recreate(client: EngineClient, c: ContainerInspect, oldImage: Json, newImage: string, settleMs = 1500): Promise<RecreateResult> {
  const name = c.Name.replace(/^\//, '');
  const wasRunning = !!c.State.Running;
  const aside = `${name}_pre-upgrade`;
  const body = { ...ownSettings(c.Config, oldImage, c.Id), Image: newImage, HostConfig: hostConfigFor(c), NetworkingConfig: networkingConfig(c) };
  // --rm: stopping removes it, so there is no old container to go back to, only its settings
  const autoRemove = c.HostConfig.AutoRemove === true;
  if (!autoRemove) await client.call('POST', `/containers/${c.Id}/rename`, { query: { name: aside } });
  if (wasRunning) await client.call('POST', `/containers/${c.Id}/stop`);
  if (autoRemove) await waitGone(client, c.Id);
  let newId: string | undefined;
  let why: string | undefined;
  try {
    newId = (await client.call<{ Id: string }>('POST', '/containers/create', { query: { name }, body })).Id;
    if (wasRunning) {
      await client.call('POST', `/containers/${newId}/start`);
      why = await started(client, newId, settleMs);
    }
  } catch (e) {
    why = (e as Error).message;
  }
  if (why === undefined) {
    if (!autoRemove) await client.call('DELETE', `/containers/${c.Id}`, { query: { force: true } });
    return { name, ok: true };
  }
  if (newId) await client.call('DELETE', `/containers/${newId}`, { query: { force: true } }).catch(() => undefined);
  if (autoRemove) {
    const back = await client.call<{ Id: string }>('POST', '/containers/create', { query: { name }, body: { ...body, Image: c.Image } });
    if (wasRunning) await client.call('POST', `/containers/${back.Id}/start`);
    return { name, ok: false, why };
  }
  await client.call('POST', `/containers/${c.Id}/rename`, { query: { name } });
  if (wasRunning) await client.call('POST', `/containers/${c.Id}/start`);
  return { name, ok: false, why };
}
