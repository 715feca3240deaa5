/**
 * Latency of one short container, and of one exec, through a client (the docker CLI by
 * default), with where the time goes:
 *
 *   node dist/bench/latency.js --berthd [--runs 15] [--cli docker|berth] [--burst 16] [--width 8]
 *   node dist/bench/latency.js -H unix:///run/anchor/docker.sock [--runs 15]   (or DOCKER_HOST)
 *   node dist/bench/latency.js --berthd --runtimes crun,runc   (each scenario with each runtime, in turn)
 *
 * Scenarios, each --runs times after a warm-up:
 *   1. `run --rm --network none IMAGE true`;
 *   2. a burst: --burst of those, --width at a time (the total, median of 3);
 *   3. `exec CONTAINER true` in a running container.
 *
 * With --berthd the bench starts a berthd of its own with --debug (see own-daemon.ts), whose
 * log has a line per API call and per timed span inside the daemon (src/common/timing.ts);
 * the bench then prints, per scenario, the median start (from the client's spawn) and
 * duration of each API call and of each span: a breakdown of the command's time. Against any
 * other daemon (-H) it prints the whole commands only.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { arg, cliPath, median, succeeded, timeCli } from './lib';
import { BERTHD, OwnDaemon, endpoint, request } from './own-daemon';
import { Breakdown, parseTimings, type Timing } from './timings';
import { measureCgroupJoin } from './cgroup-join';

const USAGE = `usage: node dist/bench/latency.js (--berthd | -H HOST) [options]
  --berthd            start a berthd of the bench's own (with --debug: a breakdown per scenario)
  -H, --host HOST     any running daemon instead (or DOCKER_HOST): whole commands only
  --runs N            samples per scenario (15)
  --burst N --width W the burst: N runs, W at a time (16, 8)
  --image NAME        the image (busybox)
  --cli docker|berth  the client (docker)
  --runtimes A,B      each scenario with each OCI runtime (docker run --runtime), in turn;
                      with --berthd, runtimes other than runc are registered from PATH`;
if (process.argv.includes('--help')) {
  console.log(USAGE);
  process.exit(0);
}
const own = process.argv.includes('--berthd');
const runs = Number(arg('--runs', '15'));
const burst = Number(arg('--burst', '16'));
const width = Number(arg('--width', '8'));
const image = arg('--image', 'busybox');
const cliName = arg('--cli', 'docker');
const cli = cliPath(cliName);

const epochMs = () => performance.timeOrigin + performance.now();

/**
 * A run's timings: the API calls that arrived while its client ran, and the spans of the
 * containers and execs those calls named (some end after the client did, in the next run's time).
 */
function timingsOf(all: Timing[], t0: number, t1: number): Timing[] {
  const calls = all.filter((t) => t.kind === 'api' && t.at >= t0 && t.at <= t1);
  const ids = new Set(calls.map((c) => c.id).filter(Boolean));
  return [...calls, ...all.filter((t) => t.kind === 'span' && t.at >= t0 && ids.has(t.id))];
}

async function timeRun(host: string, args: string[]): Promise<{ ms: number; t0: number; t1: number; stdout: string }> {
  const t0 = epochMs();
  const r = succeeded(await timeCli(cli, args, { host, stdout: 'pipe' }), `${cliName} ${args.join(' ')}`);
  return { ms: r.ms, t0, t1: epochMs(), stdout: r.stdout };
}

/**
 * What one runtime (or, without --runtimes, the daemon's default) is measured with: its
 * `--runtime` flag for `run`, its samples, its exec container and its breakdowns.
 */
class Subject {
  readonly runTimes: number[] = [];
  readonly bursts: number[] = [];
  readonly execTimes: number[] = [];
  readonly runWindows: [number, number][] = [];
  readonly execWindows: [number, number][] = [];
  /** CPU ms used by berthd with conmon, the runtime and the container, and by the client, summed over the runs */
  readonly cpu = { run: { daemon: 0, berthd: 0, client: 0, n: 0 }, exec: { daemon: 0, berthd: 0, client: 0, n: 0 } };
  readonly runBreakdown = new Breakdown();
  readonly execBreakdown = new Breakdown();
  box = '';

  constructor(readonly runtime: string | undefined) {}

  get label(): string {
    return this.runtime ? ` [${this.runtime}]` : '';
  }

  runArgs(...rest: string[]): string[] {
    return ['run', ...(this.runtime ? ['--runtime', this.runtime] : []), ...rest];
  }
}

/**
 * With --runtimes the bench runs every scenario once per runtime in turn, round after round,
 * so a busy moment of the machine falls on all of them alike.
 */
