/**
 * Container move benchmark: `berth container move` of one container between two daemons,
 * against a raw copy of the same files.
 *
 *   node dist/bench/move.js [--runs 3] [--mb 100] [--files 2000] [--to tcp://… | unix://…] [--verbose] [--debug]
 *
 * The bench starts a berthd of its own (bench/own-daemon.ts: own data root, exec root, socket,
 * cgroup parent and network namespace, all removed at the end) and, unless --to names a
 * target daemon (berthd or dockerd), a second one. On the first it runs a busybox container
 * whose own layer holds --mb MB in three kinds of file: half random bytes, half repeated
 * text, and --files small files (a mix, so neither side is flattered by only one kind).
 *
 * Each run moves the container there (`berth container move --to`, timed as the client runs
 * it, with the bytes it reports sent), and, between two berth daemons, back again as a second
 * sample. The raw copy is the same files, read from the container's own layer and written to
 * a folder on the same disk through one pipe (`tar -c | tar -x`): what moving the data costs
 * with no daemon, API or container around it. The table shows medians and the ratio.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { arg, cliPath, median, timeCli } from './lib';
import { OwnDaemon, api, endpoint, ms } from './own-daemon';

const runs = Number(arg('--runs', '3'));
const mb = Number(arg('--mb', '100'));
const files = Number(arg('--files', '2000'));
const to = arg('--to', '');
const BERTH = cliPath('berth');
const NAME = 'bench-move';

async function move(from: string, target: string): Promise<{ ms: number; sent: string }> {
  const r = await timeCli(BERTH, ['-H', from, 'container', 'move', NAME, '--to', target], { host: from, stdout: 'pipe' });
  if (r.code !== 0) throw new Error(`move exited with ${r.code}:\n${r.stdout}`);
  if (process.argv.includes('--verbose')) process.stdout.write(r.stdout);
  const sent = /: ([\d.]+\s*[kMG]?B) sent in/.exec(r.stdout)?.[1] ?? '?';
  return { ms: r.ms, sent };
}

/** `tar -c | tar -x` of the container's own layer into a fresh folder: ms. */
function rawCopy(upper: string): number {
  const into = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-raw-'));
  try {
    const t0 = process.hrtime.bigint();
    const r = spawnSync('sh', ['-c', 'tar -C "$1" -cf - . | tar -C "$2" -xf -', 'sh', upper, into], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`raw copy exited with ${r.status}`);
    return ms(t0);
  } finally {
    rmSync(into, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const debug = process.argv.includes('--debug');
  const a = new OwnDaemon({ debug });
  const b = to ? undefined : new OwnDaemon({ debug });
  let interrupted = false;
  process.on('SIGINT', () => (interrupted = true));
  try {
    a.setUp();
    b?.setUp();
    await Promise.all([a.start(), b?.start()]);
    const target = to || b!.host;
    const epA = endpoint(a.host);
    const fill = [
      'mkdir -p /data/small',
      `dd if=/dev/urandom of=/data/random bs=1M count=${Math.floor(mb / 2)} 2>/dev/null`,
      `yes 'berth moves a container with its own layer, its log and its volumes' | head -c $((${Math.ceil(mb / 2)} * 1048576)) > /data/text`,
      `i=0; while [ $i -lt ${files} ]; do echo "file $i" > /data/small/$i; i=$((i+1)); done`,
    ].join(' && ');
    const made = await timeCli(BERTH, ['-H', a.host, 'run', '-d', '--name', NAME, '--init', 'busybox', 'sleep', '100000'], { host: a.host, stdout: 'ignore' });
    if (made.code !== 0) throw new Error('run failed');
    const filled = await timeCli(BERTH, ['-H', a.host, 'exec', NAME, 'sh', '-c', fill], { host: a.host, stdout: 'ignore' });
    if (filled.code !== 0) throw new Error('filling the layer failed');
    const info = await api<{ GraphDriver: { Data: Record<string, string> } }>(epA, 'GET', `/containers/${NAME}/json`);
    const upper = info.GraphDriver.Data.UpperDir ?? '';
    const layerBytes = Number(execFileSync('du', ['-sb', upper]).toString().split('\t')[0]);

    const moves: number[] = [];
    const raws: number[] = [];
    let sent = '';
    let here = a.host;
    let there = target;
    for (let i = 0; i < runs && !interrupted; i++) {
      if (here === a.host) raws.push(rawCopy((await api<{ GraphDriver: { Data: Record<string, string> } }>(epA, 'GET', `/containers/${NAME}/json`)).GraphDriver.Data.UpperDir));
      const m = await move(here, there);
      moves.push(m.ms);
      sent = m.sent;
      if (!b) break; // a foreign target: one move, nothing to move back from
      [here, there] = [there, here];
    }
    const mMove = median(moves);
    const mRaw = median(raws);
    console.log(`\ncontainer move, ${mb} MB own layer (${(layerBytes / 1e6).toFixed(1)} MB on disk, ${files} small files), berth CLI, medians of ${moves.length} moves and ${raws.length} raw copies:\n`);
    console.log('| | ms | sent | ratio |');
    console.log('| --- | --- | --- | --- |');
    console.log(`| raw copy (tar \\| tar, same disk) | ${mRaw.toFixed(0)} | ${(layerBytes / 1e6).toFixed(1)} MB | 1.00x |`);
    console.log(`| berth container move | ${mMove.toFixed(0)} | ${sent} | ${(mMove / mRaw).toFixed(2)}x |`);
    console.log('\nThe move includes stopping the container (busybox sleep under --init: it ends at SIGTERM), the checks, the image check, the start on the target and the removal on the source.');
  } finally {
    await a.tearDown();
    await b?.tearDown();
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
