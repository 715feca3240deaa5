/**
 * Benchmarks that run the same scenarios against any Docker-API daemon through the docker
 * CLI (or the berth CLI), and print medians. A comparison is one command per daemon:
 *
 *   node dist/bench/run.js --host unix:///run/berth/berth.sock --daemon-pid $(cat /run/berth/berthd.pid)
 *   node dist/bench/run.js --host unix:///run/anchor/docker.sock --daemon-pid $(pidof dockerd) --monitor containerd-shim
 *
 * Scenarios: `run --rm busybox true` latency (median of --runs), `exec true` latency in a
 * running container, log throughput (a container writes --log-mb MB of lines; how fast it
 * could write them, and how fast `logs` reads them back), the daemon's idle RSS, and the
 * memory each running container adds outside itself (daemon growth plus its monitor
 * process: conmon for berth, containerd-shim for Docker).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { cliPath, median, timeCli } from './lib';

interface Options {
  host: string;
  cli: string;
  runs: number;
  containers: number;
  daemonPid?: number;
  monitor: string;
  image: string;
  logMb: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    host: process.env.DOCKER_HOST ?? 'unix:///run/berth/berth.sock',
    cli: 'docker',
    runs: 20,
    containers: 10,
    monitor: 'conmon',
    image: 'busybox',
    logMb: 50,
  };
  for (let i = 0; i < argv.length; i++) {
    const v = () => argv[++i];
    switch (argv[i]) {
      case '--host': o.host = v(); break;
      case '--cli': o.cli = cliPath(v()); break;
      case '--runs': o.runs = Number(v()); break;
      case '--containers': o.containers = Number(v()); break;
      case '--daemon-pid': o.daemonPid = Number(v()); break;
      case '--monitor': o.monitor = v(); break;
      case '--image': o.image = v(); break;
      case '--log-mb': o.logMb = Number(v()); break;
      default: throw new Error(`unknown option ${argv[i]}`);
    }
  }
  return o;
}

async function cli(o: Options, args: string[]): Promise<{ code: number; ms: number; stdout: string }> {
  const r = await timeCli(o.cli, args, { host: o.host, stdout: 'pipe' });
  return { code: r.code ?? 1, ms: r.ms, stdout: r.stdout };
}

function rssKiB(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function monitorsRssKiB(name: string): number {
  let total = 0;
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/comm`, 'utf8').trim().startsWith(name)) total += rssKiB(Number(p));
    } catch {
      /* exited meanwhile */
    }
  }
  return total;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const rows: [string, string][] = [];

  await cli(o, ['run', '--rm', o.image, 'true']); // warm-up
  const times: number[] = [];
  for (let i = 0; i < o.runs; i++) {
    const r = await cli(o, ['run', '--rm', o.image, 'true']);
    if (r.code !== 0) throw new Error(`run failed with ${r.code}`);
    times.push(r.ms);
  }
  rows.push([`run --rm ${o.image} true (median of ${o.runs})`, `${median(times).toFixed(0)} ms`]);

  const box = await cli(o, ['run', '-d', o.image, 'sleep', '600']);
  const boxId = box.stdout.trim();
  try {
    const execTimes: number[] = [];
    for (let i = 0; i < o.runs; i++) {
      const r = await cli(o, ['exec', boxId, 'true']);
      if (r.code !== 0) throw new Error(`exec failed with ${r.code}`);
      execTimes.push(r.ms);
    }
    rows.push([`exec CONTAINER true (median of ${o.runs})`, `${median(execTimes).toFixed(0)} ms`]);
  } finally {
    await cli(o, ['rm', '-f', boxId]);
  }

  // 99 characters and a newline a line, --log-mb MB in all
  const lines = Math.round((o.logMb * 1024 * 1024) / 100);
  const writer = await cli(o, ['run', '-d', o.image, 'sh', '-c', `yes ${'a'.repeat(98)} | head -n ${lines}`]);
  const writerId = writer.stdout.trim();
  try {
    await cli(o, ['wait', writerId]);
    const times = JSON.parse((await cli(o, ['inspect', '-f', '{{json .State}}', writerId])).stdout) as { StartedAt: string; FinishedAt: string };
    const writeSeconds = (Date.parse(times.FinishedAt) - Date.parse(times.StartedAt)) / 1000;
    rows.push([`log write, ${o.logMb} MB of 100-byte lines`, `${(o.logMb / writeSeconds).toFixed(1)} MB/s`]);
    const read = await cli(o, ['logs', writerId]);
    rows.push([`logs read back, ${(read.stdout.length / 1024 / 1024).toFixed(0)} MB`, `${(read.stdout.length / 1024 / 1024 / (read.ms / 1000)).toFixed(1)} MB/s`]);
  } finally {
    await cli(o, ['rm', '-f', writerId]);
  }

  if (o.daemonPid) {
    await new Promise((r) => setTimeout(r, 1000));
    const idle = rssKiB(o.daemonPid);
    rows.push(['daemon RSS, idle', `${(idle / 1024).toFixed(1)} MiB`]);
    const monitorsBefore = monitorsRssKiB(o.monitor);
    const ids: string[] = [];
    try {
      for (let i = 0; i < o.containers; i++) {
        const r = await cli(o, ['run', '-d', o.image, 'sleep', '600']);
        if (r.code !== 0) throw new Error('run -d failed');
        ids.push(r.stdout.trim());
      }
      await new Promise((r) => setTimeout(r, 1000));
      const daemonGrowth = rssKiB(o.daemonPid) - idle;
      const monitors = monitorsRssKiB(o.monitor) - monitorsBefore;
      rows.push([`daemon RSS with ${o.containers} running`, `${(rssKiB(o.daemonPid) / 1024).toFixed(1)} MiB`]);
      rows.push([`per running container (daemon growth + ${o.monitor})`, `${((daemonGrowth + monitors) / 1024 / o.containers).toFixed(2)} MiB`]);
    } finally {
      if (ids.length) await cli(o, ['rm', '-f', ...ids]);
    }
  }

  const width = Math.max(...rows.map((r) => r[0].length));
  console.log(`daemon: ${o.host}  client: ${o.cli}`);
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
