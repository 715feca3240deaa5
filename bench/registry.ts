/**
 * Registry benchmark: push and pull of an image of two 100 MB layers (or, with --content base,
 * one layer shaped like a Debian base) over loopback, and several pulls at once, through the docker CLI (or `berth`) against any Docker-API daemon.
 * The image is built FROM scratch, so no base image is needed, and anew for every run
 * (--no-cache, and a file unique to the run in each layer), so every push uploads its
 * layers for real.
 *
 *   node dist/bench/registry.js --host unix:///run/berth/berth.sock \
 *       [--serve berth|distribution | --registry 127.0.0.1:5000] [--cli berth] [--runs 3] [--concurrent 4]
 *       [--content mixed|random|base] [--pull-hosts unix:///a.sock,unix:///b.sock [--pulls 5]]
 *
 * --content mixed (the default) is what images hold: one layer of real files (text and
 * binaries copied from /usr/share and /usr/lib, which compress the way real layers do) and
 * one of random bytes (which do not compress: gzip stores them). --content random is two
 * random layers, the figure the README quoted first. The bench prints the bytes each push
 * sent (the layer and config sizes the registry's manifest records), beside the bytes of
 * the files, so a fast push of well-compressed layers is told apart from a fast compressor.
 *
 * --content base is one layer the shape of a Debian bookworm base as mmdebstrap makes it
 * (about 180 MB in 9.5k files, most of them small): BASE_FILES real files sampled evenly from
 * a sorted walk of REAL_FILE_SOURCES, so the pull's cost per file shows, not only per byte.
 *
 * With --serve the benchmark starts that registry on a free loopback port and stops it after:
 * berth's own berth-registry, or the CNCF Distribution registry (Debian's docker-registry).
 * Run it in the network namespace of the daemon, so both see the same loopback.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, openSync, writeSync, closeSync, mkdirSync, copyFileSync, readdirSync, lstatSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { arg, cliPath, median, succeeded, timeCli } from './lib';

const host = arg('--host', process.env.DOCKER_HOST ?? 'unix:///run/berth/berth.sock');
const cliName = arg('--cli', 'docker');
const cli = cliPath(cliName);
const runs = Number(arg('--runs', '3'));
const concurrent = Number(arg('--concurrent', '4'));
const serve = arg('--serve', '');
let registry = arg('--registry', '');
const content = arg('--content', 'mixed');
/**
 * --pull-hosts A,B: the image is built and pushed once through --host, then each of these
 * daemons removes and pulls that same image in turn, --pulls times: the same blob from the
 * same registry, so two daemons' pulls compare like for like. They must all reach the
 * registry at one address (one network namespace).
 */
const pullHosts = arg('--pull-hosts', '').split(',').filter(Boolean);
const pullRounds = Number(arg('--pulls', '5'));
const LAYER_BYTES = 100 * 1000 * 1000;
/** Where the layer of real files is copied from, in this order, until it holds LAYER_BYTES. */
const REAL_FILE_SOURCES = ['/usr/share', '/usr/lib'];
/** --content base: at most this many files and bytes, no file bigger than BASE_MAX_FILE. */
const BASE_FILES = 9500;
const BASE_BYTES = 180 * 1000 * 1000;
const BASE_MAX_FILE = 8 * 1024 * 1024;

async function sh(args: string[], quiet = true, on = host): Promise<number> {
  const r = await timeCli(cli, args, { host: on, env: { DOCKER_BUILDKIT: '0' }, stdout: quiet ? 'ignore' : 'inherit' });
  return succeeded(r, `${cliName} ${args.join(' ')}`).ms;
}

/** `rmi` that may find nothing to remove. */
async function removeImage(image: string, on: string): Promise<void> {
  await timeCli(cli, ['rmi', image], { host: on, env: {}, stdout: 'ignore', stderr: 'pipe' });
}

