/**
 * The daemon's memory when clients misbehave, against any Docker-API daemon (issue 15):
 *
 *   node dist/bench/memory.js --host unix:///run/berth/berth.sock --daemon-pid $(cat /run/berth/berthd.pid)
 *   node dist/bench/memory.js --host unix:///run/anchor/docker.sock --daemon-pid $(pidof dockerd)
 *
 * Scenarios, each printed as the daemon's RSS idle / peak / after in MB (medians of --runs):
 * - a stalled attach client: a container writes as fast as it can (`cat /bin/busybox` in a
 *   loop) while one attach client reads nothing for --stall-seconds, then leaves;
 * - `logs --tail 1` of a --log-mb MB log (written with no size limit: --log-opt max-size=-1).
 * The target: peak within +50 MB of idle in both.
 */
import * as net from 'node:net';
import * as http from 'node:http';
import { readFileSync } from 'node:fs';
import { arg, cliPath, median, succeeded, timeCli } from './lib';

const MB = 1024 * 1024;
const host = arg('--host', process.env.DOCKER_HOST ?? 'unix:///run/berth/berth.sock');
const cli = cliPath(arg('--cli', 'docker'));
const runs = Number(arg('--runs', '3'));
const stallSeconds = Number(arg('--stall-seconds', '8'));
const logMb = Number(arg('--log-mb', '1024'));
const image = arg('--image', 'busybox');
const daemonPid = Number(arg('--daemon-pid', '0'));
if (!daemonPid) throw new Error('--daemon-pid is needed: the process whose memory is measured');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rss(): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${daemonPid}/status`, 'utf8'))![1]) * 1024;
}

/** Where the daemon listens: a unix socket, or a TCP host and port. */
function endpoint(): { path: string } | { host: string; port: number } {
  if (host.startsWith('unix://')) return { path: host.slice('unix://'.length) };
  const u = new URL(host.replace(/^tcp:/, 'http:'));
  return { host: u.hostname, port: Number(u.port) };
}

async function docker(args: string[]): Promise<string> {
  return succeeded(await timeCli(cli, args, { host, stdout: 'pipe' }), `${cli} ${args.join(' ')}`).stdout.trim();
}

/** The highest RSS while `work` runs, sampled every 50 ms. */
async function peakDuring(work: Promise<unknown>): Promise<number> {
  let peak = rss();
  let done = false;
  void work.finally(() => (done = true)).catch(() => undefined);
  while (!done) {
    peak = Math.max(peak, rss());
    await sleep(50);
  }
  return Math.max(peak, rss());
}

/** RSS once it has stopped falling (two readings a second apart within 1 MB), at most 20 s. */
async function settled(): Promise<number> {
  let last = rss();
  for (let i = 0; i < 20; i++) {
    await sleep(1000);
    const now = rss();
    if (Math.abs(now - last) < MB) return now;
    last = now;
  }
  return last;
}

interface Sample {
  idle: number;
  peak: number;
  after: number;
}

async function stalledAttach(id: string): Promise<Sample> {
  const idle = await settled();
  const client = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect(endpoint(), () => {
      s.write(`POST /containers/${id}/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: bench\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
      s.pause();
      resolve(s);
    });
    s.on('error', reject);
  });
  const peak = await peakDuring(sleep(stallSeconds * 1000));
  client.destroy();
  return { idle, peak, after: await settled() };
}

function fetchLogs(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const e = endpoint();
    const req = http.request({ ...('path' in e ? { socketPath: e.path } : e), path }, (res) => {
      let n = 0;
      res.on('data', (c: Buffer) => (n += c.length));
      res.on('end', () => resolve(n));
    });
    req.on('error', reject);
    req.end();
  });
}

async function tailOfBigLog(id: string): Promise<Sample> {
  const idle = await settled();
  const peak = await peakDuring(fetchLogs(`/containers/${id}/logs?stdout=1&tail=1`));
  return { idle, peak, after: await settled() };
}

function report(what: string, samples: Sample[]): void {
  const m = (k: keyof Sample) => (median(samples.map((s) => s[k])) / MB).toFixed(0);
  const growth = median(samples.map((s) => s.peak - s.idle)) / MB;
  console.log(`${what.padEnd(48)} idle ${m('idle')} MB / peak ${m('peak')} MB / after ${m('after')} MB  (peak - idle ${growth.toFixed(0)} MB${growth <= 50 ? ', within +50 MB' : ', OVER +50 MB'})`);
}

async function main(): Promise<void> {
  console.log(`daemon ${host} (pid ${daemonPid}), client ${cli}, ${runs} runs`);
  const flood = await docker(['run', '-d', image, 'sh', '-c', 'while :; do cat /bin/busybox; done']);
  try {
    const samples: Sample[] = [];
    for (let i = 0; i < runs; i++) samples.push(await stalledAttach(flood));
    report(`stalled attach, flooding container, ${stallSeconds} s`, samples);
  } finally {
    await docker(['rm', '-f', flood]);
  }
  const line = '0123456789'.repeat(10).slice(0, 99);
  const big = await docker(['run', '-d', '--log-opt', 'max-size=-1', image, 'sh', '-c', `yes ${line} | head -c ${logMb * MB}; echo the-end`]);
  try {
    await docker(['wait', big]);
    const samples: Sample[] = [];
    for (let i = 0; i < runs; i++) samples.push(await tailOfBigLog(big));
    report(`logs --tail 1 of a ${logMb} MB log`, samples);
  } finally {
    await docker(['rm', '-f', big]);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
