import * as path from 'node:path';
import { promises as fsp } from 'node:fs';
import type { ImageStore } from '../image/store';
import type { Reference } from '../image/reference';
import { DEFAULT_DOMAIN } from '../image/reference';
import type { AuthConfig } from './auth';
import { RegistryClient } from './client';
import { endpointsFor, type RegistrySettings } from './endpoint';
import { DistributionMetadata } from './metadata';
import { ProgressReporter } from './progress';
import { pullImage, type PullResult } from './pull';
import { pushRepository } from './push';
import { searchRegistry, type SearchResult } from './search';

/** The engine's side of registries: pull, push, login and search, with the daemon's settings. */
export class Distribution {
  private readonly inflight = new Map<string, Promise<PullResult>>();

  private constructor(
    private readonly images: ImageStore,
    private readonly metadata: DistributionMetadata,
    readonly settings: RegistrySettings,
    private readonly downloadDir: string,
  ) {}

  static async open(images: ImageStore, imageRoot: string, settings: RegistrySettings): Promise<Distribution> {
    const metadata = await DistributionMetadata.open(path.join(imageRoot, 'distribution'));
    const downloadDir = path.join(imageRoot, 'downloads');
    await fsp.mkdir(downloadDir, { recursive: true });
    // a download cut short by a crash is not worth resuming byte-wise; complete ones are kept
    for (const f of await fsp.readdir(downloadDir)) if (f.endsWith('.partial')) await fsp.rm(path.join(downloadDir, f), { force: true });
    return new Distribution(images, metadata, settings, downloadDir);
  }

  /**
   * Pulls of the same reference at the same time are one pull: the others wait for it and
   * share its result (after it, each may still differ in credentials, so a failure is not
   * shared: it is retried by the next caller).
   */
  async pull(ref: Reference, auth: AuthConfig, platform: string | undefined, progress: ProgressReporter): Promise<PullResult> {
    const key = JSON.stringify([ref, platform ?? '', auth.username ?? '', auth.password ?? '', auth.identitytoken ?? '', auth.registrytoken ?? '']);
    const running = this.inflight.get(key);
    if (running) {
      const r = await running.catch(() => undefined);
      if (r) return r;
    }
    const p = pullImage({ images: this.images, metadata: this.metadata, settings: this.settings, downloadDir: this.downloadDir }, ref, { auth, platform, progress });
    this.inflight.set(key, p);
    try {
      return await p;
    } finally {
      if (this.inflight.get(key) === p) this.inflight.delete(key);
    }
  }

  push(name: string, tag: string, auth: AuthConfig, progress: ProgressReporter): Promise<void> {
    return pushRepository({ images: this.images, metadata: this.metadata, settings: this.settings }, name, tag, { auth, progress });
  }

  /** Checks credentials against a registry's version endpoint, as `docker login` asks the daemon to. */
  async login(auth: AuthConfig): Promise<void> {
    const server = (auth.serveraddress ?? '').replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    const domain = !server || /(^|\.)docker\.io$/.test(server) ? DEFAULT_DOMAIN : server;
    const endpoint = endpointsFor(domain, this.settings, 'push')[0];
    await new RegistryClient(endpoint, auth, []).login();
  }

  search(term: string, limit: number, auth: AuthConfig): Promise<SearchResult[]> {
    return searchRegistry(term, limit, auth, this.settings);
  }
}
