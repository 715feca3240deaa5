import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import { TestDaemon } from '../helpers/daemon';

let d: TestDaemon;
before(async () => {
  d = await TestDaemon.start();
});
after(async () => {
  await d?.cleanup();
});

const MiB = 1024 * 1024;

/** The first `count` objects of a streamed stats answer. */
function streamed(name: string, count: number): Promise<any[]> {
  return new Promise((resolve, reject) => {
    const out: any[] = [];
    let buf = '';
    const req = http.request({ socketPath: d.socket, path: `/containers/${name}/stats` }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          out.push(JSON.parse(buf.slice(0, nl)));
          buf = buf.slice(nl + 1);
          if (out.length === count) {
            req.destroy();
            resolve(out);
          }
        }
      });
      res.on('error', () => undefined);
    });
    req.on('error', (e) => (out.length >= count ? undefined : reject(e)));
    req.end();
  });
}

test('stats read the cgroup: memory a container holds, its limits, its processes', async () => {
  const run = await d.berth(['run', '-d', '--name', 'hold', '-m', '64m', '--pids-limit', '50', '--tmpfs', '/m', 'busybox', 'sh', '-c', 'dd if=/dev/zero of=/m/f bs=1M count=20 2>/dev/null; sleep 1000']);
  assert.equal(run.code, 0, run.stderr);
  let s: any;
  for (let i = 0; i < 50; i++) {
    s = (await d.api('GET', '/containers/hold/stats?stream=false&one-shot=true')).json();
    if (s.memory_stats.usage >= 20 * MiB) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(s.memory_stats.usage >= 20 * MiB, `usage ${s.memory_stats.usage}`);
  assert.equal(s.memory_stats.limit, 64 * MiB);
  assert.equal(s.pids_stats.limit, 50);
  assert.ok(s.pids_stats.current >= 1, `pids ${s.pids_stats.current}`);
  assert.equal(s.name, '/hold');
  assert.ok(s.networks?.eth0, 'the bridge interface is counted');
  assert.ok(s.cpu_stats.system_cpu_usage > 0);
  assert.equal(s.cpu_stats.online_cpus > 0, true);
  // without one-shot, the answer carries the sample of a second before
  const two = (await d.api('GET', '/containers/hold/stats?stream=false')).json();
  assert.ok(Date.parse(two.read) - Date.parse(two.preread) >= 900, `${two.preread} → ${two.read}`);
  const docker = await d.docker(['stats', '--no-stream', '--format', '{{.MemUsage}}|{{.PIDs}}', 'hold']);
  assert.equal(docker.code, 0, docker.stderr);
  assert.match(docker.stdout.trim(), /^\d+(\.\d+)?MiB \/ 64MiB\|\d+$/);
  const mine = await d.berth(['stats', '--no-stream', 'hold']);
  assert.equal(mine.code, 0, mine.stderr);
  assert.match(mine.stdout, /^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS\n[0-9a-f]{12}\s+hold\s+\d+\.\d\d%\s+\S+MiB \/ 64MiB\s+\d+\.\d\d%/);
});

test('a stream yields a sample a second, with the previous CPU sample, for a busy container', async () => {
  assert.equal((await d.berth(['run', '-d', '--name', 'busy', 'busybox', 'sh', '-c', 'while :; do :; done'])).code, 0);
  // a spinning container is stopped even when an assertion fails
  try {
    await busyStream();
  } finally {
    await d.berth(['rm', '-f', 'busy']);
  }
});

async function busyStream(): Promise<void> {
  const samples = await streamed('busy', 3);
  assert.equal(samples.length, 3);
  assert.ok(samples[2].cpu_stats.cpu_usage.total_usage > samples[1].cpu_stats.cpu_usage.total_usage);
  assert.equal(samples[2].precpu_stats.cpu_usage.total_usage, samples[1].cpu_stats.cpu_usage.total_usage);
  const pre = samples[2].precpu_stats;
  const cur = samples[2].cpu_stats;
  const percent = ((cur.cpu_usage.total_usage - pre.cpu_usage.total_usage) / (cur.system_cpu_usage - pre.system_cpu_usage)) * cur.online_cpus * 100;
  // a spinning shell keeps a CPU busy; on a loaded 2-core machine it still gets a good share
  assert.ok(percent > 15, `a spinning shell uses a CPU: ${percent}%`);
  assert.ok(Date.parse(samples[2].read) - Date.parse(samples[1].read) >= 900, 'a sample a second');
  assert.equal(samples[2].preread, samples[1].read);
}

test('a stopped container gives zeros; an unknown one is a 404', async () => {
  assert.equal((await d.berth(['create', '--name', 'idle', 'busybox', 'true'])).code, 0);
  const s = (await d.api('GET', '/containers/idle/stats?stream=false')).json();
  assert.equal(s.read, '0001-01-01T00:00:00Z');
  assert.equal(s.cpu_stats.cpu_usage.total_usage, 0);
  const missing = await d.api('GET', '/containers/nope/stats?stream=false');
  assert.equal(missing.status, 404);
  assert.match(missing.json().message, /No such container: nope/);
  // streamed, a stopped container keeps answering zeros
  const zeros = await streamed('idle', 2);
  assert.deepEqual(zeros.map((z) => z.read), ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00Z']);
  assert.equal(zeros[1].name, '/idle');
  const cli = await d.berth(['stats', '--no-stream', 'nope']);
  assert.equal(cli.code, 1);
  assert.match(cli.stderr, /No such container: nope/);
});

test('a stream ends when its container is removed', async () => {
  assert.equal((await d.berth(['run', '-d', '--name', 'brief', 'busybox', 'sleep', '1000'])).code, 0);
  const got: string[] = [];
  const ended = new Promise<void>((resolve, reject) => {
    const req = http.request({ socketPath: d.socket, path: '/containers/brief/stats' }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        got.push(chunk);
        if (got.length === 1) void d.berth(['rm', '-f', 'brief']);
      });
      res.on('end', resolve);
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
    setTimeout(() => {
      req.destroy();
      reject(new Error('the stream outlived its container'));
    }, 15_000).unref();
  });
  await ended;
  assert.ok(got.length >= 1);
  assert.equal((await d.api('GET', '/containers/brief/stats?stream=false')).status, 404);
});
