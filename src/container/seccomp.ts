/**
 * Seccomp profiles: Docker's profile format (syscall groups with `includes`/`excludes` on
 * capabilities, architectures and kernel version, plus an `archMap`) turned into the OCI
 * `linux.seccomp` that runc loads. The groups are decided here, for one container: its
 * final capability set, this machine's architecture and kernel.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { invalid } from '../common/errors';

export interface OciSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

export interface OciSeccompSyscall {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: OciSeccompArg[];
}

export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  syscalls?: OciSeccompSyscall[];
}

/** A condition of Docker's profile format; every listed field must match. */
interface ProfileFilter {
  caps?: string[] | null;
  arches?: string[] | null;
  minKernel?: string | null;
}

interface ProfileSyscall {
  names?: string[] | null;
  /** the pre-1.13 single-name form */
  name?: string;
  action: string;
  errnoRet?: number | null;
  args?: OciSeccompArg[] | null;
  comment?: string;
  includes?: ProfileFilter | null;
  excludes?: ProfileFilter | null;
}

/** Docker's seccomp profile file format. */
export interface DockerSeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number | null;
  architectures?: string[] | null;
  archMap?: { architecture: string; subArchitectures: string[] | null }[] | null;
  flags?: string[] | null;
  syscalls?: ProfileSyscall[] | null;
}

/** The facts about a container and its host that decide which groups of a profile apply. */
export interface SeccompTarget {
  /** the container's bounding capability set, `CAP_` names */
  capabilities: readonly string[];
  /** Go's GOARCH spelling, which the profile's `arches` use: amd64, arm64, ... */
  arch: string;
  /** os.release(), e.g. "6.18.44-fc-v669" */
  kernelRelease: string;
}

/** Node's process.arch to the GOARCH spelling Docker's profile uses. */
const GOARCH_OF_NODE_ARCH: Record<string, string> = {
  x64: 'amd64', ia32: '386', arm: 'arm', arm64: 'arm64', ppc64: 'ppc64le', s390x: 's390x',
  riscv64: 'riscv64', loong64: 'loong64', mips: 'mips', mipsel: 'mipsle',
};

/** GOARCH to libseccomp's name of the native architecture. */
const SECCOMP_ARCH_OF_GOARCH: Record<string, string> = {
  amd64: 'SCMP_ARCH_X86_64', '386': 'SCMP_ARCH_X86', arm: 'SCMP_ARCH_ARM', arm64: 'SCMP_ARCH_AARCH64',
  ppc64le: 'SCMP_ARCH_PPC64LE', s390x: 'SCMP_ARCH_S390X', riscv64: 'SCMP_ARCH_RISCV64',
  loong64: 'SCMP_ARCH_LOONGARCH64', mips: 'SCMP_ARCH_MIPS', mipsle: 'SCMP_ARCH_MIPSEL',
};

export function hostGoArch(): string {
  return GOARCH_OF_NODE_ARCH[process.arch] ?? process.arch;
}

