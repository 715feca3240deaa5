/**
 * Container move benchmark: `berth container move` of one container between two daemons,
 * against a raw copy of the same files over the same link.
 *
 *   node dist/bench/move.js [--runs 5] [--mb 100] [--files 2000] [--verbose] [--debug]
 *   node dist/bench/move.js --to tcp://…|unix://… [...]   a target daemon of your own (berthd or dockerd)
 *
 * The bench starts two berthd of its own (bench/own-daemon.ts: own data root, exec root,
 * socket, cgroup parent and network namespace), joins their namespaces with a veth pair
 * (10.213.77.1 and .2), and has each listen on its end (tcp, port 2375, no TLS: nothing
 * outside the two namespaces reaches it). All of it is removed at the end, also after a
 * failure or a ^C. On the first daemon it runs a busybox container whose own layer holds
 * --mb MB in three kinds of file: half random bytes, half repeated text, and --files small
 * files (a mix, so neither side is flattered by only one kind).
 *
 * Each run moves the container across the link and back on the next run: the berth CLI runs
 * in the sending daemon's namespace, reads from that daemon's socket and sends to the other
 * over the link, as `berth container move NAME --to tcp://OTHER:2375`. Before each move the
 * raw copy takes the same files the same way: `tar -c` of the container's own layer in the
 * sending namespace, one TCP stream over the link (a few lines of node on each end), `tar -x`
 * into a fresh folder on the same disk in the other namespace: what moving the data costs with
 * no daemon, API or container around it. Both are timed from spawn to exit; the bytes are
 * what the sending end of the veth pair sent meanwhile (TCP/IP headers included). The table
 * shows medians and the ratios.
 *
 * With --to, the target is that daemon (no link of the bench's): one move, against a raw copy
 * into a folder on this machine's disk through one pipe.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { arg, cliPath, median, timeCli } from './lib';
import { OwnDaemon, api, endpoint, ms } from './own-daemon';

const runs = Number(arg('--runs', '5'));
const mb = Number(arg('--mb', '100'));
const files = Number(arg('--files', '2000'));
const to = arg('--to', '');
const BERTH = cliPath('berth');
const NAME = 'bench-move';
const PORT = 2375;
const RAW_PORT = 2399;

// ---------------------------------------------------------------- the link between the two namespaces

/** A veth pair between two daemons' namespaces, one /30 address on each end. */
class Link {
  readonly ends: [string, string];
  readonly addresses: [string, string] = ['10.213.77.1', '10.213.77.2'];

  constructor(
    readonly netns: [string, string],
    tag: string,
  ) {
    // interface names hold 15 characters at most
    this.ends = [`bmv${tag}a`, `bmv${tag}b`];
  }

  up(): void {
    execFileSync('ip', ['link', 'add', 'name', this.ends[0], 'netns', this.netns[0], 'type', 'veth', 'peer', 'name', this.ends[1], 'netns', this.netns[1]]);
    for (const i of [0, 1]) {
      this.inNs(i, 'ip', 'addr', 'add', `${this.addresses[i]}/30`, 'dev', this.ends[i]);
      this.inNs(i, 'ip', 'link', 'set', this.ends[i], 'up');
    }
  }

  /** Bytes the end in namespace `i` has sent so far (from /proc/net/dev as that namespace sees it). */
  sent(i: 0 | 1): number {
    const table = this.inNs(i, 'cat', '/proc/net/dev');
    const line = table.split('\n').find((l) => l.trim().startsWith(`${this.ends[i]}:`));
    if (!line) throw new Error(`no ${this.ends[i]} in the namespace ${this.netns[i]}`);
    // receive: bytes packets errs drop fifo frame compressed multicast, then transmit: bytes ...
    return Number(line.split(':')[1].trim().split(/\s+/)[8]);
  }

  inNs(i: number, ...cmd: string[]): string {
    return execFileSync('nsenter', [`--net=/run/netns/${this.netns[i]}`, ...cmd], { encoding: 'utf8' });
  }
}

// ---------------------------------------------------------------- the two things measured

interface Sample {
  ms: number;
  /** bytes the sending end of the link sent */
  linkBytes: number;
  /** what the move says it sent (its payload), for a move */
  reported?: string;
}

const RECEIVE_JS = `const s = require('net').createServer((c) => { c.pipe(process.stdout); c.on('end', () => s.close()); }); s.listen(+process.argv[1], () => process.stderr.write('ready\\n'));`;
const SEND_JS = `const c = require('net').connect(+process.argv[2], process.argv[1], () => process.stdin.pipe(c));`;

/** Children of the bench that a failure must not leave behind (each leads a process group of its own). */
const children = new Set<ChildProcess>();

