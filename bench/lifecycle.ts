/**
 * Lifecycle benchmark: how a daemon copes with many containers.
 *
 *   node dist/bench/lifecycle.js --berthd [--runs 5] [--containers 200] [--running 100] [--debug] [--profile DIR]
 *   node dist/bench/lifecycle.js --host unix:///run/anchor/docker.sock [--cli docker] [--runs 20]
 *
 * With --containers containers of which --running run `sleep 100000` (busybox):
 *
 *   1. `ps -a` latency: the median of --runs GET /containers/json?all=1 through the API, and of
 *      `CLI ps -a` (--cli: docker by default, or berth);
 *   2. with --berthd only, daemon start-up: the bench starts a berthd of its own (bin/berthd with
 *      its own data root, exec root, socket and cgroup parent under temporary names, inside a
 *      network namespace it makes with `ip netns add`), creates the containers, then --runs
 *      times stops it with SIGTERM and starts it again, timing from spawn to the first answer
 *      of /_ping and to a GET /containers/json?all=1 that lists every container (and the
 *      running ones as running). --debug keeps the daemon's --debug log; --profile DIR has
 *      node write a CPU profile of each start into DIR (open them in Chrome's DevTools).
 *
 * Against any other daemon (--host) only the `ps` part runs, on containers it creates there.
 * At the end the bench removes every container it made (as `rm -f` does), and with --berthd
 * stops its daemon and removes what is left of it: conmon and runc state, mounts, cgroups,
 * the namespace and the folders; also when a step failed or the bench is interrupted.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, copyFileSync, openSync, closeSync } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { arg, cliPath, median, succeeded, timeCli } from './lib';
import { removeCgroups, unmountUnder } from '../test/helpers/daemon';

const BERTHD = path.join(__dirname, '..', '..', 'bin', 'berthd');
const LABEL = 'berth-bench';
const RUN_ID = `lifecycle-${process.pid}-${randomBytes(3).toString('hex')}`;

let interrupted = false;
function checkInterrupted(): void {
  if (interrupted) throw new Error('interrupted');
}

const own = process.argv.includes('--berthd');
const debug = process.argv.includes('--debug');
const profileDir = arg('--profile', '');
const runs = Number(arg('--runs', own ? '5' : '20'));
const total = Number(arg('--containers', '200'));
const running = Number(arg('--running', '100'));
const image = arg('--image', 'busybox');
const cliName = arg('--cli', 'docker');
const cli = cliPath(cliName);

// ---------------------------------------------------------------- the API, over the daemon's socket

interface Endpoint {
  socketPath?: string;
  host?: string;
  port?: number;
}

function endpoint(hostUrl: string): Endpoint {
  if (hostUrl.startsWith('unix://')) return { socketPath: hostUrl.slice('unix://'.length) };
  const u = new URL(hostUrl.replace(/^tcp:/, 'http:'));
  return { host: u.hostname, port: Number(u.port || 2375) };
}

function request(ep: Endpoint, method: string, urlPath: string, body?: unknown): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request({ ...ep, method, path: urlPath, headers: data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(data);
  });
}

async function api<T>(ep: Endpoint, method: string, urlPath: string, body?: unknown): Promise<T> {
  const r = await request(ep, method, urlPath, body);
  if (r.status >= 300) throw new Error(`${method} ${urlPath}: ${r.status} ${r.text.trim()}`);
  return (r.text ? JSON.parse(r.text) : undefined) as T;
}

interface Summary {
  Id: string;
  State: string;
  Labels?: Record<string, string> | null;
}

const listAll = (ep: Endpoint) => api<Summary[]>(ep, 'GET', '/containers/json?all=1');

/** Runs `fn` over `items`, `width` at a time. */
async function parallel<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const sleep = (n: number) => new Promise((r) => setTimeout(r, n));

// ---------------------------------------------------------------- a berthd of the bench's own

/**
 * A berthd with its own data root, exec root, socket and cgroup parent, in a network
 * namespace of its own, and everything needed to remove all of it again.
 */
class OwnDaemon {
  readonly tag = randomBytes(4).toString('hex');
  readonly netns = `berth-bench-${this.tag}`;
  readonly base = path.join(os.tmpdir(), `berth-bench-lc-${this.tag}`);
  readonly dataRoot = path.join(this.base, 'data');
  // short: the socket's path must fit in sun_path
  readonly execRoot = `/run/bbl-${this.tag}`;
  readonly host = `unix://${this.execRoot}/berth.sock`;
  readonly cgroupParent = `/berth-bench-${this.tag}`;
  readonly logFile = path.join(this.base, 'berthd.log');
  private proc?: ChildProcess;
  private nsMade = false;
  private starts = 0;

  setUp(): void {
    mkdirSync(this.base, { recursive: true });
    writeFileSync(path.join(this.base, 'daemon.json'), '{}');
    execFileSync('ip', ['netns', 'add', this.netns]);
    this.nsMade = true;
    execFileSync('nsenter', [`--net=/run/netns/${this.netns}`, 'ip', 'link', 'set', 'lo', 'up']);
  }

