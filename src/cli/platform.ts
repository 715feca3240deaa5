/**
 * Platform specifiers as the docker CLI reads them ("os[/arch[/variant]]",
 * "linux", "arm64"), normalized the way containerd's platforms package does,
 * and encoded as the OCI platform JSON the API's `platform` parameters take.
 */

export interface OciPlatform {
  architecture: string;
  os: string;
  variant?: string;
}

const KNOWN_OS = new Set([
  'aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'hurd', 'illumos', 'ios', 'js', 'linux', 'nacl', 'netbsd', 'openbsd', 'plan9', 'solaris', 'windows', 'zos',
]);

const KNOWN_ARCH = new Set([
  '386', 'amd64', 'amd64p32', 'arm', 'armbe', 'arm64', 'arm64be', 'ppc64', 'ppc64le', 'loong64', 'mips', 'mipsle', 'mips64', 'mips64le', 'mips64p32',
  'mips64p32le', 'ppc', 'riscv', 'riscv64', 's390', 's390x', 'sparc', 'sparc64', 'wasm',
]);

function hostArch(): string {
  const a = process.arch;
  return a === 'x64' ? 'amd64' : a === 'ia32' ? '386' : a;
}

/** Architecture aliases and default variants: x86_64 → amd64, aarch64 → arm64, armhf → arm/v7 ... */
function normalizeArch(arch: string, variant: string): [string, string] {
  switch (arch) {
    case 'i386':
      return ['386', ''];
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      return ['amd64', variant === 'v1' ? '' : variant];
    case 'aarch64':
    case 'arm64':
      return ['arm64', variant === '8' || variant === 'v8' ? '' : variant];
    case 'armhf':
      return ['arm', 'v7'];
    case 'armel':
      return ['arm', 'v6'];
    case 'arm':
      if (variant === '' || variant === '7') return ['arm', 'v7'];
      if (variant === '5' || variant === '6' || variant === '8') return ['arm', `v${variant}`];
      return ['arm', variant];
    default:
      return [arch, variant];
  }
}

/** Parses a platform specifier; throws with containerd's wording when it is not one. */
export function parsePlatform(spec: string): OciPlatform {
  const bad = (why: string) => new Error(`"${spec}": ${why}: invalid argument`);
  const parts = spec.toLowerCase().split('/');
  if (parts.some((p) => !/^[a-z0-9_.-]+$/.test(p))) throw bad('invalid platform specifier');
  let os: string;
  let arch: string;
  let variant = '';
  if (parts.length === 1) {
    if (KNOWN_OS.has(parts[0])) {
      os = parts[0];
      arch = hostArch();
    } else {
      [arch, variant] = normalizeArch(parts[0], '');
      if (!KNOWN_ARCH.has(arch)) throw bad('unknown operating system or architecture');
      os = 'linux';
    }
  } else if (parts.length === 2 || parts.length === 3) {
    os = parts[0] === 'macos' ? 'darwin' : parts[0];
    [arch, variant] = normalizeArch(parts[1], parts[2] ?? '');
  } else {
    throw bad('cannot parse platform specifier');
  }
  return variant ? { architecture: arch, os, variant } : { architecture: arch, os };
}

/** "os/arch[/variant]". */
export function formatPlatform(p: OciPlatform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}
