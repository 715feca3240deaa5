/**
 * CLI benchmark: what a user waits for, per command, through each client against the same
 * daemon, side by side. A comparison is one command:
 *
 *   node dist/bench/cli.js --berthd [--clients docker,berth] [--runs 15] [--burst-runs 3]
 *   node dist/bench/cli.js -H unix:///run/anchor/docker.sock --clients docker,berth
 *
 * --berthd starts a berthd of the bench's own (bench/own-daemon.ts: its own roots and network
 * namespace, all removed at the end); else the daemon at -H / --host / DOCKER_HOST. --clients
 * names the clients (`berth` is this repository's bin/berth, which runs the compiled CLI when
 * the build made one; `berth-node` is `node bin/berth`, the CLI on Node; anything else is a
 * command on PATH), the first being the one the
 * others are compared with. Each scenario runs --runs times (--burst-runs for the burst) after
 * one warm-up, the clients taking turns, and the table shows medians in ms and each client's
 * ratio to the first:
 *
 *   --version                            the client alone
 *   ps -a, images, inspect CONTAINER     one API call or two
 *   exec CONTAINER true                  in a running busybox container
 *   run --rm --network none IMAGE true   create, attach, start, wait, remove
 *   16 x run --rm, 8 at a time           the total time of the burst
 */
import { arg, cliPath, median, succeeded, timeCli } from './lib';
import { OwnDaemon, api, endpoint, parallel, request } from './own-daemon';

const own = process.argv.includes('--berthd');
const runs = Number(arg('--runs', '15'));
const burstRuns = Number(arg('--burst-runs', '3'));
const image = arg('--image', 'busybox');
const clients = arg('--clients', 'docker,berth').split(',').filter(Boolean);
const hostArg = arg('-H', arg('--host', process.env.DOCKER_HOST ?? 'unix:///run/berth/berth.sock'));

interface Scenario {
  name: string;
  /** runs one sample with `client` against `host`; resolves with its time in ms */
  sample: (client: string, host: string) => Promise<number>;
  runs: number;
}

/** What runs for a client name: `berth-node` is bin/berth run by Node (the CLI before it was compiled). */
function command(client: string): string[] {
  return client === 'berth-node' ? [process.execPath, cliPath('berth')] : [cliPath(client)];
}

function once(args: string[]): Scenario['sample'] {
  return async (client, host) => {
    const [cmd, ...pre] = command(client);
    return succeeded(await timeCli(cmd, [...pre, ...args], { host, stdout: 'ignore' }), `${client} ${args.join(' ')}`).ms;
  };
}

function scenarios(box: string): Scenario[] {
  const runArgs = ['run', '--rm', '--network', 'none', image, 'true'];
  return [
    { name: '--version (client alone)', sample: once(['--version']), runs },
    { name: 'ps -a', sample: once(['ps', '-a']), runs },
    { name: 'images', sample: once(['images']), runs },
    { name: 'inspect CONTAINER', sample: once(['inspect', box]), runs },
    { name: 'exec CONTAINER true', sample: once(['exec', box, 'true']), runs },
    { name: `run --rm --network none ${image} true`, sample: once(runArgs), runs },
    {
      name: '16 x run --rm, 8 at a time (total)',
      sample: async (client, host) => {
        const t0 = process.hrtime.bigint();
        await parallel(Array.from({ length: 16 }, (_, i) => i), 8, async () => void (await once(runArgs)(client, host)));
        return Number(process.hrtime.bigint() - t0) / 1e6;
      },
      runs: burstRuns,
    },
  ];
}

/** Medians per scenario and client: rows[scenario][client]. */
async function measure(host: string, box: string): Promise<{ name: string; medians: number[] }[]> {
  const table: { name: string; medians: number[] }[] = [];
  for (const s of scenarios(box)) {
    const samples: number[][] = clients.map(() => []);
    for (const c of clients) await s.sample(c, host); // warm-up
    for (let i = 0; i < s.runs; i++) {
      // the clients take turns, so a slow moment of the machine falls on all of them
      for (const [k, c] of clients.entries()) samples[k].push(await s.sample(c, host));
    }
    table.push({ name: s.name, medians: samples.map(median) });
    console.error(`${s.name}: ${samples.map((x, k) => `${clients[k]} ${median(x).toFixed(1)}`).join(', ')}`);
  }
  return table;
}

function print(host: string, table: { name: string; medians: number[] }[]): void {
  const head = ['', ...clients.map((c) => `${c} (ms)`), ...clients.slice(1).map((c) => `${c} / ${clients[0]}`)];
  const rows = table.map((r) => [r.name, ...r.medians.map((m) => m.toFixed(1)), ...r.medians.slice(1).map((m) => `${(m / r.medians[0]).toFixed(2)}x`)]);
  console.log(`daemon: ${host}; clients: ${clients.map((c) => `${c} = ${command(c).join(' ')}`).join(', ')}; medians of ${runs} (burst: ${burstRuns})`);
  console.log(`| ${head.join(' | ')} |`);
  console.log(`|${head.map(() => ' --- ').join('|')}|`);
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
}

async function main(): Promise<void> {
  const d = own ? new OwnDaemon() : undefined;
  let failure: unknown;
  let box: string | undefined;
  const host = d ? d.host : hostArg;
  const ep = endpoint(host);
  try {
    if (d) {
      d.setUp();
      await d.start();
    }
    // the container exec and inspect work on, made through the API so no client is favoured
    box = (await api<{ Id: string }>(ep, 'POST', '/v1.41/containers/create', { Image: image, Cmd: ['sleep', '3600'], HostConfig: { NetworkMode: 'none' } })).Id;
    await api(ep, 'POST', `/v1.41/containers/${box}/start`);
    print(host, await measure(host, box));
  } catch (e) {
    failure = e;
  } finally {
    if (box) await request(ep, 'DELETE', `/v1.41/containers/${box}?force=1`).catch(() => undefined);
    if (d) await d.tearDown().catch((e: unknown) => console.error(`clean-up: ${(e as Error).message}`));
  }
  if (failure) throw failure;
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
