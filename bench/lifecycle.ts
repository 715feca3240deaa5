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
import { mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { arg, cliPath, median, succeeded, timeCli } from './lib';
import { BERTHD, OwnDaemon, type Endpoint, api, endpoint, ms, parallel, request, sleep } from './own-daemon';

const LABEL = 'berth-bench';
const RUN_ID = `lifecycle-${process.pid}-${randomBytes(3).toString('hex')}`;

let interrupted = false;
function checkInterrupted(): void {
  if (interrupted) throw new Error('interrupted');
}

const own = process.argv.includes('--berthd');
const debug = process.argv.includes('--debug');
const profileDir = arg('--profile', '') || undefined;
const runs = Number(arg('--runs', own ? '5' : '20'));
const total = Number(arg('--containers', '200'));
const running = Number(arg('--running', '100'));
const image = arg('--image', 'busybox');
const cliName = arg('--cli', 'docker');
const cli = cliPath(cliName);

interface Summary {
  Id: string;
  State: string;
  Labels?: Record<string, string> | null;
}

const listAll = (ep: Endpoint) => api<Summary[]>(ep, 'GET', '/containers/json?all=1');

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
  const d = own ? new OwnDaemon({ debug, profileDir }) : undefined;
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
