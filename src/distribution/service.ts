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

  pull(ref: Reference, auth: AuthConfig, platform: string | undefined, progress: ProgressReporter): Promise<PullResult> {
    return pullImage({ images: this.images, metadata: this.metadata, settings: this.settings, downloadDir: this.downloadDir }, ref, { auth, platform, progress });
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