  /** Spawns berthd; resolves with ms from spawn to /_ping answering, and the process. */
  async start(): Promise<number> {
    const nodeArgs = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', `berthd-start-${++this.starts}.cpuprofile`] : [];
    const args = [
      `--net=/run/netns/${this.netns}`,
      process.execPath,
      ...nodeArgs,
      BERTHD,
      '-H', this.host,
      '--data-root', this.dataRoot,
      '--exec-root', this.execRoot,
      '--pidfile', `${this.execRoot}/berthd.pid`,
      '--cgroup-parent', this.cgroupParent,
      '--config-file', path.join(this.base, 'daemon.json'),
      // a short name is never looked up on Docker Hub: the bench sends nothing outside
      '--default-registry', '127.0.0.1:1',
      ...(debug ? ['--debug'] : []),
    ];
    const log = openSync(this.logFile, 'a');
    const t0 = process.hrtime.bigint();
    // a group of its own: a ^C reaches the bench, which removes the containers before stopping it
    const proc = spawn('nsenter', args, { stdio: ['ignore', log, log], detached: true });
    closeSync(log);
    this.proc = proc;
    const ep = endpoint(this.host);
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`berthd exited (${proc.exitCode ?? proc.signalCode}); see ${this.logFile}:\n${this.tail()}`);
      const up = await request(ep, 'GET', '/_ping').then((r) => r.status === 200, () => false);
      if (up) return ms(t0);
      if (ms(t0) > 60_000) throw new Error(`berthd did not answer within 60 s:\n${this.tail()}`);
      await sleep(5);
    }
  }

  /** SIGTERM (nsenter execs node: the pid is berthd's), then SIGKILL if it lingers. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    if ((await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)])) === false) {
      p.kill('SIGKILL');
      await exited;
    }
  }

  tail(): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-20).join('\n');
    } catch {
      return '';
    }
  }

  /** Removes everything the daemon made, whatever state it is in; every step is tried. */
  async tearDown(): Promise<void> {
    const step = async (what: string, fn: () => unknown) => {
      try {
        await fn();
      } catch (e) {
        console.error(`clean-up, ${what}: ${(e as Error).message}`);
      }
    };
    const alive = this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
    if (alive) {
      // removing the containers first takes their overlay mounts and cgroups with them
      const ep = endpoint(this.host);
      await step('removing containers', async () => removeContainers(ep, (await listAll(ep)).map((c) => c.Id)));
    }
    await step('stopping berthd', () => this.stop());
    // conmons of containers that were not removed (their pids are in the bundles)
    const bundles = path.join(this.execRoot, 'bundles');
    if (existsSync(bundles)) {
      for (const id of readdirSync(bundles)) {
        try {
          const pid = Number(readFileSync(path.join(bundles, id, 'conmon.pid'), 'utf8'));
          if (pid) process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    for (const root of ['runtime', 'build-runtime'].map((r) => path.join(this.execRoot, r))) {
      if (!existsSync(root)) continue;
      try {
        const list = JSON.parse(execFileSync('runc', ['--root', root, 'list', '--format', 'json']).toString() || '[]') as { id: string }[] | null;
        for (const c of list ?? []) {
          try {
            execFileSync('runc', ['--root', root, 'delete', '--force', c.id], { stdio: 'ignore' });
          } catch {
            /* already gone */
          }
        }
      } catch {
        /* no runc state */
      }
    }
    await step('unmounting', () => {
      unmountUnder(this.base);
      unmountUnder(this.execRoot);
    });
    await step('removing cgroups', () => removeCgroups(this.cgroupParent));
    if (this.nsMade) await step('removing the namespace', () => execFileSync('ip', ['netns', 'del', this.netns], { stdio: 'ignore' }));
    if (debug && existsSync(this.logFile)) {
      const kept = path.join(os.tmpdir(), `berth-bench-lifecycle-${this.tag}.log`);
      await step('keeping the log', () => copyFileSync(this.logFile, kept));
      console.log(`berthd's log: ${kept}`);
    }
    await step('removing folders', () => {
      rmSync(this.base, { recursive: true, force: true });
      rmSync(this.execRoot, { recursive: true, force: true });
    });
  }
}


// ---------------------------------------------------------------- the scenario

/** Creates `total` containers, starts `running` of them; returns their IDs. */
async function makeContainers(ep: Endpoint, made: string[]): Promise<void> {
  const t0 = process.hrtime.bigint();
  const indexes = Array.from({ length: total }, (_, i) => i);
  await parallel(indexes, 8, async (i) => {
    checkInterrupted();
    const c = await api<{ Id: string }>(ep, 'POST', `/containers/create?name=bench-lc-${process.pid}-${i}`, {
      Image: image,
      Cmd: ['sleep', '100000'],
      Labels: { [LABEL]: RUN_ID },
    });
    made.push(c.Id);
    if (i < running) await api(ep, 'POST', `/containers/${c.Id}/start`);
  });
  console.error(`made ${total} containers (${running} running) in ${(ms(t0) / 1000).toFixed(1)} s`);
}

/** `rm -f` of what this run made: the IDs it got, and any container with its label. */
async function removeContainers(ep: Endpoint, ids: string[]): Promise<void> {
  const filters = encodeURIComponent(JSON.stringify({ label: [`${LABEL}=${RUN_ID}`] }));
  const labelled = await api<Summary[]>(ep, 'GET', `/containers/json?all=1&filters=${filters}`).catch(() => [] as Summary[]);
  const all = [...new Set([...ids, ...labelled.map((c) => c.Id)])];
  let next = 0;
  const worker = async () => {
    while (next < all.length) await request(ep, 'DELETE', `/containers/${all[next++]}?force=1`).catch(() => undefined);
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

function counts(list: Summary[], ids: Set<string>): { listed: number; up: number } {
  const mine = list.filter((c) => ids.has(c.Id));
  return { listed: mine.length, up: mine.filter((c) => c.State === 'running').length };
}

async function measurePs(ep: Endpoint, host: string, ids: Set<string>, rows: [string, string][]): Promise<void> {
  const seen = counts(await listAll(ep), ids);
  if (seen.listed !== total || seen.up !== running) throw new Error(`the daemon lists ${seen.listed} of the containers, ${seen.up} running`);
  const viaApi: number[] = [];
  const viaCli: number[] = [];
  succeeded(await timeCli(cli, ['ps', '-a'], { host, stdout: 'ignore' }), `${cliName} ps -a`); // warm-up
  for (let i = 0; i < runs; i++) {
    checkInterrupted();
    const t0 = process.hrtime.bigint();
    await listAll(ep);
    viaApi.push(ms(t0));
    viaCli.push(succeeded(await timeCli(cli, ['ps', '-a'], { host, stdout: 'ignore' }), `${cliName} ps -a`).ms);
  }
  rows.push([`GET /containers/json?all=1, ${total} containers (median of ${runs})`, `${median(viaApi).toFixed(1)} ms`]);
  rows.push([`${cliName} ps -a, ${total} containers (median of ${runs})`, `${median(viaCli).toFixed(0)} ms`]);
}

async function measureStartup(d: OwnDaemon, ep: Endpoint, ids: Set<string>, rows: [string, string][]): Promise<void> {
  const toPing: number[] = [];
  const toList: number[] = [];
  for (let i = 0; i < runs; i++) {
    checkInterrupted();
    await d.stop();
    const t0 = process.hrtime.bigint();
    const ping = await d.start();
    // the listing counts once it has every container, the running ones as running
    for (;;) {
      const seen = counts(await listAll(ep).catch(() => [] as Summary[]), ids);
      if (seen.listed === total && seen.up === running) break;
      if (ms(t0) > 60_000) throw new Error(`after a restart the daemon lists ${seen.listed} of ${total} containers, ${seen.up} of ${running} running`);
      await sleep(5);
    }
    toPing.push(ping);
    toList.push(ms(t0));
    console.error(`start ${i + 1}: /_ping after ${ping.toFixed(0)} ms, all listed after ${toList[i].toFixed(0)} ms`);
  }
  rows.push([`berthd start to /_ping, ${total} containers, ${running} running (median of ${runs})`, `${median(toPing).toFixed(0)} ms`]);
  rows.push([`berthd start to ps listing all ${total} (median of ${runs})`, `${median(toList).toFixed(0)} ms`]);
}

async function main(): Promise<void> {
  if (running > total) throw new Error('--running is more than --containers');
  const d = own ? new OwnDaemon() : undefined;
  const host = d ? d.host : arg('--host', process.env.DOCKER_HOST ?? 'unix:///run/berth/berth.sock');
  const ep = endpoint(host);
  const made: string[] = [];
  const onSignal = () => {
    interrupted = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const rows: [string, string][] = [];
  let failure: unknown;
  try {
    if (d) {
      if (profileDir) mkdirSync(profileDir, { recursive: true });
      d.setUp();
      const first = await d.start();
      console.error(`berthd (data root ${d.dataRoot}) answered after ${first.toFixed(0)} ms with no containers`);
    }
    await makeContainers(ep, made);
    const ids = new Set(made);
    await measurePs(ep, host, ids, rows);
    if (d && !interrupted) await measureStartup(d, ep, ids, rows);
  } catch (e) {
    failure = e;
  } finally {
    // removing the containers before the daemon stops takes their mounts with them
    await removeContainers(ep, made).catch(() => undefined);
    if (d) await d.tearDown().catch((e: unknown) => console.error(`clean-up: ${(e as Error).message}`));
  }
  if (rows.length) {
    const width = Math.max(...rows.map((r) => r[0].length));
    console.log(`daemon: ${d ? `berthd of the bench (${BERTHD})` : host}  client: ${cli}`);
    for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
    console.log('targets: start-up under 1000 ms, ps under 100 ms');
  }
  if (failure) throw failure;
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
