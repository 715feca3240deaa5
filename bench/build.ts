/**
 * Build benchmark: a context of 2,000 small files and a 10-step Dockerfile, built through the
 * docker CLI's legacy builder protocol (or `berth build`) against any Docker-API daemon:
 * a cold build (--no-cache), a cached rebuild, and a rebuild after one file changed.
 *
 *   node dist/bench/build.js --host unix:///run/berth/berth.sock [--cli berth] [--runs 3]
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { arg, cliPath, median, succeeded, timeCli } from './lib';

const DOCKERFILE = `FROM busybox
ENV APP=/app
WORKDIR /app
COPY files/ ./files/
RUN ls files | wc -l > count.txt
RUN echo built > /built.txt
LABEL bench=build
EXPOSE 8080
USER nobody
CMD ["cat", "/app/count.txt"]
`;

const host = arg('--host', process.env.DOCKER_HOST ?? 'unix:///run/berth/berth.sock');
const cliName = arg('--cli', 'docker');
const cli = cliPath(cliName);
const runs = Number(arg('--runs', '3'));

async function build(dir: string, extra: string[]): Promise<number> {
  const r = await timeCli(cli, ['build', '-q', '-t', 'berth-bench-build:latest', ...extra, dir], {
    host,
    env: { DOCKER_BUILDKIT: process.env.DOCKER_BUILDKIT ?? '0' },
    stdout: 'ignore',
  });
  return succeeded(r, 'build').ms;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-build-'));
  try {
    mkdirSync(path.join(dir, 'files'));
    for (let i = 0; i < 2000; i++) writeFileSync(path.join(dir, 'files', `f${i}.txt`), `file ${i}\n`);
    writeFileSync(path.join(dir, 'Dockerfile'), DOCKERFILE);
    const cold: number[] = [];
    const cached: number[] = [];
    const changed: number[] = [];
    for (let r = 0; r < runs; r++) {
      cold.push(await build(dir, ['--no-cache']));
      cached.push(await build(dir, []));
      writeFileSync(path.join(dir, 'files', 'f7.txt'), `changed ${r} ${Date.now()}\n`);
      changed.push(await build(dir, []));
    }
    console.log(`daemon: ${host}  client: ${cli}  (median of ${runs})`);
    console.log(`cold build (--no-cache)        ${(median(cold) / 1000).toFixed(2)} s`);
    console.log(`cached rebuild                 ${(median(cached) / 1000).toFixed(2)} s`);
    console.log(`rebuild after one file change  ${(median(changed) / 1000).toFixed(2)} s`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
