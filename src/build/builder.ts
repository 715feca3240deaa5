import type { AuthConfig } from '../distribution/auth';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import type { ContainerConfig, ImageConfigFile } from '../api/types';
import { BerthError, invalid, notFound, system } from '../common/errors';
import { digestOf, shortId } from '../common/ids';
import { resolveUser } from '../container/user';
import { DEFAULT_PATH_ENV } from '../container/spec';
import { ScopedFS, ScopeError } from '../archive/scoped-fs';
import { mountAll, unmount } from '../layer/mount';
import type { Snapshotter } from '../layer/snapshotter';
import { chainIDs, type ImageStore } from '../image/store';
import { ensureBuiltinBusybox, isBuiltinReference } from '../image/builtin';
import { parseReference, withDefaultTag, type Reference } from '../image/reference';
import { span, timed } from '../common/timing';
import { BuildCache, type CacheSession } from './cache';
import { CacheFromSources } from './cache-from';
import { SourceTree, type CopySource } from './context';
import { CopyInto } from './copy-into';
import { runStep, throwIfCancelled, type StepNetwork } from './run-step';
import { checkpoint } from './checkpoint';
import { ContextArchive } from './context-archive';
import { planBuild, toStep, type BuildPlan, type Step } from './plan';
import { expandFrom, StageScope } from './dockerfile/args';
import { findStage } from './dockerfile/stages';
import { parseDockerfile } from './dockerfile/parse';
import type { Instruction } from './dockerfile/types';

export interface BuildOptions {
  dockerfile: string;
  tags: string[];
  buildArgs: Record<string, string | null>;
  labels: Record<string, string>;
  target?: string;
  noCache: boolean;
  quiet: boolean;
  /** credentials for base image pulls, by registry host (the X-Registry-Config header) */
  registryAuth?: Record<string, AuthConfig>;
  /** `name:address` lines for the RUN steps' /etc/hosts */
  extraHosts?: string[];
  /** the RUN steps' network: host (the default), none, or a user network's name or ID */
  networkMode?: string;
  /** images whose lines are the only cache (`--cache-from`); absent: the whole step cache */
  cacheFrom?: string[];
}

export interface BuildProgress {
  stream: (text: string) => void;
  aux: (imageId: string) => void;
}

export interface BuilderDeps {
  images: ImageStore;
  snapshotter: Snapshotter;
  /** a folder for contexts and step bundles, on the data root's filesystem */
  workRoot: string;
  cacheDir: string;
  runtimePath: string;
  runtimeRoot: string;
  cgroupParent: string;
  /** a network for the RUN steps of one build (`networkmode` none or a user network); `release` undoes it */
  stepNetwork?: (mode: string, owner: string) => Promise<{ network: StepNetwork; release: () => Promise<void> }>;
  /** pulls a base image the store lacks; returns its ID */
  pull?: (ref: Reference, auth: AuthConfig, say: (text: string) => void) => Promise<string>;
}

/** The state of a stage as it is built: an image config whose layers are in the store. */
type State = ImageConfigFile;

/**
 * Docker's legacy builder, keyed by content: each instruction of the stages the target
 * needs is applied to the state left by the one before; a step whose key (state, expanded
 * instruction, copied content, used args) is in the cache is not run again.
 */
export class Builder {
  private constructor(
    private readonly d: BuilderDeps,
    /** the step cache (also what `system df` and `builder prune` report and free) */
    readonly cache: BuildCache,
  ) {}

  static async open(d: BuilderDeps): Promise<Builder> {
    // a daemon that stopped in the middle of a build left its step snapshots behind
    for (const s of await d.snapshotter.list()) {
      if (s.kind === 'active' && /^build-/.test(s.name)) await d.snapshotter.remove(s.name).catch(() => undefined);
    }
    await fsp.rm(d.workRoot, { recursive: true, force: true });
    await fsp.mkdir(d.workRoot, { recursive: true });
    return new Builder(d, await BuildCache.open(d.cacheDir, d.images));
  }

