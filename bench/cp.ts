/**
 * cp benchmark: a 500 MB directory (50 files of 10 MB of random bytes) copied into a running
 * container and back out, through the docker CLI (or `berth`) against any Docker-API daemon.
 *
 *   node dist/bench/cp.js --host unix:///run/berth/berth.sock [--cli berth] [--runs 3]
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { arg, cliPath, median, succeeded, timeCli } from './lib';

const host = arg('--host', process.env.DOCKER_HOST ?? 'unix:///run/berth/berth.sock');
const cliName = arg('--cli', 'docker');
const cli = cliPath(cliName);
const runs = Number(arg('--runs', '3'));

async function sh(args: string[]): Promise<number> {
  const r = await timeCli(cli, args, { host, stdout: 'ignore' });
  succeeded(r, `${cliName} ${args.join(' ')}`);
  return r.ms;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-cp-'));
  const name = `berth-bench-cp-${process.pid}`;
  try {
    const src = path.join(dir, 'payload');
    mkdirSync(src);
    for (let i = 0; i < 50; i++) writeFileSync(path.join(src, `f${i}`), randomBytes(10 * 1000 * 1000));
    await sh(['run', '-d', '--name', name, 'busybox', 'sleep', '3600']);
    const into: number[] = [];
    const out: number[] = [];
    for (let r = 0; r < runs; r++) {
      into.push(await sh(['cp', src, `${name}:/tmp/payload${r}`]));
      const dest = path.join(dir, `back${r}`);
      out.push(await sh(['cp', `${name}:/tmp/payload${r}`, dest]));
      rmSync(dest, { recursive: true, force: true });
    }
    console.log(`daemon: ${host}  client: ${cli}  (median of ${runs})`);
    console.log(`cp of 500 MB into a running container   ${(median(into) / 1000).toFixed(2)} s`);
    console.log(`cp of 500 MB out of it                   ${(median(out) / 1000).toFixed(2)} s`);
  } finally {
    await timeCli(cli, ['rm', '-f', name], { host, stdout: 'ignore' }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
