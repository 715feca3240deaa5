/**
 * Registry benchmark: push and pull of an image with two 100 MB layers of random data over
 * loopback, and several pulls at once, through the docker CLI (or `berth`) against any
 * Docker-API daemon. The image is built FROM scratch, so no base image is needed, and anew
 * for every run (--no-cache), so every push uploads its layers for real.
 *
 *   node dist/bench/registry.js --host unix:///run/berth/berth.sock \
 *       [--serve berth|distribution | --registry 127.0.0.1:5000] [--cli berth] [--runs 3] [--concurrent 4]
 *
 * With --serve the benchmark starts that registry on a free loopback port and stops it after:
 * berth's own berth-registry, or the CNCF Distribution registry (Debian's docker-registry).
 * Run it in the network namespace of the daemon, so both see the same loopback.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
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
const LAYER_BYTES = 100 * 1000 * 1000;

async function sh(args: string[], quiet = true): Promise<number> {
  const r = await timeCli(cli, args, { host, env: { DOCKER_BUILDKIT: '0' }, stdout: quiet ? 'ignore' : 'inherit' });
  return succeeded(r, `${cliName} ${args.join(' ')}`).ms;
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
    const pushes: number[] = [];
    const pulls: number[] = [];
    const parallel: number[] = [];
    for (let r = 0; r < runs; r++) {
      rmSync(ctx, { recursive: true, force: true });
      require('node:fs').mkdirSync(ctx);
      randomFile(path.join(ctx, 'a'));
      randomFile(path.join(ctx, 'b'));
      writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY a /a\nCOPY b /b\n');
      const image = `${registry}/berth-bench/big:${Date.now()}-${r}`;
      await sh(['build', '-q', '--no-cache', '-t', image, ctx]);
      pushes.push(await sh(['push', image]));
      await sh(['rmi', image]);
      pulls.push(await sh(['pull', image]));
      await sh(['rmi', image]);
      const t0 = process.hrtime.bigint();
      await Promise.all(Array.from({ length: concurrent }, () => sh(['pull', image])));
      parallel.push(Number(process.hrtime.bigint() - t0) / 1e6);
      await sh(['rmi', image]);
    }
    console.log(`daemon: ${host}  client: ${cli}  registry: ${serve || 'given'} at ${registry}  (median of ${runs})`);
    console.log(`push, 2 x 100 MB random layers      ${(median(pushes) / 1000).toFixed(2)} s`);
    console.log(`pull, same image                    ${(median(pulls) / 1000).toFixed(2)} s`);
    console.log(`${concurrent} pulls of it at once              ${(median(parallel) / 1000).toFixed(2)} s`);
  } finally {
    if (reg?.pid) process.kill(reg.pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
