/**
 * `berth container move`: a container, with its image, its own layer, its log and (when
 * asked) its named volumes, from one daemon to another, through their APIs.
 *
 * Order matters for what a failure leaves. Everything that can be checked is checked
 * before the container stops (name, ports, volume names, disk, the target answering).
 * Then it stops; everything made on the target is remembered and removed again if a later
 * step fails, and the source is started again if it ran. The source goes only once the
 * target's container is whole (and runs, if the source ran). On a berth target the
 * container stays "pending" until it is whole, and a target daemon that restarts before
 * then removes it: a move cut short leaves the source's container and nothing else.
 */
import { existsSync } from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { EngineError, type EngineClient } from '../../client/engine';
import { StatusError } from '../errors';
import { humanSize } from '../../common/units';
import type { MoveProgress } from './progress';
import { addressesOverlap, createBody, anonymousVolumes, publishedPorts, volumeNames, userNetworks, type ContainerInfo, type ImageInfo } from './inspect';

export interface MoveOptions {
  withVolumes: boolean;
  keep: boolean;
  /** treat the target as a plain Docker daemon (only the Engine API), whatever it is */
  engineApiOnly?: boolean;
  /**
   * for tests only (BERTH_MOVE_PAUSE=STEP:FILE): at STEP the move says so and waits until
   * FILE exists, so a test can kill a daemon or the client at that very point
   */
  pauseAt?: { step: MoveStep; file: string };
  /**
   * aborted when the user interrupts the move (Ctrl-C): up to the target's start, the move
   * stops where it is and is undone as a failure would be; after it, the move ends as it would
   */
  interrupt?: AbortSignal;
}

/** The points a test can pause a move at (see pauseAt). */
export const MOVE_STEPS = ['stopped', 'copied', 'source-removal'] as const;
export type MoveStep = (typeof MOVE_STEPS)[number];

export interface MoveResult {
  id: string;
  running: boolean;
  /** bytes sent through the client, per kind */
  sent: { image: number; layer: number; logs: number; volumes: number };
}

interface NetworkInfo {
  Name: string;
  Driver?: string;
  Internal?: boolean;
  Attachable?: boolean;
  EnableIPv6?: boolean;
  IPAM?: { Driver?: string; Config?: Record<string, unknown>[] | null; Options?: Record<string, string> | null };
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

interface VolumeInfo {
  Name: string;
  Driver?: string;
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

const VOLUME_HELPER_PATH = '/berth-move-volume';

/** The move was interrupted before the target's container ran, and was undone. */
export class MoveInterrupted extends Error {
  constructor() {
    super('the move was interrupted');
    this.name = 'MoveInterrupted';
  }
}

export class ContainerMove {
  private readonly undo: { what: string; run: () => Promise<unknown> }[] = [];
  private readonly sent = { image: 0, layer: 0, logs: 0, volumes: 0 };
  private targetIsBerth = false;
  /** the source ran the container with its default runtime, which the target does not have as its default */
  private runtimeLeftOut = false;

  constructor(
    private readonly source: EngineClient,
    private readonly target: EngineClient,
    /** how the target is named in messages: the context or the address */
    private readonly targetName: string,
    private readonly o: MoveOptions,
    private readonly progress: MoveProgress,
  ) {}

