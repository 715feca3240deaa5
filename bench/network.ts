/**
 * Network benchmark, against any Docker-API daemon through the docker CLI (or `berth`):
 *
 *   1. what a network costs a container: `run --rm busybox true` on the default bridge
 *      against `--network none`, alternating, medians of each and their difference;
 *   2. requests per second through a published port: busybox httpd behind `-p ADDRESS::80`,
 *      a client of this process making HTTP requests to ADDRESS:PORT with some concurrency.
 *
 *   node dist/bench/network.js --host unix:///run/berth/berth.sock [--cli berth] [--runs 20] [--seconds 5]
 *       [--address 127.0.0.1]
 *
 * Run it in the daemon's network namespace (ADDRESS must be one of the daemon's addresses).
 *
 * Which path the requests take decides the figure, so the bench says which one it saw.
 * berth publishes ports with kernel NAT (CNI portmap: DNAT, also for 127.0.0.1). dockerd by
 * default (`userland-proxy: true`) serves connections to 127.0.0.1 through a docker-proxy
 * process that copies every byte; to any other local address it uses kernel NAT as well.
 * For a like-with-like comparison run dockerd with `--userland-proxy=false` (kernel NAT for
 * loopback too), or give --address a non-loopback address of the namespace. The bench finds
 * a docker-proxy process serving the port in /proc and prints what it found.
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { arg, cliPath, median, succeeded, timeCli } from './lib';

const host = arg('--host', process.env.DOCKER_HOST ?? 'unix:///run/berth/berth.sock');
const cliName = arg('--cli', 'docker');
const cli = cliPath(cliName);
const runs = Number(arg('--runs', '20'));
const seconds = Number(arg('--seconds', '5'));
const concurrency = Number(arg('--concurrency', '16'));
const address = arg('--address', '127.0.0.1');

async function sh(args: string[]): Promise<{ ms: number; out: string }> {
  const r = succeeded(await timeCli(cli, args, { host, stdout: 'pipe' }), `${cliName} ${args.join(' ')}`);
  return { ms: r.ms, out: r.stdout };
}

async function requestsPerSecond(port: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: false, maxSockets: concurrency });
  const deadline = Date.now() + seconds * 1000;
  let done = 0;
  let failed = 0;
  const worker = async () => {
    while (Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const req = http.get({ host: address, port, path: '/hostname', agent }, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) done++;
            else failed++;
            resolve();
          });
        });
        req.on('error', () => {
          failed++;
          resolve();
        });
      });
    }
  };
  const t0 = Date.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (failed > done / 100) console.error(`warning: ${failed} requests failed`);
  return done / ((Date.now() - t0) / 1000);
}

/** The pid of a docker-proxy process that serves this host port, if there is one (userland proxying). */
function dockerProxyFor(port: number): number | undefined {
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!argv[0]?.endsWith('docker-proxy')) continue;
    const at = argv.indexOf('-host-port');
    if (at >= 0 && Number(argv[at + 1]) === port) return Number(p);
  }
  return undefined;
}

/** Resolves once something accepts a TCP connection at the address and port. */
async function accepting(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: address, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing accepts connections at ${address}:${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main(): Promise<void> {
  const bridge: number[] = [];
  const none: number[] = [];
  await sh(['run', '--rm', 'busybox', 'true']); // warm up: the bridge is made on first use
  for (let i = 0; i < runs; i++) {
    bridge.push((await sh(['run', '--rm', 'busybox', 'true'])).ms);
    none.push((await sh(['run', '--rm', '--network', 'none', 'busybox', 'true'])).ms);
  }
  const name = `berth-bench-net-${process.pid}`;
  await sh(['run', '-d', '--name', name, '-p', `${address}::80`, 'busybox', 'httpd', '-f', '-p', '80', '-h', '/etc']);
  let rps = 0;
  let path = '';
  try {
    const port = Number((await sh(['port', name, '80'])).out.trim().split('\n')[0].split(':').pop());
    await accepting(port);
    const proxy = dockerProxyFor(port);
    path = proxy ? `userland proxy (docker-proxy, pid ${proxy})` : 'no userland proxy process for the port (kernel NAT)';
    rps = await requestsPerSecond(port);
  } finally {
    await sh(['rm', '-f', name]).catch(() => undefined);
  }
  console.log(`daemon: ${host}  client: ${cli}  (median of ${runs})`);
  console.log(`run --rm busybox true, default bridge   ${median(bridge).toFixed(0)} ms`);
  console.log(`run --rm busybox true, --network none   ${median(none).toFixed(0)} ms`);
  console.log(`cost of the bridge                      ${(median(bridge) - median(none)).toFixed(0)} ms`);
  console.log(`HTTP through a published port           ${rps.toFixed(0)} requests/s (${concurrency} at once, new connection each)`);
  console.log(`  to ${address}; path: ${path}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
