/**
 * What this berth binary is: its version and the runtime that runs it. The
 * CLI is normally a Bun-compiled executable (see scripts/build-cli.js) and
 * falls back to Node, and a user comparing timings needs to know which one
 * answered, so `berth --version` and `berth version` both say.
 */
export const CLI_VERSION = '0.1.0';

export interface CliRuntime {
  /** "bun" or "node". */
  name: string;
  version: string;
}

export function cliRuntime(): CliRuntime {
  const bun = (process.versions as Record<string, string | undefined>).bun;
  if (bun) return { name: 'bun', version: bun };
  return { name: 'node', version: process.versions.node };
}

/** The build part of `berth --version`: "bun-1.4.5" or "node-v20.20.2". */
export function buildTag(rt: CliRuntime = cliRuntime()): string {
  return rt.name === 'node' ? `node-v${rt.version}` : `${rt.name}-${rt.version}`;
}