  async run(container: string): Promise<MoveResult> {
    const c = await this.source.call<ContainerInfo>('GET', `/containers/${encodeURIComponent(container)}/json`, { query: { size: true } });
    const name = c.Name.replace(/^\//, '');
    await this.preflight(c, name);
    if (this.o.interrupt?.aborted) throw new StatusError(`Error: the move was interrupted before anything changed: ${name} stays on the source as it was`, 130);

    const wasRunning = c.State.Running;
    let moved: { id: string };
    // from here the source's daemon never starts it on its own (not even when that daemon
    // restarts): once the target's copy runs, a crash cannot bring this one back beside it.
    // Refused while another move of it is under way: nothing to undo then (its undo would
    // clear the other move's mark).
    await this.source.call('POST', `/berth/v1/containers/${c.Id}/move-begin`, { query: { to: this.targetName } });
    try {
      if (wasRunning) {
        this.progress.say(`Stopping ${name} on the source`);
        await this.source.call('POST', `/containers/${c.Id}/stop`);
      }
      await this.step('stopped');
      moved = await this.copy(c, name);
      await this.step('copied');
      if (wasRunning) {
        this.progress.say(`Starting ${name} on ${this.targetName}`);
        await this.target.call('POST', `/containers/${moved.id}/start`);
      }
    } catch (e) {
      await this.rollBack(c, wasRunning);
      if (this.o.interrupt?.aborted) throw new StatusError(`Error: the move was interrupted and undone: ${name} ${wasRunning ? 'runs again' : 'stays'} on the source, and nothing made for it is left on ${this.targetName}`, 130);
      throw e;
    }
    await this.step('source-removal');
    // with --keep the source stays marked as moved away: its policy must not start it beside the target's
    if (!this.o.keep) {
      try {
        await this.source.call('DELETE', `/containers/${c.Id}`, { query: { force: true } });
      } catch (e) {
        throw new StatusError(`Error: ${name} ${wasRunning ? 'runs' : 'is'} on ${this.targetName} now, but the source's container could not be removed: ${(e as Error).message}. It stays there, stopped, and its daemon does not start it: remove it with \`berth rm ${name}\``, 1);
      }
      if (this.o.withVolumes) for (const v of volumeNames(c)) await this.source.call('DELETE', `/volumes/${encodeURIComponent(v)}`).catch(() => undefined);
    }
    return { id: moved.id, running: wasRunning, sent: this.sent };
  }

  /** A point between steps: where a test may pause the move (see pauseAt), and an interrupt takes effect. */
  private async step(name: MoveStep): Promise<void> {
    const p = this.o.pauseAt;
    if (p?.step === name) {
      this.progress.say(`Paused before ${name}: waiting for ${p.file}`);
      while (!existsSync(p.file) && !this.o.interrupt?.aborted) await new Promise((r) => setTimeout(r, 50));
    }
    // once the target's copy runs, the move is finished rather than undone
    if (name !== 'source-removal') this.throwIfInterrupted();
  }

  private throwIfInterrupted(): void {
    if (this.o.interrupt?.aborted) throw new MoveInterrupted();
  }

  // ---------------------------------------------------------------- before anything stops

  private async preflight(c: ContainerInfo, name: string): Promise<void> {
    if (c.State.Paused) throw new StatusError(`Error: container ${name} is paused: unpause it before moving it`, 1);
    if (c.State.Restarting) throw new StatusError(`Error: container ${name} is restarting: wait until it runs or stop it before moving it`, 1);
    let version: { Platform?: { Name?: string } };
    try {
      version = await this.target.call('GET', '/version');
    } catch (e) {
      throw new StatusError(`Error: the target ${this.targetName} does not answer: ${(e as Error).message}`, 1);
    }
    this.targetIsBerth = version.Platform?.Name === 'berth' && !this.o.engineApiOnly;

    const there = await this.target.request('GET', `/containers/${encodeURIComponent(name)}/json`);
    const taken = await there.text();
    if (there.status === 200) {
      const id = (JSON.parse(taken) as { Id: string }).Id;
      throw new StatusError(`Error: Conflict. The container name "/${name}" is already in use on ${this.targetName} by container "${id}"`, 1);
    }

    const ports = publishedPorts(c);
    if (ports.length) {
      const running = await this.target.call<{ Names?: string[]; Ports?: { IP?: string; PublicPort?: number; Type?: string }[] }[]>('GET', '/containers/json');
      for (const p of ports) {
        for (const other of running) {
          const clash = (other.Ports ?? []).find((q) => q.PublicPort === p.port && (q.Type ?? 'tcp') === p.proto && addressesOverlap(q.IP ?? '', p.ip));
          if (clash) throw new StatusError(`Error: Bind for ${p.ip || '0.0.0.0'}:${p.port} failed: port is already allocated on ${this.targetName} (container ${(other.Names?.[0] ?? '').replace(/^\//, '')})`, 1);
        }
      }
    }

    if (this.o.withVolumes) {
      for (const v of volumeNames(c)) {
        const r = await this.target.request('GET', `/volumes/${encodeURIComponent(v)}`);
        await r.buffer();
        if (r.status === 200) throw new StatusError(`Error: the volume name ${v} is already taken on ${this.targetName}`, 1);
      }
    }

    await this.checkRuntime(c, name);
    if (this.targetIsBerth) await this.checkDisk(c);
  }

  /**
   * The OCI runtime goes along only when it was chosen for the container: one the source ran
   * it with by default (berth's crun) gives way to the target's default (Docker's runc), and a
   * chosen one the target lacks is refused here, before anything stops.
   */
  private async checkRuntime(c: ContainerInfo, name: string): Promise<void> {
    const runtime = c.HostConfig.Runtime;
    if (!runtime) return;
    const [from, to] = await Promise.all([this.source, this.target].map((e) => e.call<{ DefaultRuntime?: string; Runtimes?: Record<string, unknown> }>('GET', '/info')));
    if (runtime === from.DefaultRuntime) {
      this.runtimeLeftOut = runtime !== to.DefaultRuntime;
      return;
    }
    if (!Object.hasOwn(to.Runtimes ?? {}, runtime)) throw new StatusError(`Error: ${name} runs with the runtime ${runtime}, which ${this.targetName} does not have`, 1);
  }

  /** A berth target says how much room it has; the move needs about its image, layer and volumes. */
  private async checkDisk(c: ContainerInfo): Promise<void> {
    const disk = await this.target.call<{ Free: number }>('GET', '/berth/v1/system/disk');
    const img = await this.source.call<ImageInfo>('GET', `/images/${c.Image}/json`);
    const there = await this.target.request('GET', `/images/${c.Image}/json`);
    await there.buffer();
    const hasImage = there.status === 200;
    let need = (hasImage ? 0 : (img.Size ?? 0)) + (c.SizeRw ?? 0);
    if (this.o.withVolumes) {
      const df = await this.source.call<{ Volumes?: { Name: string; UsageData?: { Size?: number } }[] | null }>('GET', '/system/df', { query: { type: 'volume' } });
      const mine = new Set(volumeNames(c));
      for (const v of df.Volumes ?? []) if (mine.has(v.Name)) need += Math.max(0, v.UsageData?.Size ?? 0);
    }
    if (need > disk.Free) throw new StatusError(`Error: not enough disk space on ${this.targetName}: the move needs about ${humanSize(need)}, ${humanSize(disk.Free)} is free`, 1);
  }

  /** The create body without the source's default runtime, when the target's default differs. */
  private withoutDefaultRuntime(body: Record<string, unknown>): Record<string, unknown> {
    if (!this.runtimeLeftOut) return body;
    const { Runtime: _left, ...hostConfig } = body.HostConfig as Record<string, unknown>;
    return { ...body, HostConfig: hostConfig };
  }

  // ---------------------------------------------------------------- the copy

  private async copy(c: ContainerInfo, name: string): Promise<{ id: string }> {
    const image = this.targetIsBerth ? await this.sendImage(c) : await this.sendCommittedImage(c, name);
    this.throwIfInterrupted();
    await this.makeNetworks(c);
    this.throwIfInterrupted();
    if (this.o.withVolumes) await this.sendVolumes(c, image);
    this.throwIfInterrupted();
    if (!this.targetIsBerth) {
      this.progress.say(`Creating ${name} on ${this.targetName} (a Docker daemon: the container's own layer is part of its image there)`);
      const made = await this.target.call<{ Id: string }>('POST', '/containers/create', { query: { name }, body: this.withoutDefaultRuntime(createBody(c, image, this.o.withVolumes ? anonymousVolumes(c) : undefined)) });
      this.remember(`container ${name}`, () => this.target.call('DELETE', `/containers/${made.Id}`, { query: { force: true } }));
      return { id: made.Id };
    }
    // with their files, its anonymous volumes keep their names there
    const anonymous = this.o.withVolumes ? JSON.stringify(anonymousVolumes(c)) : '';
    const made = await this.target.call<{ Id: string }>('POST', '/berth/v1/containers/create', { query: { name, 'image-name': c.Config.Image ?? '', 'anonymous-volumes': anonymous }, body: this.withoutDefaultRuntime(createBody(c, c.Image)) });
    this.remember(`container ${name}`, () => this.target.call('DELETE', `/containers/${made.Id}`, { query: { force: true } }));
    this.throwIfInterrupted();
    // both on overlay2: the upper directory goes as it is (no conversion on either side)
    const [from, to] = await Promise.all([this.source, this.target].map((e) => e.call<{ Driver?: string }>('GET', '/info')));
    const format = from.Driver === 'overlay2' && to.Driver === 'overlay2' ? 'overlay' : 'layer';
    this.sent.layer += await this.relay(`Sending the container's own layer`, `/berth/v1/containers/${c.Id}/layer?format=${format}`, 'PUT', `/berth/v1/containers/${made.Id}/layer`, { format });
    if (c.HostConfig.LogConfig?.Type !== 'none') {
      this.sent.logs += await this.relay('Sending its log', `/berth/v1/containers/${c.Id}/logfiles`, 'PUT', `/berth/v1/containers/${made.Id}/logfiles`);
    }
    this.throwIfInterrupted();
    await this.target.call('POST', `/berth/v1/containers/${made.Id}/move-complete`);
    return { id: made.Id };
  }

  /** berth → berth: the image as it is, without the layers the target holds. */
  private async sendImage(c: ContainerInfo): Promise<string> {
    const there = await this.target.request('GET', `/images/${c.Image}/json`);
    await there.buffer();
    if (there.status === 200) {
      this.progress.say(`Image ${short(c.Image)}: already on ${this.targetName}`);
      return c.Image;
    }
    const img = await this.source.call<ImageInfo>('GET', `/images/${c.Image}/json`);
    const layers = img.RootFS?.Layers ?? [];
    const { Present } = await this.target.call<{ Present: number }>('POST', '/berth/v1/layers/present', { body: { DiffIDs: layers } });
    const omit = layers.slice(0, Present);
    this.progress.say(`Image ${short(c.Image)}: ${layers.length - Present} of ${layers.length} layers to send`);
    // remembered first: a load that fails part-way may have added layers already
    this.remember(`image ${short(c.Image)}`, () => this.target.call('DELETE', `/images/${c.Image}`, { query: { force: true } }).catch(() => undefined));
    // the source leaves out the layers the target holds
    this.sent.image += await this.relay('Sending image layers', `/berth/v1/images/${c.Image}/archive?omit-layers=${omit.join(',')}`, 'POST', '/images/load', {}, { quiet: true });
    await this.tagIfFree(c);
    return c.Image;
  }

  /** The image came by ID: it gets the name the container was made from, unless the target uses that name already. */
  private async tagIfFree(c: ContainerInfo): Promise<void> {
    const shown = c.Config.Image ?? '';
    if (!shown || /^(sha256:)?[0-9a-f]{12,64}$/.test(shown) || shown.includes('@')) return;
    const taken = await this.target.request('GET', `/images/${encodeURIComponent(shown)}/json`);
    await taken.buffer();
    if (taken.status !== 404) return;
    const slash = shown.lastIndexOf('/');
    const colon = shown.lastIndexOf(':');
    const [repo, tag] = colon > slash ? [shown.slice(0, colon), shown.slice(colon + 1)] : [shown, 'latest'];
    await this.target.call('POST', `/images/${c.Image}/tag`, { query: { repo, tag } });
  }

  /** berth → Docker: the container's layer goes into an image (as `commit` makes), which is sent whole. */
  private async sendCommittedImage(c: ContainerInfo, name: string): Promise<string> {
    const repo = `berth-moved/${name.toLowerCase().replace(/[^a-z0-9._-]/g, '-')}`;
    const tag = c.Id.slice(0, 12);
    this.progress.say(`Committing ${name}'s own layer into ${repo}:${tag} (the target is not berth)`);
    const committed = await this.source.call<{ Id: string }>('POST', '/commit', { query: { container: c.Id, repo, tag, pause: false }, body: {} });
    try {
      this.sent.image += await this.relay('Sending the image', `/images/${encodeURIComponent(`${repo}:${tag}`)}/get`, 'POST', '/images/load', {}, { quiet: true });
    } finally {
      await this.source.call('DELETE', `/images/${encodeURIComponent(`${repo}:${tag}`)}`).catch(() => undefined);
    }
    this.remember(`image ${repo}:${tag}`, () => this.target.call('DELETE', `/images/${encodeURIComponent(`${repo}:${tag}`)}`, { query: { force: true } }));
    return `${repo}:${tag}`;
  }

  private async makeNetworks(c: ContainerInfo): Promise<void> {
    for (const net of userNetworks(c)) {
      const r = await this.target.request('GET', `/networks/${encodeURIComponent(net)}`);
      await r.buffer();
      if (r.status === 200) continue;
      const n = await this.source.call<NetworkInfo>('GET', `/networks/${encodeURIComponent(net)}`);
      this.progress.say(`Creating network ${net} on ${this.targetName}`);
      const made = await this.target.call<{ Id: string }>('POST', '/networks/create', {
        body: { Name: n.Name, Driver: n.Driver, Internal: n.Internal, Attachable: n.Attachable, EnableIPv6: n.EnableIPv6, IPAM: n.IPAM, Options: n.Options ?? {}, Labels: n.Labels ?? {} },
      });
      this.remember(`network ${net}`, () => this.target.call('DELETE', `/networks/${made.Id}`));
    }
  }

  /** `image` is one the target holds by now: a helper container on a Docker target is made from it. */
  private async sendVolumes(c: ContainerInfo, image: string): Promise<void> {
    for (const name of volumeNames(c)) {
      const v = await this.source.call<VolumeInfo>('GET', `/volumes/${encodeURIComponent(name)}`);
      await this.target.call('POST', '/volumes/create', { body: { Name: name, Driver: v.Driver ?? 'local', DriverOpts: v.Options ?? {}, Labels: v.Labels ?? {} } });
      this.remember(`volume ${name}`, () => this.target.call('DELETE', `/volumes/${encodeURIComponent(name)}`, { query: { force: true } }));
      const from = `/berth/v1/volumes/${encodeURIComponent(name)}/archive`;
      if (this.targetIsBerth) {
        this.sent.volumes += await this.relay(`Sending volume ${name}`, from, 'PUT', from);
        continue;
      }
      // Docker has no volume archive: a container that mounts the volume (never started) takes the files
      const helper = await this.target.call<{ Id: string }>('POST', '/containers/create', {
        body: { Image: image, Entrypoint: ['true'], Cmd: [], NetworkDisabled: true, HostConfig: { Binds: [`${name}:${VOLUME_HELPER_PATH}`], NetworkMode: 'none' } },
      });
      try {
        this.sent.volumes += await this.relay(`Sending volume ${name}`, from, 'PUT', `/containers/${helper.Id}/archive`, { path: VOLUME_HELPER_PATH });
      } finally {
        await this.target.call('DELETE', `/containers/${helper.Id}`, { query: { force: true } }).catch(() => undefined);
      }
    }
  }

  /**
   * Streams a source answer into a target request, counting the bytes. A source that breaks
   * off aborts the target's request, so the target never takes half a stream as whole.
   */
  private async relay(label: string, fromPath: string, method: string, toPath: string, query: Record<string, string | boolean> = {}, loadOpts?: { quiet: boolean }): Promise<number> {
    this.throwIfInterrupted();
    this.progress.begin(label);
    const abort = new AbortController();
    const from = await this.source.stream('GET', fromPath, { signal: this.o.interrupt });
    // an interrupt breaks off both sides at once
    const stop = () => {
      abort.abort();
      from.destroy();
    };
    this.o.interrupt?.addEventListener('abort', stop, { once: true });
    try {
      return await this.pipe(from, method, toPath, query, abort, loadOpts);
    } finally {
      this.o.interrupt?.removeEventListener('abort', stop);
    }
  }

  /** The relay's body: the source's stream, counted, into the target's request. */
  private async pipe(from: Readable, method: string, toPath: string, query: Record<string, string | boolean>, abort: AbortController, loadOpts?: { quiet: boolean }): Promise<number> {
    // a few MiB in flight lets the source's and the target's disks work at the same time
    const counted = new Transform({
      highWaterMark: 4 << 20,
      transform: (chunk: Buffer, _enc, done) => {
        this.progress.add(chunk.length);
        done(null, chunk);
      },
    });
    let fed: unknown;
    const feeding = pipeline(from, counted).catch((e: unknown) => {
      fed = e;
      abort.abort();
    });
    let res;
    try {
      res = await this.target.request(method, toPath, { query: { ...query, ...(loadOpts ?? {}) }, body: counted, headers: { 'Content-Type': 'application/x-tar' }, signal: abort.signal });
    } catch (e) {
      from.destroy();
      await feeding;
      // the source broke off first: that is the failure to report, not the aborted upload
      throw fed instanceof Error && !/premature close/i.test(fed.message) ? fed : e;
    }
    const text = await res.text();
    await feeding;
    if (fed) throw fed;
    if (res.status < 200 || res.status >= 300) throw new EngineError(res.status, errorOf(text));
    if (loadOpts) throwLoadError(text);
    this.throwIfInterrupted();
    return this.progress.end().bytes;
  }

  private remember(what: string, run: () => Promise<unknown>): void {
    this.undo.push({ what, run });
  }

  /** Removes what was made on the target (newest first) and starts the source again if it ran. */
  private async rollBack(c: ContainerInfo, wasRunning: boolean): Promise<void> {
    for (const step of this.undo.reverse()) {
      await step.run().catch((e: unknown) => this.progress.say(`Could not remove the ${step.what} made on ${this.targetName}: ${(e as Error).message}`));
    }
    const name = c.Name.replace(/^\//, '');
    await this.source.call('POST', `/berth/v1/containers/${c.Id}/move-abort`).catch((e: unknown) => this.progress.say(`Could not mark ${name} as staying on the source (its restart policy stays off until it is started by hand): ${(e as Error).message}`));
    if (wasRunning) {
      await this.source.call('POST', `/containers/${c.Id}/start`).catch((e: unknown) => this.progress.say(`Could not start ${c.Name.replace(/^\//, '')} again on the source: ${(e as Error).message}`));
    }
  }
}

function short(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

function errorOf(text: string): string {
  try {
    const m = (JSON.parse(text) as { message?: string }).message;
    if (m) return m;
  } catch {
    /* not JSON */
  }
  return text.trim();
}

/** `POST /images/load` answers 200 and reports a failure inside its JSON lines. */
function throwLoadError(text: string): void {
  for (const line of text.split(/\r?\n/)) {
    if (!line.trim()) continue;
    let msg: { error?: string; errorDetail?: { message?: string } };
    try {
      msg = JSON.parse(line) as typeof msg;
    } catch {
      continue;
    }
    if (msg.error || msg.errorDetail) throw new Error(`loading the image on the target: ${msg.errorDetail?.message ?? msg.error}`);
  }
}