/** Compares "major.minor[.patch]" kernel versions; suffixes like "-generic" are ignored. */
export function kernelAtLeast(release: string, min: string): boolean {
  const parse = (s: string) => (/^(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(s) ?? []).slice(1, 4).map((n) => Number(n ?? 0));
  const have = parse(release);
  const want = parse(min);
  for (let i = 0; i < 3; i++) {
    if (have[i] !== want[i]) return have[i] > want[i];
  }
  return true;
}

function filterMatches(filter: ProfileFilter, target: SeccompTarget, mode: 'all' | 'any'): boolean {
  const tests: boolean[] = [];
  if (filter.caps?.length) {
    const caps = filter.caps.map((c) => c.toUpperCase());
    tests.push(mode === 'all' ? caps.every((c) => target.capabilities.includes(c)) : caps.some((c) => target.capabilities.includes(c)));
  }
  if (filter.arches?.length) tests.push(filter.arches.includes(target.arch));
  if (filter.minKernel) tests.push(kernelAtLeast(target.kernelRelease, filter.minKernel));
  return mode === 'all' ? tests.every(Boolean) : tests.some(Boolean);
}

/**
 * A group applies when everything its `includes` asks for holds (all its capabilities,
 * one of its arches, at least its kernel) and nothing its `excludes` names holds.
 */
function groupApplies(group: ProfileSyscall, target: SeccompTarget): boolean {
  if (group.includes && !filterMatches(group.includes, target, 'all')) return false;
  if (group.excludes && filterMatches(group.excludes, target, 'any')) return false;
  return true;
}

function architecturesFor(profile: DockerSeccompProfile, arch: string): string[] {
  if (!profile.archMap?.length) return [...(profile.architectures ?? [])];
  const native = SECCOMP_ARCH_OF_GOARCH[arch];
  const entry = profile.archMap.find((a) => a.architecture === native);
  if (!entry) return native ? [native] : [];
  return [entry.architecture, ...(entry.subArchitectures ?? [])];
}

/** Converts a profile in Docker's format to the OCI form for one container. */
export function toOciSeccomp(profile: DockerSeccompProfile, target: SeccompTarget): OciSeccomp {
  if (typeof profile.defaultAction !== 'string' || !profile.defaultAction) {
    throw invalid('seccomp profile: defaultAction is required');
  }
  if (profile.architectures?.length && profile.archMap?.length) {
    throw invalid("'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'");
  }
  const syscalls: OciSeccompSyscall[] = [];
  for (const group of profile.syscalls ?? []) {
    if (group.name && group.names?.length) {
      throw invalid("use either 'name' or 'names' in the seccomp profile, not both");
    }
    if (!groupApplies(group, target)) continue;
    const names = group.names?.length ? [...group.names] : group.name ? [group.name] : [];
    if (!names.length) continue;
    const out: OciSeccompSyscall = { names, action: group.action };
    if (group.errnoRet !== undefined && group.errnoRet !== null) out.errnoRet = group.errnoRet;
    if (group.args?.length) out.args = group.args.map((a) => ({ ...a }));
    syscalls.push(out);
  }
  const result: OciSeccomp = {
    defaultAction: profile.defaultAction,
    architectures: architecturesFor(profile, target.arch),
    syscalls,
  };
  if (profile.defaultErrnoRet !== undefined && profile.defaultErrnoRet !== null) result.defaultErrnoRet = profile.defaultErrnoRet;
  if (profile.flags?.length) result.flags = [...profile.flags];
  return result;
}

let defaultProfileCache: DockerSeccompProfile | undefined;

/**
 * Docker's default profile, read from the JSON file shipped next to this module (the build
 * copies it into dist/); when running from a build that lacks the copy, from the source tree.
 */
export function defaultSeccompProfile(): DockerSeccompProfile {
  if (defaultProfileCache) return defaultProfileCache;
  const candidates = [
    path.join(__dirname, 'seccomp-default.json'),
    path.join(__dirname, '../../../src/container/seccomp-default.json'),
  ];
  const file = candidates.find((f) => existsSync(f));
  if (!file) throw new Error(`seccomp-default.json not found (looked in ${candidates.join(', ')})`);
  defaultProfileCache = JSON.parse(readFileSync(file, 'utf8')) as DockerSeccompProfile;
  return defaultProfileCache;
}

/** Parses a profile the API passed as text (the CLI sends the file's content). */
export function parseSeccompProfile(text: string): DockerSeccompProfile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw invalid(`Decoding seccomp profile failed: ${(e as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalid('Decoding seccomp profile failed: not a JSON object');
  }
  return parsed as DockerSeccompProfile;
}

/**
 * The seccomp filter for a container, or undefined for none. `profileOption` is the value
 * of `seccomp=` in SecurityOpt: absent or "builtin" for Docker's default, "unconfined"
 * for none, otherwise the profile's JSON text.
 */
export function seccompForContainer(profileOption: string | undefined, capabilities: readonly string[], privileged: boolean): OciSeccomp | undefined {
  if (profileOption === 'unconfined') return undefined;
  // Docker: a privileged container runs without a filter unless one is asked for explicitly
  if (privileged && (profileOption === undefined || profileOption === 'builtin')) return undefined;
  const profile = profileOption === undefined || profileOption === 'builtin' ? defaultSeccompProfile() : parseSeccompProfile(profileOption);
  return toOciSeccomp(profile, { capabilities, arch: hostGoArch(), kernelRelease: os.release() });
}
