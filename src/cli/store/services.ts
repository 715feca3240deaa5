/**
 * Moving a swarm's services of a product to a new version: the service's image is set to the
 * new version pinned by digest (`host/acme/ledger:2.0@sha256:...`), with the update's failure
 * action set to roll back, and swarm's rolling update does the rest. The result is read back
 * from the service's UpdateStatus.
 */
import { EngineError, type EngineClient } from '../../client/engine';

type Json = Record<string, unknown>;

export interface ServiceInfo {
  ID: string;
  Version: { Index: number };
  Spec: Json & { Name: string; TaskTemplate: Json & { ContainerSpec?: Json & { Image?: string } }; UpdateConfig?: Json };
  UpdateStatus?: { State?: string; Message?: string };
}

export const imageOf = (s: ServiceInfo) => s.Spec.TaskTemplate.ContainerSpec?.Image ?? '';

/** The services whose image is a version of repository `name` (host/ns/repo); none outside a swarm. */
export async function servicesOf(client: EngineClient, name: string): Promise<ServiceInfo[]> {
  let all: ServiceInfo[];
  try {
    all = (await client.call<ServiceInfo[] | null>('GET', '/services')) ?? [];
  } catch (e) {
    if (e instanceof EngineError && (e.status === 503 || e.status === 406)) return []; // not a swarm manager
    throw e;
  }
  return all.filter((s) => {
    const image = imageOf(s);
    return image === name || image.startsWith(`${name}:`) || image.startsWith(`${name}@`);
  });
}

/** The digest a service's image is pinned to, if any. */
export const pinnedDigest = (s: ServiceInfo) => /@(sha256:[0-9a-f]{64})$/.exec(imageOf(s))?.[1];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Updates the service to `image` and waits for swarm's verdict: undefined when done, else why not. */
export async function upgradeService(client: EngineClient, s: ServiceInfo, image: string, registryAuth: string, timeoutMs = 180_000): Promise<string | undefined> {
  const spec = {
    ...s.Spec,
    TaskTemplate: { ...s.Spec.TaskTemplate, ContainerSpec: { ...s.Spec.TaskTemplate.ContainerSpec, Image: image } },
    UpdateConfig: { ...(s.Spec.UpdateConfig ?? {}), FailureAction: 'rollback' },
  };
  await client.call('POST', `/services/${s.ID}/update`, { query: { version: s.Version.Index }, body: spec, headers: { 'X-Registry-Auth': registryAuth } });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await sleep(500);
    const now = await client.call<ServiceInfo>('GET', `/services/${s.ID}`);
    const state = now.UpdateStatus?.State;
    if (state === 'completed') return undefined;
    if (state === 'rollback_completed' || state === 'paused' || state === 'rollback_paused') return `${now.UpdateStatus?.Message ?? state} (${state})`;
    if (!state && imageOf(now) === image) return undefined; // nothing to roll: the update was instant
    if (Date.now() > deadline) return `the update did not finish within ${timeoutMs / 1000} s (${state ?? 'no status'})`;
  }
}