  /** `signal`: aborted when the client goes away; the build stops, its RUN killed, nothing tagged. */
  async build(context: Readable, o: BuildOptions, progress: BuildProgress, signal?: AbortSignal): Promise<string> {
    for (const t of o.tags) parseReference(t);
    const buildId = randomBytes(8).toString('hex');
    const work = path.join(this.d.workRoot, buildId);
    await fsp.mkdir(work, { recursive: true });
    const cache = this.cache.session();
    let network: { network: StepNetwork; release: () => Promise<void> } | undefined;
    try {
      const ctx = await timed('build context receive', buildId, () => ContextArchive.receive(context, work, { keep: [o.dockerfile, '.dockerignore'] }));
      const plan = await planBuild((rel) => ctx.read(rel), o);
      const say = (text: string) => {
        if (!o.quiet) progress.stream(text);
      };
      const results = new Map<number, State>();
      const mode = o.networkMode ?? '';
      const ownNetwork = !['', 'default', 'host'].includes(mode);
      if (ownNetwork && !this.d.stepNetwork) throw invalid(`network mode ${mode} is not supported for builds`);
      // the network is made once, when the first RUN step needs it
      let made: Promise<StepNetwork> | undefined;
      const stepNetwork = ownNetwork
        ? () =>
            (made ??= this.d.stepNetwork!(mode, `build-${path.basename(work)}`).then((n) => {
              network = n;
              return n.network;
            }))
        : undefined;
      const cacheFrom = o.cacheFrom?.length ? CacheFromSources.resolve(o.cacheFrom, this.d.images) : undefined;
      const run: BuildRun = { id: buildId, results, plan, ctx, work, o, say, cache, signal, stepNetwork, cacheFrom };
      const total = plan.order.reduce((n, s) => n + 1 + s.instructions.length, 0);
      let stepNo = 0;
      let final: State | undefined;
      // the image the last stage is made on (through its stages): the built image's Parent, which keeps it from removal
      let finalBase: string | undefined;
      const stageBases = new Map<number, string>();
      for (const stage of plan.order) {
        throwIfCancelled(signal);
        stepNo++;
        say(`Step ${stepNo}/${total} : ${stage.original}\n`);
        const { baseName } = expandFrom(stage, plan.globals, plan.escape);
        const fromStage = findStage(plan.df, baseName);
        const base: Base = baseName.toLowerCase() === 'scratch' ? { kind: 'scratch' } : fromStage && fromStage.index < stage.index ? { kind: 'stage', index: fromStage.index } : { kind: 'image', name: baseName };
        let state = await this.baseState(base, results, run);
        // an image base shows its own ID, as Docker's does
        const baseImage = base.kind === 'image' ? this.d.images.resolve(base.name) : undefined;
        say(` ---> ${shortId(baseImage?.id ?? (await this.stateId(state)))}\n`);
        const scope = StageScope.create(plan.globals, o.buildArgs, state.config?.Env ?? [], plan.escape);
        // the base image's ONBUILD triggers run first, and are not passed on
        const triggers: Instruction[] = state.config?.OnBuild?.length ? parseDockerfile(`FROM scratch\n${state.config.OnBuild.join('\n')}\n`).stages[0].instructions : [];
        if (state.config?.OnBuild?.length) state = { ...state, config: { ...state.config, OnBuild: null } };
        for (const trigger of triggers) {
          throwIfCancelled(signal);
          say(`# Executing ONBUILD trigger: ${trigger.original}\n`);
          state = await this.runStepCached(state, toStep(trigger, scope, plan.escape, shellOf(state)), run);
        }
        for (const instr of stage.instructions) {
          throwIfCancelled(signal);
          stepNo++;
          say(`Step ${stepNo}/${total} : ${instr.original}\n`);
          const endStep = span(`build step ${stepNo} ${instr.kind}`, buildId);
          state = await this.runStepCached(state, toStep(instr, scope, plan.escape, shellOf(state)), run);
          endStep();
          // the last step's arrow names the built image, said once it has its ID
          if (stepNo < total) say(` ---> ${shortId(await this.stateId(state))}\n`);
        }
        results.set(stage.index, state);
        final = state;
        finalBase = baseImage?.id ?? (base.kind === 'stage' ? stageBases.get(base.index) : undefined);
        if (finalBase) stageBases.set(stage.index, finalBase);
      }
      if (!final) throw invalid('no build stage in current context');
      throwIfCancelled(signal);
      if (Object.keys(o.labels).length) final = { ...final, config: { ...final.config, Labels: { ...(final.config?.Labels ?? {}), ...o.labels } } };
      // the last step's time: a build that changed nothing gives the same image ID again
      const built = { ...final, created: final.history?.[final.history.length - 1]?.created ?? new Date().toISOString() };
      const endImage = span('build image write', buildId);
      const id = await this.d.images.addImage(built, undefined, undefined, { parent: finalBase });
      for (const t of o.tags) await this.d.images.tag(id, t);
      endImage();
      if (plan.order[plan.order.length - 1].instructions.length) say(` ---> ${shortId(id)}\n`);
      progress.aux(id);
      if (o.quiet) progress.stream(`${id}\n`);
      else {
        say(`Successfully built ${shortId(id)}\n`);
        for (const t of o.tags) say(`Successfully tagged ${formatTag(t)}\n`);
      }
      return id;
    } finally {
      cache.close();
      if (network) await network.release().catch(() => undefined);
      await fsp.rm(work, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  private async stateId(state: State): Promise<string> {
    return digestOf(JSON.stringify(state));
  }

  private async baseState(base: Base, results: Map<number, State>, run: BuildRun): Promise<State> {
    if (base.kind === 'scratch') {
      return { architecture: 'amd64', os: 'linux', config: { Env: [`PATH=${DEFAULT_PATH_ENV}`] }, rootfs: { type: 'layers', diff_ids: [] }, history: [] };
    }
    if (base.kind === 'stage') {
      const s = results.get(base.index);
      if (!s) throw invalid(`stage ${base.index} has not been built`);
      return s;
    }
    let img = this.d.images.resolve(base.name);
    if (!img) {
      const ref = withDefaultTag(parseReference(base.name));
      if (isBuiltinReference(ref)) img = this.d.images.resolve(await ensureBuiltinBusybox(this.d.images));
    }
    if (!img && this.d.pull) {
      const ref = withDefaultTag(parseReference(base.name));
      const id = await this.d.pull(ref, run.o.registryAuth?.[ref.domain] ?? {}, run.say).catch((e: unknown) => {
        const message = `failed to pull base image ${base.name}: ${(e as Error).message}`;
        throw e instanceof BerthError ? new BerthError(e.code, message) : system(message, e);
      });
      img = this.d.images.resolve(id);
    }
    if (!img) throw notFound(`pull access denied for ${base.name}, repository does not exist or may require 'docker login'`);
    const { created: _c, ...rest } = img.config;
    const config = { ...(img.config.config ?? {}) };
    // as the classic builder: a stage on a base that sets no PATH runs, and is committed, with the default one
    if (!(config.Env ?? []).some((e) => e.split('=')[0] === 'PATH')) config.Env = [...(config.Env ?? []), `PATH=${DEFAULT_PATH_ENV}`];
    return { ...rest, config, history: [...(img.config.history ?? [])] };
  }

  private async runStepCached(state: State, step: Step, run: BuildRun): Promise<State> {
    const { o, say, cache } = run;
    // a metadata step is cached too, so the history times (and the keys after it) stay the same
    const isMeta = !['RUN', 'COPY', 'ADD', 'WORKDIR'].includes(step.kind);
    const metaKey = isMeta ? BuildCache.key([await this.stateId(state), 'meta', { ...step, text: undefined }]) : '';
    if (isMeta && !o.noCache) {
      const hit = await timed('build cache lookup', run.id, () => cache.get(metaKey, run.cacheFrom && ((s) => run.cacheFrom!.allows(s))));
      if (hit) {
        say(' ---> Using cache\n');
        return hit;
      }
    }
    let result = await this.applyStep(state, step, run);
    // a metadata step's result is known without running it: a cache-from source may have it
    const restored = isMeta && !o.noCache && run.cacheFrom?.restore(state, result.history?.[result.history.length - 1]?.created_by ?? '', result.config ?? {});
    if (restored) {
      say(' ---> Using cache\n');
      result = restored;
    }
    if (isMeta) await timed('build cache record', run.id, () => cache.put(metaKey, result, { input: BuildCache.stateDigest(state), description: step.text }));
    return result;
  }

  private async applyStep(state: State, step: Step, run: BuildRun): Promise<State> {
    const { results, plan, ctx, work } = run;
    const config: ContainerConfig = { ...(state.config ?? {}) };
    const history = [...(state.history ?? [])];
    const meta = (createdBy: string, change: (c: ContainerConfig) => void): State => {
      change(config);
      return { ...state, config, history: [...history, { created: new Date().toISOString(), created_by: createdBy, empty_layer: true }] };
    };
    switch (step.kind) {
      case 'ENV':
        return meta(`/bin/sh -c #(nop) ENV ${step.pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`, (c) => {
          const env = [...(c.Env ?? [])];
          for (const [k, v] of step.pairs) {
            const i = env.findIndex((e) => e.split('=')[0] === k);
            if (i >= 0) env[i] = `${k}=${v}`;
            else env.push(`${k}=${v}`);
          }
          c.Env = env;
        });
      case 'LABEL':
        return meta(`/bin/sh -c #(nop) LABEL ${step.pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`, (c) => {
          c.Labels = { ...(c.Labels ?? {}), ...Object.fromEntries(step.pairs) };
        });
      case 'CMD':
        return meta(`/bin/sh -c #(nop)  CMD ${JSON.stringify(step.args)}`, (c) => (c.Cmd = step.args));
      case 'ENTRYPOINT':
        return meta(`/bin/sh -c #(nop)  ENTRYPOINT ${JSON.stringify(step.args)}`, (c) => {
          c.Entrypoint = step.args;
          if (!step.keepCmd) c.Cmd = null;
        });
      case 'EXPOSE':
        return meta(`/bin/sh -c #(nop)  EXPOSE ${step.ports.join(' ')}`, (c) => {
          c.ExposedPorts = { ...(c.ExposedPorts ?? {}), ...Object.fromEntries(step.ports.map((p) => [p.includes('/') ? p : `${p}/tcp`, {}])) };
        });
      case 'VOLUME':
        return meta(`/bin/sh -c #(nop)  VOLUME ${JSON.stringify(step.paths)}`, (c) => {
          c.Volumes = { ...(c.Volumes ?? {}), ...Object.fromEntries(step.paths.map((p) => [p, {}])) };
        });
      case 'USER':
        return meta(`/bin/sh -c #(nop)  USER ${step.user}`, (c) => (c.User = step.user));
      case 'STOPSIGNAL':
        return meta(`/bin/sh -c #(nop)  STOPSIGNAL ${step.signal}`, (c) => (c.StopSignal = step.signal));
      case 'SHELL':
        return meta(`/bin/sh -c #(nop)  SHELL ${JSON.stringify(step.args)}`, (c) => (c.Shell = step.args));
      case 'HEALTHCHECK':
        return meta(`/bin/sh -c #(nop)  HEALTHCHECK ${step.text}`, (c) => (c.Healthcheck = step.health));
      case 'ONBUILD':
        return meta(`/bin/sh -c #(nop)  ONBUILD ${step.trigger}`, (c) => (c.OnBuild = [...(c.OnBuild ?? []), step.trigger]));
      case 'MAINTAINER':
        return { ...meta(`/bin/sh -c #(nop)  MAINTAINER ${step.name}`, () => undefined), author: step.name };
      case 'ARG':
        return meta(`/bin/sh -c #(nop) ARG ${step.text}`, () => undefined);
      case 'WORKDIR': {
        const dir = path.posix.resolve(config.WorkingDir || '/', step.path);
        return this.layerStep(state, { ...config, WorkingDir: dir }, `/bin/sh -c #(nop) WORKDIR ${dir}`, ['WORKDIR', dir], step.text, run, async (root) => {
          makeDirInRoot(root, dir);
        }, true);
      }
      case 'RUN': {
        const shell = config.Shell?.length ? config.Shell : ['/bin/sh', '-c'];
        const args = step.exec ? step.exec : [...shell, step.command!];
        const env = step.env;
        const argsPrefix = step.usedArgs.length ? `|${step.usedArgs.length} ${step.usedArgs.map(([k, v]) => `${k}=${v}`).join(' ')} ` : '';
        const createdBy = `${argsPrefix}${step.exec ? JSON.stringify(step.exec) : `${shell.join(' ')} ${step.command}`}`;
        return this.layerStep(state, config, createdBy, ['RUN', args, step.usedArgs], step.text, run, async (_root, key, release) => {
          await runStep({
            snapshotter: this.d.snapshotter,
            key,
            workDir: work,
            runtimePath: this.d.runtimePath,
            runtimeRoot: this.d.runtimeRoot,
            cgroupParent: this.d.cgroupParent,
            config: { ...config, Env: env },
            args,
            // as Docker's classic builder: a step's stderr comes in red (ANSI 91), each write whole
            output: (s, data) => run.say(s === 'stderr' ? `\x1b[91m${data.toString()}\x1b[0m` : data.toString()),
            signal: run.signal,
            network: await run.stepNetwork?.(),
            extraHosts: run.o.extraHosts,
            detachRelease: release,
          });
        }, false, true);
      }
      case 'COPY':
      case 'ADD': {
        // '' until known: the context is unpacked only if this step misses the cache
        let srcRoot = '';
        let srcExcluded = plan.excluded;
        let fromMount: { key: string; dir: string } | undefined;
        let inlineDir: string | undefined;
        if (step.from !== undefined) {
          const fromStage = findStage(plan.df, step.from);
          const fromState = fromStage ? results.get(fromStage.index) : await this.imageState(step.from);
          if (!fromState) throw invalid(`invalid from flag value ${step.from}: no stage or image of that name`);
          fromMount = await this.mountState(fromState, work);
          srcRoot = fromMount.dir;
          srcExcluded = () => false;
        } else if (step.inline.length) {
          // COPY <<EOF: each here-document is a file named after its delimiter
          inlineDir = path.join(work, `inline-${randomBytes(6).toString('hex')}`);
          await fsp.mkdir(inlineDir, { recursive: true });
          for (const f of step.inline) await fsp.writeFile(path.join(inlineDir, f.name), f.content, { mode: 0o644 });
          srcRoot = inlineDir;
          srcExcluded = () => false;
        }
        // a stage's or image's root and the here-documents are read where they are; the context once unpacked
        let tree = srcRoot ? SourceTree.open(srcRoot) : undefined;
        try {
          const sources: string[] = [];
          let digest: string;
          if (tree) {
            for (const s of step.inline.length ? step.inline.map((f) => f.name) : step.sources) sources.push(...tree.expand(s, srcExcluded));
            digest = await tree.digest(sources, srcExcluded, checkpoint(run.signal));
          } else {
            const endDigest = span('build context digest', run.id);
            const named = step.sources.map((s) => ctx.resolve(s, srcExcluded));
            if (named.every((n) => n !== undefined)) {
              for (const n of named) sources.push(...n);
              digest = ctx.digest(sources, srcExcluded);
              endDigest();
            } else {
              // a symlink of the context on the way: resolved and hashed on disk, inside the context
              tree = SourceTree.open(await ctx.materialize());
              for (const s of step.sources) sources.push(...tree.expand(s, srcExcluded));
              digest = await tree.digest(sources, srcExcluded, checkpoint(run.signal));
            }
          }
          const workdir = config.WorkingDir || '/';
          const destRaw = step.dest.startsWith('/') ? step.dest : path.posix.join(workdir, step.dest);
          const destIsDir = step.dest.endsWith('/') || sources.length > 1;
          const createdBy = `/bin/sh -c #(nop) ${step.kind} ${step.kind === 'COPY' ? 'file' : 'file'}:${digest} in ${destRaw} `;
          return await this.layerStep(state, config, createdBy, [step.kind, sources, digest, destRaw, step.chown, step.chmod], step.text, run, async (root) => {
            // the context's files come from its index when it holds them all: nothing is unpacked twice
            const from: CopySource = tree ?? (ctx.copiesFromIndex() ? ctx : (tree = SourceTree.open(await timed('build context unpack', run.id, () => ctx.materialize()))));
            const owner = step.chown ? await resolveOwner(root, step.chown) : {};
            const mode = step.chmod ? parseInt(step.chmod, 8) : undefined;
            const into = new CopyInto(root);
            const tick = checkpoint(run.signal);
            try {
              for (const rel of sources) await into.copy(from, rel, destRaw, destIsDir, { ...owner, mode, excluded: srcExcluded, unpackTars: step.kind === 'ADD', tick });
            } finally {
              into.close();
            }
          });
        } finally {
          tree?.close();
          if (fromMount) await this.unmountState(fromMount);
          if (inlineDir) await fsp.rm(inlineDir, { recursive: true, force: true });
        }
      }
    }
  }

  private async imageState(name: string): Promise<State | undefined> {
    const img = this.d.images.resolve(name);
    return img?.config;
  }

  /** Mounts a state's layers read-only-by-convention in a throwaway snapshot (for COPY --from). */
  private async mountState(state: State, work: string): Promise<{ key: string; dir: string }> {
    const chain = chainIDs(state.rootfs.diff_ids);
    const key = `build-from-${randomBytes(6).toString('hex')}`;
    await this.d.snapshotter.prepare(key, chain.length ? chain[chain.length - 1].replace(/^sha256:/, '') : undefined);
    const dir = path.join(work, key);
    await fsp.mkdir(dir, { recursive: true });
    await mountAll(await this.d.snapshotter.mounts(key), dir);
    return { key, dir };
  }

  private async unmountState(m: { key: string; dir: string }): Promise<void> {
    await unmount(m.dir).catch(() => undefined);
    await this.d.snapshotter.remove(m.key).catch(() => undefined);
  }

  /**
   * A step that changes the filesystem: looked up in the cache by its key; otherwise the
   * change is made in a fresh snapshot on the state's top layer and committed as a layer.
   * `skipEmpty`: a step that changed nothing adds no layer (WORKDIR of an existing dir).
   */
  private async layerStep(
    state: State,
    config: ContainerConfig,
    createdBy: string,
    keyParts: unknown[],
    description: string,
    run: BuildRun,
    /** `release`: a step that mounts its root itself hands over its unmount (see RunStepOptions.detachRelease) */
    change: (root: string, key: string, release: (released: Promise<void>) => void) => Promise<void>,
    skipEmpty = false,
    mountedByStep = false,
  ): Promise<State> {
    const { o, say, work, cache } = run;
    const cacheKey = BuildCache.key([await this.stateId(state), config, keyParts]);
    if (!o.noCache) {
      // a hit has all its layers in the store
      const hit = await timed('build cache lookup', run.id, () => cache.get(cacheKey, run.cacheFrom && ((s) => run.cacheFrom!.allows(s))));
      const restored = hit ?? run.cacheFrom?.restore(state, createdBy, config);
      if (restored) {
        say(' ---> Using cache\n');
        if (!hit) await cache.put(cacheKey, restored, { input: BuildCache.stateDigest(state), description });
        return restored;
      }
    }
    const chain = chainIDs(state.rootfs.diff_ids);
    const parent = chain.length ? chain[chain.length - 1] : undefined;
    const key = `build-${randomBytes(8).toString('hex')}`;
    await timed('build snapshot prepare', run.id, () => this.d.snapshotter.prepare(key, parent?.replace(/^sha256:/, '')));
    let committed = false;
    // The step's root is unmounted while its changes are read from the snapshot's own folder:
    // an overlay's unmount syncs the upper file system, which may take a while on a busy disk.
    // It is awaited before the snapshot is committed or removed.
    let released: Promise<void> = Promise.resolve();
    const release = (p: Promise<void>) => void (released = p);
    try {
      const endChange = span(`build ${String(keyParts[0])} change`, run.id);
      if (mountedByStep) {
        say(` ---> Running in ${key.slice(6, 18)}\n`);
        await change('', key, release);
      } else {
        const root = path.join(work, key);
        await fsp.mkdir(root, { recursive: true });
        await timed('build mount', run.id, async () => mountAll(await this.d.snapshotter.mounts(key), root));
        try {
          await change(root, key, release);
        } finally {
          released = timed('build unmount', run.id, () => unmount(root).catch(() => undefined));
        }
      }
      endChange();
      throwIfCancelled(run.signal); // a step cut short by a cancel leaves no layer and no cache record
      const endCommit = span('build layer diff+commit', run.id);
      const changed = (await fsp.readdir(await this.d.snapshotter.changesDir(key))).length > 0 || this.d.snapshotter.driver === 'vfs';
      const entry = { created: new Date().toISOString(), created_by: createdBy };
      let next: State;
      if (skipEmpty && !changed) {
        next = { ...state, config, history: [...(state.history ?? []), { ...entry, empty_layer: true }] };
      } else {
        const layer = await this.d.images.commitSnapshot(key, this.d.snapshotter.diff(key), parent, released);
        committed = true;
        next = { ...state, config, rootfs: { type: 'layers', diff_ids: [...state.rootfs.diff_ids, layer.diffID] }, history: [...(state.history ?? []), entry] };
      }
      endCommit();
      await timed('build cache record', run.id, () => cache.put(cacheKey, next, { input: BuildCache.stateDigest(state), description }));
      return next;
    } finally {
      await released;
      if (!committed) await this.d.snapshotter.remove(key).catch(() => undefined);
    }
  }
}

/** What every step of one build shares. */
interface BuildRun {
  /** the build's ID in the --debug log's spans */
  id: string;
  /** finished stages by index, for FROM <stage> and COPY --from */
  results: Map<number, State>;
  plan: BuildPlan;
  /** the context as received; unpacked only when a step copies from it */
  ctx: ContextArchive;
  work: string;
  o: BuildOptions;
  say: (text: string) => void;
  /** the build's use of the cache: its records are in use while it runs */
  cache: CacheSession;
  /** aborted when the client went away */
  signal?: AbortSignal;
  /** the RUN steps' network when the build asked for one of its own */
  stepNetwork?: () => Promise<StepNetwork>;
  /** the build named cache sources: only their lines are cache */
  cacheFrom?: CacheFromSources;
}

type Base = { kind: 'scratch' } | { kind: 'stage'; index: number } | { kind: 'image'; name: string };

function shellOf(state: State): string[] {
  return state.config?.Shell?.length ? state.config.Shell : ['/bin/sh', '-c'];
}

function formatTag(t: string): string {
  const ref = withDefaultTag(parseReference(t));
  return `${t.includes(':') && !t.endsWith(':') ? t : `${t}:${ref.tag}`}`;
}

/** WORKDIR's `mkdir -p`, links on the way followed inside the step's root (scoped-fs.ts). */
function makeDirInRoot(root: string, dir: string): void {
  const sfs = ScopedFS.open(root);
  try {
    sfs.resolve(dir, { followLast: true, createDirs: true }).close();
  } catch (e) {
    if (e instanceof ScopeError) throw invalid(`failed to create the working directory ${dir}: ${e.message}`);
    throw e;
  } finally {
    sfs.close();
  }
}

async function resolveOwner(root: string, chown: string): Promise<{ uid: number; gid: number }> {
  const u = await resolveUser(root, chown);
  return { uid: u.uid, gid: u.gid };
}
