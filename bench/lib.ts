/** What the benchmarks share: their command line, their statistics, timing a CLI command. */
import { spawn } from 'node:child_process';
import * as path from 'node:path';

/** The value after `name` on the command line, or `dflt`. */
export function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

/** The client to run for a --cli value: `berth` is this repository's bin/berth, anything else a command. */
export function cliPath(name: string): string {
  return name === 'berth' ? path.join(__dirname, '..', '..', 'bin', 'berth') : name;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export interface Timed {
  /** The exit status; null when killed by a signal. */
  code: number | null;
  /** Wall-clock milliseconds from spawn to close. */
  ms: number;
  /** What it printed, when stdout is 'pipe'; '' otherwise. */
  stdout: string;
  /** What it printed on stderr, when stderr is 'pipe'; '' otherwise. */
  stderr: string;
}

export interface TimeOptions {
  /** The daemon, as DOCKER_HOST and BERTH_HOST. */
  host: string;
  /** More environment, over process.env and the host. */
  env?: NodeJS.ProcessEnv;
  /** The client's stdout: collected, dropped or passed on. Its stderr is passed on, its stdin empty. */
  stdout: 'pipe' | 'ignore' | 'inherit';
  /** The client's stderr: passed on (the default) or collected. */
  stderr?: 'pipe' | 'inherit';
}

/** Runs `cli args` against the host and times it; rejects only if it cannot be started. */
export function timeCli(cli: string, args: string[], opts: TimeOptions): Promise<Timed> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(cli, args, {
      env: { ...process.env, DOCKER_HOST: opts.host, BERTH_HOST: opts.host, ...opts.env },
      stdio: ['ignore', opts.stdout, opts.stderr ?? 'inherit'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, ms: Number(process.hrtime.bigint() - t0) / 1e6, stdout, stderr }));
  });
}

/** `r` if its command exited 0; else throws "`what` exited with CODE". */
export function succeeded(r: Timed, what: string): Timed {
  if (r.code !== 0) throw new Error(`${what} exited with ${r.code}${r.stderr ? `: ${r.stderr.trim()}` : ''}`);
  return r;
}
