import { createHash } from 'node:crypto';
import { promises as fsp, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * Compiled seccomp filters, kept so crun compiles each profile once instead of at every
 * create (libseccomp turning Docker's profile into BPF is most of a create's CPU time).
 *
 * crun writes the filter it loaded to `<state root>/<id>/seccomp.bpf`, and takes a
 * compiled filter instead of the spec's `linux.seccomp` through the annotation
 * `run.oci.seccomp_bpf_data` (base64). The first container with a given profile is created
 * the ordinary way and its seccomp.bpf copied here; later ones get the annotation. A filter
 * is named by a digest of everything it depends on: the profile as the spec states it, the
 * kernel, and crun's binary (libseccomp comes with it). The folder lives under the exec root,
 * a tmpfs, so a new kernel or a reboot starts it afresh anyway.
 */
export const BPF_ANNOTATION = 'run.oci.seccomp_bpf_data';

/**
 * How many filters are kept, in memory and as files: each API client may send a profile of
 * its own at every create, and the folder is on a tmpfs (memory too). Docker's default
 * profile and a few custom ones fit; past that, filters are compiled at every create.
 */
const MAX_FILTERS = 64;

export class SeccompBpfCache {
  private readonly known = new Map<string, string>();
  /** files in the folder, counted at the first write */
  private files: number | undefined;
  private readonly binaryTag: string;

  constructor(
    private readonly dir: string,
    runtimeBinary: string,
  ) {
    let tag = runtimeBinary;
    try {
      const st = statSync(runtimeBinary);
      tag += ` ${st.size} ${st.mtimeMs} ${st.ino}`;
    } catch {
      // a missing binary fails at create anyway
    }
    this.binaryTag = tag;
  }

  /**
   * Puts a filter compiled before into the spec, when there is one for its profile. Otherwise
   * answers what to call once the runtime has created the container, to keep its filter.
   */
  async apply(spec: { linux?: { seccomp?: unknown }; annotations?: Record<string, string> }): Promise<((stateDir: string) => Promise<void>) | undefined> {
    const profile = spec.linux?.seccomp;
    // a user's own compiled filter wins, as crun would have it
    if (!profile || spec.annotations?.[BPF_ANNOTATION] !== undefined) return undefined;
    const key = createHash('sha256').update(`${this.binaryTag}\n${os.release()}\n${JSON.stringify(profile)}`).digest('hex');
    const file = path.join(this.dir, key);
    let bpf = this.known.get(key);
    if (bpf === undefined) {
      bpf = await fsp.readFile(file).then((b) => b.toString('base64'), () => undefined);
      if (bpf) this.known.set(key, bpf);
    }
    if (bpf) {
      spec.annotations = { ...spec.annotations, [BPF_ANNOTATION]: bpf };
      return undefined;
    }
    return async (stateDir) => {
      const data = await fsp.readFile(path.join(stateDir, 'seccomp.bpf')).catch(() => undefined);
      if (!data?.length) return;
      await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
      this.files ??= (await fsp.readdir(this.dir)).length;
      if (this.files >= MAX_FILTERS || this.known.size >= MAX_FILTERS) return;
      this.files++;
      // whole or not at all: a half-written filter would be loaded as it is
      const tmp = `${file}.${process.pid}.${Date.now()}`;
      await fsp.writeFile(tmp, data, { mode: 0o600 });
      await fsp.rename(tmp, file);
      this.known.set(key, data.toString('base64'));
    };
  }
}
