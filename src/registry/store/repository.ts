import { orUndefined, StorageDriver } from '../storage/driver';
import * as P from './paths';

/**
 * What a repository holds: links into the shared blob store. A blob or manifest is in a
 * repository exactly when its link exists; deleting a link never deletes content (gc does).
 */
export class Repository {
  constructor(private readonly d: StorageDriver, readonly name: string) {}

  async exists(): Promise<boolean> {
    return (await orUndefined(this.d.stat(P.repoRoot(this.name)))) !== undefined;
  }

  private async hasLink(p: string): Promise<boolean> {
    return (await orUndefined(this.d.stat(p))) !== undefined;
  }

  // Layers
  hasLayer(digest: string): Promise<boolean> {
    return this.hasLink(P.layerLink(this.name, digest));
  }
  linkLayer(digest: string): Promise<void> {
    return this.d.putContent(P.layerLink(this.name, digest), digest);
  }
  unlinkLayer(digest: string): Promise<void> {
    return this.d.delete(P.layerLink(this.name, digest).replace(/\/link$/, ''));
  }
  async layers(): Promise<string[]> {
    const out: string[] = [];
    await this.d.walk(`${P.repoRoot(this.name)}/_layers`, async (i) => {
      if (i.path.endsWith('/link')) out.push((await this.d.getContent(i.path)).toString());
    });
    return out;
  }

  // Manifest revisions, stored with the Content-Type they were pushed with.
  hasRevision(digest: string): Promise<boolean> {
    return this.hasLink(`${P.revisionDir(this.name, digest)}/link`);
  }
  async linkRevision(digest: string, mediaType: string): Promise<void> {
    // 'type' first: a revision whose link exists always has its type.
    await this.d.putContent(`${P.revisionDir(this.name, digest)}/type`, mediaType);
    await this.d.putContent(`${P.revisionDir(this.name, digest)}/link`, digest);
  }
  async revisionType(digest: string): Promise<string> {
    return (await this.d.getContent(`${P.revisionDir(this.name, digest)}/type`)).toString();
  }
  unlinkRevision(digest: string): Promise<void> {
    return this.d.delete(P.revisionDir(this.name, digest));
  }
  async revisions(): Promise<string[]> {
    const out: string[] = [];
    await this.d.walk(P.revisionsDir(this.name), async (i) => {
      if (i.path.endsWith('/link')) out.push((await this.d.getContent(i.path)).toString());
    });
    return out;
  }

  // Tags
  async resolveTag(tag: string): Promise<string | undefined> {
    return (await orUndefined(this.d.getContent(P.tagLink(this.name, tag))))?.toString();
  }
  tag(tag: string, digest: string): Promise<void> {
    return this.d.putContent(P.tagLink(this.name, tag), digest);
  }
  untag(tag: string): Promise<void> {
    return this.d.delete(P.tagLink(this.name, tag).replace(/\/link$/, ''));
  }
  async tags(): Promise<string[]> {
    const dirs = (await orUndefined(this.d.list(P.tagsDir(this.name)))) ?? [];
    return dirs.map((p) => p.slice(p.lastIndexOf('/') + 1)).sort();
  }

  // Referrers: an index from subject digest to the manifests that name it.
  linkReferrer(subject: string, referrer: string): Promise<void> {
    return this.d.putContent(P.referrerLink(this.name, subject, referrer), referrer);
  }
  async unlinkReferrer(subject: string, referrer: string): Promise<void> {
    await orUndefined(this.d.delete(P.referrerLink(this.name, subject, referrer).replace(/\/link$/, '')));
  }
  async referrers(subject: string): Promise<string[]> {
    const out: string[] = [];
    await this.d.walk(P.referrersDir(this.name, subject), async (i) => {
      if (i.path.endsWith('/link')) out.push((await this.d.getContent(i.path)).toString());
    });
    return out;
  }
}

/** Every repository name: directories below repositories/ that hold an '_'-directory. */
export async function listRepositories(d: StorageDriver): Promise<string[]> {
  const names: string[] = [];
  const visit = async (dir: string): Promise<void> => {
    const children = (await orUndefined(d.list(dir))) ?? [];
    const base = children.map((c) => c.slice(c.lastIndexOf('/') + 1));
    if (dir !== P.REPOS && base.some((b) => b.startsWith('_'))) names.push(dir.slice(P.REPOS.length + 1));
    for (const c of children) if (!c.slice(c.lastIndexOf('/') + 1).startsWith('_')) await visit(c);
  };
  await visit(P.REPOS);
  return names.sort();
}
