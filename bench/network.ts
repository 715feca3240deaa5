/**
 * Network benchmark, against any Docker-API daemon through the docker CLI (or `berth`):
 *
 *   1. what a network costs a container: `run --rm busybox true` on the default bridge
 *      against `--network none`, alternating, medians of each and their difference;
 *   2. requests per second through a published port: busybox httpd behind `-p`, a client of
 *      this process making HTTP requests to 127.0.0.1:PORT with some concurrency.
 *
 *   node dist/bench/network.js --host unix:///run/berth/berth.sock [--cli berth] [--runs 20] [--seconds 5]
 *
 * Run it in the daemon's network namespace (127.0.0.1 must be the daemon's loopback).
 */
import * as http from 'node:http';
import { arg, cliPath, median, succeeded, timeCli } from './lib';

const host = arg('--host', process.env.DOCKER_HOST ?? 'unix:///run/berth/berth.sock');
const cliName = arg('--cli', 'docker');
const cli = cliPath(cliName);
const runs = Number(arg('--runs', '20'));
const seconds = Number(arg('--seconds', '5'));
const concurrency = Number(arg('--concurrency', '16'));

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
        const req = http.get({ host: '127.0.0.1', port, path: '/hostname', agent }, (res) => {
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

async function main(): Promise<void> {
  const bridge: number[] = [];
  const none: number[] = [];
  await sh(['run', '--rm', 'busybox', 'true']); // warm up: the bridge is made on first use
  for (let i = 0; i < runs; i++) {
    bridge.push((await sh(['run', '--rm', 'busybox', 'true'])).ms);
    none.push((await sh(['run', '--rm', '--network', 'none', 'busybox', 'true'])).ms);
  }
  const name = `berth-bench-net-${process.pid}`;
  await sh(['run', '-d', '--name', name, '-p', '127.0.0.1::80', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/etc']);
  let rps = 0;
  try {
    const port = Number((await sh(['port', name, '80'])).out.trim().split('\n')[0].split(':').pop());
    await new Promise((r) => setTimeout(r, 300));
    rps = await requestsPerSecond(port);
  } finally {
    await sh(['rm', '-f', name]).catch(() => undefined);
  }
  console.log(`daemon: ${host}  client: ${cli}  (median of ${runs})`);
  console.log(`run --rm busybox true, default bridge   ${median(bridge).toFixed(0)} ms`);
  console.log(`run --rm busybox true, --network none   ${median(none).toFixed(0)} ms`);
  console.log(`cost of the bridge                      ${(median(bridge) - median(none)).toFixed(0)} ms`);
  console.log(`HTTP through a published port           ${rps.toFixed(0)} requests/s (${concurrency} at once, new connection each)`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