function spawnGroup(cmd: string, args: string[], stdio: ('ignore' | 'pipe' | 'inherit')[]): { child: ChildProcess; exited: Promise<number | null> } {
  const child = spawn(cmd, args, { stdio, detached: true });
  children.add(child);
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  void exited.then(() => children.delete(child));
  return { child, exited };
}

function killChildren(): void {
  for (const c of children) {
    try {
      if (c.pid) process.kill(-c.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** `tar -c` in one namespace, one TCP stream over the link, `tar -x` in the other, into a fresh folder. */
async function rawCopyOverLink(link: Link, from: 0 | 1, upper: string): Promise<Sample> {
  const into = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-raw-'));
  const toNs = from === 0 ? 1 : 0;
  try {
    const recv = spawnGroup('nsenter', [`--net=/run/netns/${link.netns[toNs]}`, 'sh', '-c', 'node -e "$1" "$2" | tar -C "$3" -xf -', 'sh', RECEIVE_JS, String(RAW_PORT), into], ['ignore', 'inherit', 'pipe']);
    await new Promise<void>((resolve, reject) => {
      let said = '';
      recv.child.stderr!.on('data', (b: Buffer) => {
        said += b.toString();
        if (said.includes('ready')) resolve();
      });
      void recv.exited.then((code) => reject(new Error(`the raw copy's receiver exited with ${code}: ${said}`)));
    });
    const sentBefore = link.sent(from);
    const t0 = process.hrtime.bigint();
    const send = spawnGroup('nsenter', [`--net=/run/netns/${link.netns[from]}`, 'sh', '-c', 'tar -C "$1" -cf - . | node -e "$2" "$3" "$4"', 'sh', upper, SEND_JS, link.addresses[toNs], String(RAW_PORT)], ['ignore', 'inherit', 'inherit']);
    const [sent, received] = await Promise.all([send.exited, recv.exited]);
    const took = ms(t0);
    if (sent !== 0 || received !== 0) throw new Error(`raw copy: the sender exited with ${sent}, the receiver with ${received}`);
    return { ms: took, linkBytes: link.sent(from) - sentBefore };
  } finally {
    rmSync(into, { recursive: true, force: true });
  }
}

/** `berth container move` run in the sending daemon's namespace, to the other's address on the link. */
async function moveOverLink(link: Link, from: 0 | 1, daemons: [OwnDaemon, OwnDaemon]): Promise<Sample> {
  const toNs = from === 0 ? 1 : 0;
  const sentBefore = link.sent(from);
  const r = await timeCli('nsenter', [`--net=/run/netns/${daemons[from].netns}`, BERTH, '-H', daemons[from].host, 'container', 'move', NAME, '--to', `tcp://${link.addresses[toNs]}:${PORT}`], { host: daemons[from].host, stdout: 'pipe' });
  if (r.code !== 0) throw new Error(`move exited with ${r.code}:\n${r.stdout}`);
  if (process.argv.includes('--verbose')) process.stdout.write(r.stdout);
  return { ms: r.ms, linkBytes: link.sent(from) - sentBefore, reported: /: ([\d.]+\s*[kMG]?B) sent in/.exec(r.stdout)?.[1] ?? '?' };
}

/** `tar -c | tar -x` of the container's own layer into a fresh folder on this machine (the --to mode). */
function rawCopyLocal(upper: string): number {
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

// ---------------------------------------------------------------- the bench

async function upperDir(host: string): Promise<string> {
  const info = await api<{ GraphDriver: { Data: Record<string, string> } }>(endpoint(host), 'GET', `/containers/${NAME}/json`);
  const upper = info.GraphDriver.Data.UpperDir;
  if (!upper) throw new Error('the container has no overlay upper directory (the bench needs overlay2)');
  return upper;
}

async function fillContainer(host: string): Promise<number> {
  const fill = [
    'mkdir -p /data/small',
    `dd if=/dev/urandom of=/data/random bs=1M count=${Math.floor(mb / 2)} 2>/dev/null`,
    `yes 'berth moves a container with its own layer, its log and its volumes' | head -c $((${Math.ceil(mb / 2)} * 1048576)) > /data/text`,
    `i=0; while [ $i -lt ${files} ]; do echo "file $i" > /data/small/$i; i=$((i+1)); done`,
  ].join(' && ');
  const made = await timeCli(BERTH, ['-H', host, 'run', '-d', '--name', NAME, '--init', 'busybox', 'sleep', '100000'], { host, stdout: 'ignore' });
  if (made.code !== 0) throw new Error('run failed');
  const filled = await timeCli(BERTH, ['-H', host, 'exec', NAME, 'sh', '-c', fill], { host, stdout: 'ignore' });
  if (filled.code !== 0) throw new Error('filling the layer failed');
  return Number(execFileSync('du', ['-sb', await upperDir(host)]).toString().split('\t')[0]);
}

const MB = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

async function overTheLink(debug: boolean, interrupted: () => boolean): Promise<void> {
  const args = ['--tls=false'];
  const a = new OwnDaemon({ debug, extraArgs: [...args, '-H', `tcp://10.213.77.1:${PORT}`] });
  const b = new OwnDaemon({ debug, extraArgs: [...args, '-H', `tcp://10.213.77.2:${PORT}`] });
  const daemons: [OwnDaemon, OwnDaemon] = [a, b];
  try {
    a.setUp();
    b.setUp();
    const link = new Link([a.netns, b.netns], a.tag);
    link.up();
    await Promise.all([a.start(), b.start()]);
    const layerBytes = await fillContainer(a.host);

    const raws: Sample[] = [];
    const moves: Sample[] = [];
    let here: 0 | 1 = 0;
    for (let i = 0; i < runs && !interrupted(); i++) {
      raws.push(await rawCopyOverLink(link, here, await upperDir(daemons[here].host)));
      moves.push(await moveOverLink(link, here, daemons));
      here = here === 0 ? 1 : 0;
    }
    const raw = { ms: median(raws.map((s) => s.ms)), bytes: median(raws.map((s) => s.linkBytes)) };
    const mv = { ms: median(moves.map((s) => s.ms)), bytes: median(moves.map((s) => s.linkBytes)) };
    console.log(`\ncontainer move over a veth link between two namespaces, ${mb} MB own layer (${MB(layerBytes)} on disk, ${files} small files), berth CLI; medians of ${moves.length} moves and ${raws.length} raw copies (moves alternate direction):\n`);
    console.log('| | ms | sent on the link | time ratio | bytes ratio |');
    console.log('| --- | --- | --- | --- | --- |');
    console.log(`| raw copy (tar -c \\| TCP \\| tar -x, same link) | ${raw.ms.toFixed(0)} | ${MB(raw.bytes)} | 1.00x | 1.00x |`);
    console.log(`| berth container move | ${mv.ms.toFixed(0)} | ${MB(mv.bytes)} (payload ${moves[moves.length - 1]?.reported}) | ${(mv.ms / raw.ms).toFixed(2)}x | ${(mv.bytes / raw.bytes).toFixed(2)}x |`);
    console.log(`\nsamples, ms: raw ${raws.map((s) => s.ms.toFixed(0)).join(' ')}; move ${moves.map((s) => s.ms.toFixed(0)).join(' ')}`);
    // issue 19's bound
    console.log(mv.ms <= 1.5 * raw.ms ? 'within the 1.5x bound of the raw copy' : `OVER the 1.5x bound of the raw copy (${(mv.ms / raw.ms).toFixed(2)}x)`);
    console.log('The move includes the CLI start, the checks, stopping the container (busybox sleep under --init: it ends at SIGTERM), the image check, the start on the target and the removal on the source; the raw copy includes starting a node on each end.');
  } finally {
    killChildren();
    await a.tearDown();
    await b.tearDown();
  }
}

async function toOwnTarget(debug: boolean): Promise<void> {
  const a = new OwnDaemon({ debug });
  try {
    a.setUp();
    await a.start();
    const layerBytes = await fillContainer(a.host);
    const raw = rawCopyLocal(await upperDir(a.host));
    const r = await timeCli(BERTH, ['-H', a.host, 'container', 'move', NAME, '--to', to], { host: a.host, stdout: 'pipe' });
    if (r.code !== 0) throw new Error(`move exited with ${r.code}:\n${r.stdout}`);
    if (process.argv.includes('--verbose')) process.stdout.write(r.stdout);
    const reported = /: ([\d.]+\s*[kMG]?B) sent in/.exec(r.stdout)?.[1] ?? '?';
    console.log(`\ncontainer move to ${to}, ${mb} MB own layer (${MB(layerBytes)} on disk, ${files} small files), berth CLI, one move:\n`);
    console.log('| | ms | sent | ratio |');
    console.log('| --- | --- | --- | --- |');
    console.log(`| raw copy (tar \\| tar, this machine's disk) | ${raw.toFixed(0)} | ${MB(layerBytes)} | 1.00x |`);
    console.log(`| berth container move | ${r.ms.toFixed(0)} | ${reported} | ${(r.ms / raw).toFixed(2)}x |`);
    console.log(`\nThe container stays on ${to}: remove it there (berth -H ${to} rm -f ${NAME}).`);
  } finally {
    await a.tearDown();
  }
}

async function main(): Promise<void> {
  const debug = process.argv.includes('--debug');
  let interrupted = false;
  // a ^C ends the runs; the clean-up in the finally blocks still runs
  process.on('SIGINT', () => (interrupted = true));
  process.on('SIGTERM', () => (interrupted = true));
  if (to) await toOwnTarget(debug);
  else await overTheLink(debug, () => interrupted);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