async function main(): Promise<void> {
  const runtimes = arg('--runtimes', '').split(',').filter(Boolean);
  // a runtime the daemon may not register by itself is registered from its path on this machine
  const extraArgs = runtimes.filter((r) => r !== 'runc').flatMap((r) => ['--add-runtime', `${r}=${which(r)}`]);
  const d = own ? new OwnDaemon({ debug: true, extraArgs, cpuCgroup: true }) : undefined;
  /** one sample of a subject's scenario, with the CPU it cost the daemon's side and the client */
  const sample = async (s: Subject, kind: 'run' | 'exec', args: string[]) => {
    const d0 = d?.daemonCpuMs() ?? 0;
    const b0 = d?.berthdCpuMs() ?? 0;
    const c0 = childrenCpuMs();
    const r = await timeRun(host, args);
    const cpu = s.cpu[kind];
    cpu.daemon += (d?.daemonCpuMs() ?? 0) - d0;
    cpu.berthd += (d?.berthdCpuMs() ?? 0) - b0;
    cpu.client += childrenCpuMs() - c0;
    cpu.n++;
    return r;
  };
  const host = d ? d.host : arg('-H', arg('--host', process.env.DOCKER_HOST ?? 'unix:///run/berth/berth.sock'));
  const subjects = runtimes.length ? runtimes.map((r) => new Subject(r)) : [new Subject(undefined)];
  const rows: [string, string][] = [];
  let failure: unknown;
  try {
    if (d) {
      d.setUp();
      await d.start();
    }
    const runArgs = ['--rm', '--network', 'none', image, 'true'];
    for (let i = 0; i < 2; i++) for (const s of subjects) await timeRun(host, s.runArgs(...runArgs)); // warm-up
    for (let i = 0; i < runs; i++) {
      for (const s of subjects) {
        const r = await sample(s, 'run', s.runArgs(...runArgs));
        s.runTimes.push(r.ms);
        s.runWindows.push([r.t0, r.t1]);
      }
    }
    for (const s of subjects) rows.push([`${cliName} run --rm --network none ${image} true (median of ${runs})${s.label}`, `${median(s.runTimes).toFixed(0)} ms`]);

    for (let b = 0; b < 3; b++) {
      for (const s of subjects) {
        const t0 = performance.now();
        let next = 0;
        const worker = async () => {
          while (next++ < burst) await timeRun(host, s.runArgs(...runArgs));
        };
        await Promise.all(Array.from({ length: Math.min(width, burst) }, worker));
        s.bursts.push(performance.now() - t0);
      }
    }
    for (const s of subjects) rows.push([`${burst} x run --rm, ${width} at a time, total (median of 3)${s.label}`, `${median(s.bursts).toFixed(0)} ms`]);

    for (const s of subjects) s.box = (await timeRun(host, s.runArgs('-d', '--network', 'none', image, 'sleep', '600'))).stdout.trim();
    for (let i = 0; i < 2; i++) for (const s of subjects) await timeRun(host, ['exec', s.box, 'true']);
    for (let i = 0; i < runs; i++) {
      for (const s of subjects) {
        const r = await sample(s, 'exec', ['exec', s.box, 'true']);
        s.execTimes.push(r.ms);
        s.execWindows.push([r.t0, r.t1]);
      }
    }
    for (const s of subjects) rows.push([`${cliName} exec CONTAINER true (median of ${runs})${s.label}`, `${median(s.execTimes).toFixed(0)} ms`]);
    // CPU is what a loaded machine makes everyone wait for: it moves far less with the load
    for (const kind of ['run', 'exec'] as const) {
      for (const s of subjects) {
        const c = s.cpu[kind];
        if (!c.n) continue;
        const daemonPart = d ? `berthd, conmon, runtime, container ${(c.daemon / c.n).toFixed(1)} ms (berthd's own ${(c.berthd / c.n).toFixed(1)}) + ` : '';
        rows.push([`CPU per ${kind === 'run' ? 'run --rm' : 'exec'}, mean${s.label}`, `${daemonPart}client ${(c.client / c.n).toFixed(1)} ms`]);
      }
    }
    if (d) {
      // part of every create and exec, and the kernel's: see cgroup-join.ts
      const join = await measureCgroupJoin(d.cgroupParent);
      if (join) rows.push(['kernel: the runtime moving a process into a cgroup (create, exec)', `${join.afterIdle.toFixed(1)} ms after 100 ms without one, ${join.afterMove.toFixed(1)} ms right after another`]);
      const all = parseTimings(readFileSync(d.logFile, 'utf8'));
      for (const s of subjects) {
        for (const [t0, t1] of s.runWindows) s.runBreakdown.add(timingsOf(all, t0, t1), t0, t1);
        for (const [t0, t1] of s.execWindows) s.execBreakdown.add(timingsOf(all, t0, t1), t0, t1);
      }
    }
  } catch (e) {
    failure = e;
  } finally {
    const ep = endpoint(host);
    for (const s of subjects) if (s.box) await request(ep, 'DELETE', `/containers/${s.box}?force=1`).catch(() => undefined);
    if (d) await d.tearDown().catch((e: unknown) => console.error(`clean-up: ${(e as Error).message}`));
  }
  if (rows.length) {
    console.log(`daemon: ${d ? `berthd of the bench (${BERTHD}, --debug)` : host}  client: ${cli}`);
    const w = Math.max(...rows.map((r) => r[0].length));
    for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
    for (const s of subjects) {
      s.runBreakdown.print(`run --rm${s.label}, API calls and (indented) spans inside the daemon`);
      s.execBreakdown.print(`exec${s.label}, API calls and (indented) spans inside the daemon`);
    }
  }
  if (failure) throw failure;
}

/** CPU time (ms) of this process's finished children: /proc/self/stat's cutime and cstime. */
function childrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields 16 and 17 of stat(5), counted from the state (field 3) here; clock ticks of 10 ms
  return (Number(f[13]) + Number(f[14])) * 10;
}

/** A command's path as the shell would find it, or the name itself. */
function which(name: string): string {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    const p = path.join(dir, name);
    if (existsSync(p)) return p;
  }
  return name;
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
