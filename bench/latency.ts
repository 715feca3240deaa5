/**
 * Latency of one short container, and of one exec, through a client (the docker CLI by
 * default), with where the time goes:
 *
 *   node dist/bench/latency.js --berthd [--runs 15] [--cli docker|berth] [--burst 16] [--width 8]
 *   node dist/bench/latency.js -H unix:///run/anchor/docker.sock [--runs 15]   (or DOCKER_HOST)
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
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { arg, cliPath, median, succeeded, timeCli } from './lib';
import { BERTHD, OwnDaemon, endpoint, request } from './own-daemon';
import { Breakdown, parseTimings, type Timing } from './timings';

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

async function main(): Promise<void> {
  const d = own ? new OwnDaemon({ debug: true }) : undefined;
  const host = d ? d.host : arg('-H', arg('--host', process.env.DOCKER_HOST ?? 'unix:///run/berth/berth.sock'));
  const rows: [string, string][] = [];
  const runBreakdown = new Breakdown();
  const execBreakdown = new Breakdown();
  let box = '';
  let failure: unknown;
  try {
    if (d) {
      d.setUp();
      await d.start();
    }
    const runWindows: [number, number][] = [];
    const execWindows: [number, number][] = [];
    const runArgs = ['run', '--rm', '--network', 'none', image, 'true'];
    for (let i = 0; i < 2; i++) await timeRun(host, runArgs); // warm-up
    const runTimes: number[] = [];
    for (let i = 0; i < runs; i++) {
      const r = await timeRun(host, runArgs);
      runTimes.push(r.ms);
      runWindows.push([r.t0, r.t1]);
    }
    rows.push([`${cliName} run --rm --network none ${image} true (median of ${runs})`, `${median(runTimes).toFixed(0)} ms`]);

    const bursts: number[] = [];
    for (let b = 0; b < 3; b++) {
      const t0 = performance.now();
      let next = 0;
      const worker = async () => {
        while (next++ < burst) await timeRun(host, runArgs);
      };
      await Promise.all(Array.from({ length: Math.min(width, burst) }, worker));
      bursts.push(performance.now() - t0);
    }
    rows.push([`${burst} x run --rm, ${width} at a time, total (median of 3)`, `${median(bursts).toFixed(0)} ms`]);

    box = (await timeRun(host, ['run', '-d', '--network', 'none', image, 'sleep', '600'])).stdout.trim();
    for (let i = 0; i < 2; i++) await timeRun(host, ['exec', box, 'true']);
    const execTimes: number[] = [];
    for (let i = 0; i < runs; i++) {
      const r = await timeRun(host, ['exec', box, 'true']);
      execTimes.push(r.ms);
      execWindows.push([r.t0, r.t1]);
    }
    rows.push([`${cliName} exec CONTAINER true (median of ${runs})`, `${median(execTimes).toFixed(0)} ms`]);
    if (d) {
      const all = parseTimings(readFileSync(d.logFile, 'utf8'));
      for (const [t0, t1] of runWindows) runBreakdown.add(timingsOf(all, t0, t1), t0, t1);
      for (const [t0, t1] of execWindows) execBreakdown.add(timingsOf(all, t0, t1), t0, t1);
    }
  } catch (e) {
    failure = e;
  } finally {
    const ep = endpoint(host);
    if (box) await request(ep, 'DELETE', `/containers/${box}?force=1`).catch(() => undefined);
    if (d) await d.tearDown().catch((e: unknown) => console.error(`clean-up: ${(e as Error).message}`));
  }
  if (rows.length) {
    console.log(`daemon: ${d ? `berthd of the bench (${BERTHD}, --debug)` : host}  client: ${cli}`);
    const w = Math.max(...rows.map((r) => r[0].length));
    for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
    runBreakdown.print('run --rm, API calls and (indented) spans inside the daemon');
    execBreakdown.print('exec, API calls and (indented) spans inside the daemon');
  }
  if (failure) throw failure;
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