/** --pull-hosts: one image, pulled by each daemon in turn; medians per daemon and against the first. */
async function comparePulls(image: string, bytes: number, files: string): Promise<void> {
  const times = pullHosts.map(() => [] as number[]);
  for (const h of pullHosts) await removeImage(image, h);
  for (let r = 0; r < pullRounds; r++) {
    for (let i = 0; i < pullHosts.length; i++) {
      times[i].push(await sh(['pull', image], true, pullHosts[i]));
      await removeImage(image, pullHosts[i]);
    }
  }
  console.log(`image: ${files}; ${(bytes / 1e6).toFixed(1)} MB pulled (pushed through ${host}); client: ${cli}; rmi then pull, daemons in turn, median of ${pullRounds}`);
  const first = median(times[0]);
  pullHosts.forEach((h, i) => {
    const m = median(times[i]);
    const ratio = i === 0 ? '' : `  ${(m / first).toFixed(2)}x of the first`;
    console.log(`pull  ${h.padEnd(36)} ${(m / 1000).toFixed(2)} s${ratio}  (${times[i].map((t) => (t / 1000).toFixed(2)).join(', ')})`);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

async function startRegistry(kind: string, dir: string): Promise<ChildProcess> {
  const port = await freePort();
  registry = `127.0.0.1:${port}`;
  let child: ChildProcess;
  if (kind === 'berth') {
    child = spawn(process.execPath, [path.join(__dirname, '..', '..', 'bin', 'berth-registry'), 'serve', '--addr', registry, '--root', path.join(dir, 'registry')], { stdio: 'ignore' });
  } else if (kind === 'distribution') {
    const cfg = path.join(dir, 'config.yml');
    writeFileSync(cfg, `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(dir, 'registry')}\n  delete:\n    enabled: true\nhttp:\n  addr: ${registry}\n`);
    child = spawn('docker-registry', ['serve', cfg], { stdio: 'ignore' });
  } else {
    throw new Error(`--serve takes berth or distribution, not ${kind}`);
  }
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`http://${registry}/v2/`).then((r) => r.status === 200, () => false);
    if (ok) return child;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`${kind} registry did not start on ${registry}`);
}

interface RealFile {
  from: string;
  /** its folder, relative to the layer's root */
  rel: string;
  size: number;
}

/**
 * The non-empty regular files under REAL_FILE_SOURCES, in a sorted walk (the same host gives
 * the same files on every run), until `visit` says stop.
 */
function walkRealFiles(visit: (f: RealFile) => 'next' | 'stop'): void {
  let stopped = false;
  const walk = (src: string, rel: string): void => {
    let names: string[];
    try {
      names = readdirSync(src).sort();
    } catch {
      return; // unreadable: skipped
    }
    for (const name of names) {
      if (stopped) return;
      const from = path.join(src, name);
      const st = lstatSync(from);
      if (st.isDirectory()) walk(from, path.join(rel, name));
      else if (st.isFile() && st.size > 0) stopped = visit({ from, rel, size: st.size }) === 'stop';
    }
  };
  for (const src of REAL_FILE_SOURCES) if (!stopped) walk(src, src.slice(1));
}

function copyInto(dir: string, f: RealFile): void {
  mkdirSync(path.join(dir, f.rel), { recursive: true });
  copyFileSync(f.from, path.join(dir, f.rel, path.basename(f.from)));
}

/** Copies files of REAL_FILE_SOURCES into `dir` (same relative paths) until LAYER_BYTES are there. */
function copyRealFiles(dir: string): number {
  let total = 0;
  walkRealFiles((f) => {
    if (total >= LAYER_BYTES) return 'stop';
    if (total + f.size <= LAYER_BYTES) {
      copyInto(dir, f);
      total += f.size;
    }
    return 'next';
  });
  if (total < LAYER_BYTES / 2) throw new Error(`only ${total} bytes of files found under ${REAL_FILE_SOURCES.join(', ')}`);
  return total;
}

/**
 * Copies a Debian-base-shaped tree into `dir`: every k-th file of the walk (k chosen to give
 * BASE_FILES files, none over BASE_MAX_FILE), until BASE_BYTES are there.
 */
function copyBaseFiles(dir: string): { bytes: number; files: number } {
  const candidates: RealFile[] = [];
  walkRealFiles((f) => {
    if (f.size <= BASE_MAX_FILE) candidates.push(f);
    return 'next';
  });
  const step = Math.max(1, Math.floor(candidates.length / BASE_FILES));
  let bytes = 0;
  let files = 0;
  for (let i = 0; i < candidates.length && files < BASE_FILES; i += step) {
    const c = candidates[i];
    if (bytes + c.size > BASE_BYTES) break;
    copyInto(dir, c);
    bytes += c.size;
    files++;
  }
  if (files < BASE_FILES / 2) throw new Error(`only ${files} files found under ${REAL_FILE_SOURCES.join(', ')}`);
  return { bytes, files };
}

/** The bytes a push sent for an image: its config and layer blobs, as the registry's manifest lists them. */
async function pushedBytes(image: string): Promise<number> {
  const [, repo, tag] = /^[^/]+\/(.+):([^:]+)$/.exec(image) ?? [];
  const res = await fetch(`http://${registry}/v2/${repo}/manifests/${tag}`, {
    headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' },
  });
  if (res.status !== 200) throw new Error(`manifest of ${image}: ${res.status}`);
  const m = (await res.json()) as { config: { size: number }; layers: { size: number }[] };
  return m.config.size + m.layers.reduce((sum, l) => sum + l.size, 0);
}

function randomFile(file: string): void {
  const fd = openSync(file, 'w');
  const chunk = 4 * 1024 * 1024;
  for (let done = 0; done < LAYER_BYTES; done += chunk) writeSync(fd, randomBytes(Math.min(chunk, LAYER_BYTES - done)));
  closeSync(fd);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-registry-'));
  let reg: ChildProcess | undefined;
  try {
    if (serve) reg = await startRegistry(serve, dir);
    if (!registry) throw new Error('give --registry HOST:PORT or --serve berth|distribution');
    const ctx = path.join(dir, 'ctx');
    if (!['mixed', 'random', 'base'].includes(content)) throw new Error(`--content takes mixed, random or base, not ${content}`);
    // the real files are copied once, into the context; each run adds a file of its own so the layer is new
    const realFiles = path.join(ctx, 'a');
    const base = content === 'base' ? copyBaseFiles(realFiles) : undefined;
    const realBytes = content === 'mixed' ? copyRealFiles(realFiles) : (base?.bytes ?? 0);
    let fileBytes = 0;
    const sent: number[] = [];
    const pushes: number[] = [];
    const pulls: number[] = [];
    const parallel: number[] = [];
    for (let r = 0; r < runs; r++) {
      const stamp = `${Date.now()}-${r}\n`;
      if (content !== 'random') {
        writeFileSync(path.join(realFiles, 'run-stamp'), stamp);
      } else {
        rmSync(realFiles, { recursive: true, force: true });
        mkdirSync(realFiles, { recursive: true });
        randomFile(path.join(realFiles, 'random'));
      }
      if (base) {
        fileBytes = realBytes + stamp.length;
        writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY a /\n');
      } else {
        rmSync(path.join(ctx, 'b'), { recursive: true, force: true });
        mkdirSync(path.join(ctx, 'b'));
        randomFile(path.join(ctx, 'b', 'random'));
        writeFileSync(path.join(ctx, 'b', 'run-stamp'), stamp);
        fileBytes = (content === 'mixed' ? realBytes : LAYER_BYTES) + LAYER_BYTES + 2 * stamp.length;
        writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY a /a\nCOPY b /b\n');
      }
      const image = `${registry}/berth-bench/big:${Date.now()}-${r}`;
      await sh(['build', '-q', '--no-cache', '-t', image, ctx]);
      pushes.push(await sh(['push', image]));
      sent.push(await pushedBytes(image));
      if (pullHosts.length) {
        await removeImage(image, host);
        const files = base ? `one layer of ${base.files + 1} real files (Debian-base-like)` : content;
        await comparePulls(image, sent[0], files);
        return;
      }
      await sh(['rmi', image]);
      pulls.push(await sh(['pull', image]));
      await sh(['rmi', image]);
      if (concurrent === 0) continue; // --concurrent 0: the single pull only
      const t0 = process.hrtime.bigint();
      await Promise.all(Array.from({ length: concurrent }, () => sh(['pull', image])));
      parallel.push(Number(process.hrtime.bigint() - t0) / 1e6);
      await sh(['rmi', image]);
    }
    const what = base ? `one layer of ${base.files + 1} real files (Debian-base-like)` : content === 'mixed' ? '100 MB of files + 100 MB random' : '2 x 100 MB random';
    console.log(`daemon: ${host}  client: ${cli}  registry: ${serve || 'given'} at ${registry}  (median of ${runs})`);
    console.log(`layers: ${what}; ${(fileBytes / 1e6).toFixed(1)} MB of files, ${(median(sent) / 1e6).toFixed(1)} MB pushed per push`);
    console.log(`push                                ${(median(pushes) / 1000).toFixed(2)} s`);
    console.log(`pull, same image                    ${(median(pulls) / 1000).toFixed(2)} s  (${pulls.map((p) => (p / 1000).toFixed(2)).join(", ")})`);
    if (concurrent > 0) console.log(`${concurrent} pulls of it at once              ${(median(parallel) / 1000).toFixed(2)} s`);
  } finally {
    if (reg?.pid) process.kill(reg.pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
