/**
 * Build benchmark: a context of 2,000 small files and a 10-step Dockerfile, built by one or
 * more clients (the docker CLI's legacy builder protocol, `berth build`) against any
 * Docker-API daemon: a cold build (--no-cache), a cached rebuild, and a rebuild after one
 * file changed.
 *
 *   node dist/bench/build.js --berthd [--clients docker,berth] [--runs 5]
 *   node dist/bench/build.js -H unix:///run/berth/berth.sock [--clients docker] [--runs 3]
 *
 * The clients take turns within each run, so a busy moment of the machine falls on all of
 * them; each client builds cold first, so the cached and changed builds find its own cache.
 * `docker` runs with DOCKER_BUILDKIT=0 (BuildKit is not what berthd speaks; set
 * DOCKER_BUILDKIT=1 in the environment to time BuildKit against a dockerd).
 *
 * With --berthd the bench starts a berthd of its own with --debug (own-daemon.ts) and prints,
 * per client and build, where the time went: the client's start, the context's upload (the
 * daemon receiving and indexing the tar as the client packs and sends it), each step with its
 * cache lookup, RUN, COPY and commit, and the image written (src/build/builder.ts's spans).
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { arg, cliPath, median, succeeded, timeCli } from './lib';
import { BERTHD, OwnDaemon } from './own-daemon';
import { Breakdown, parseTimings, type Timing } from './timings';

const DOCKERFILE = `FROM busybox
ENV APP=/app
WORKDIR /app
COPY files/ ./files/
RUN ls files | wc -l > count.txt
RUN echo built > /built.txt
LABEL bench=build
EXPOSE 8080
USER nobody
CMD ["cat", "/app/count.txt"]
`;

if (process.argv.includes('--help')) {
  console.log(`usage: node dist/bench/build.js --berthd | -H DAEMON  [--clients docker,berth] [--runs N]

  --berthd     start a berthd of the bench's own, with --debug, and print where the time went
  -H, --host   time builds against this daemon (default: DOCKER_HOST, else berthd's socket)
  --clients    the clients, taking turns: docker (the docker CLI, DOCKER_BUILDKIT=0), berth, or a command
  --runs       builds of each kind per client (default 3); medians are printed`);
  process.exit(0);
}

const FILES = 2000;
const own = process.argv.includes('--berthd');
const clients = arg('--clients', arg('--cli', 'docker')).split(',').filter(Boolean);
const runs = Number(arg('--runs', '3'));
const SCENARIOS = ['cold build (--no-cache)', 'cached rebuild', 'rebuild after one file change'] as const;

const epochMs = () => performance.timeOrigin + performance.now();

interface Window {
  t0: number;
  t1: number;
}

async function build(cliName: string, host: string, dir: string, extra: string[]): Promise<{ ms: number } & Window> {
  const t0 = epochMs();
  const r = await timeCli(cliPath(cliName), ['build', '-q', '-t', 'berth-bench-build:latest', ...extra, dir], {
    host,
    env: { DOCKER_BUILDKIT: process.env.DOCKER_BUILDKIT ?? '0' },
    stdout: 'ignore',
    // the docker CLI's warning that the legacy builder is deprecated, once per build; shown if the build fails
    stderr: 'pipe',
  });
  return { ms: succeeded(r, `${cliName} build`).ms, t0, t1: epochMs() };
}

/** The calls that arrived while the client ran and the spans that started meanwhile (a build runs one at a time). */
function timingsIn(all: Timing[], w: Window): Timing[] {
  return all.filter((t) => t.at >= w.t0 && t.at <= w.t1);
}

async function main(): Promise<void> {
  const d = own ? new OwnDaemon({ debug: true }) : undefined;
  const host = d ? d.host : arg('-H', arg('--host', process.env.DOCKER_HOST ?? 'unix:///run/berth/berth.sock'));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-build-'));
  const times = new Map<string, number[][]>(clients.map((c) => [c, SCENARIOS.map(() => [])]));
  const windows = new Map<string, Window[][]>(clients.map((c) => [c, SCENARIOS.map(() => [])]));
  let failure: unknown;
  let log = '';
  try {
    if (d) {
      d.setUp();
      await d.start();
    }
    mkdirSync(path.join(dir, 'files'));
    for (let i = 0; i < FILES; i++) writeFileSync(path.join(dir, 'files', `f${i}.txt`), `file ${i}\n`);
    writeFileSync(path.join(dir, 'Dockerfile'), DOCKERFILE);
    // a warm-up per client: the base image, the page cache, the daemon's first build
    for (const c of clients) await build(c, host, dir, ['--no-cache']);
    for (let r = 0; r < runs; r++) {
      for (const c of clients) {
        const record = (i: number, b: { ms: number } & Window) => {
          times.get(c)![i].push(b.ms);
          windows.get(c)![i].push(b);
        };
        record(0, await build(c, host, dir, ['--no-cache']));
        record(1, await build(c, host, dir, []));
        writeFileSync(path.join(dir, 'files', 'f7.txt'), `changed ${c} ${r} ${Date.now()}\n`);
        record(2, await build(c, host, dir, []));
      }
    }
  } catch (e) {
    failure = e;
  } finally {
    rmSync(dir, { recursive: true, force: true });
    if (d) log = readIfThere(d.logFile);
    if (d) await d.tearDown().catch((e: unknown) => console.error(`clean-up: ${(e as Error).message}`));
  }
  if (times.get(clients[0])![0].length) {
    console.log(`daemon: ${d ? `berthd of the bench (${BERTHD}, --debug)` : host}  context: ${FILES} files, 10 steps  (median of ${runs}, seconds)`);
    const w = Math.max(...SCENARIOS.map((s) => s.length));
    console.log(`${''.padEnd(w)}  ${clients.map((c) => c.padStart(8)).join('  ')}`);
    SCENARIOS.forEach((s, i) => console.log(`${s.padEnd(w)}  ${clients.map((c) => (median(times.get(c)![i]) / 1000).toFixed(2).padStart(8)).join('  ')}`));
    if (d) {
      const all = parseTimings(log);
      for (const c of clients) {
        SCENARIOS.forEach((s, i) => {
          const b = new Breakdown();
          for (const win of windows.get(c)![i]) b.add(timingsIn(all, win), win.t0, win.t1);
          b.print(`${c}, ${s}: API calls and (indented) spans inside the daemon`);
        });
      }
    }
  }
  if (failure) throw failure;
}

function readIfThere(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
