/**
 * What a remote transport costs a command: the same short commands through the daemon's unix
 * socket and through mutual TLS on TCP (certificates from `berth system certs`), with the berth
 * CLI and the docker CLI, against a berthd of the bench's own (in a namespace of its own; the
 * clients run inside it). Medians of --runs runs after a warm-up, printed as a table.
 *
 *   node dist/bench/remote.js [--runs 15]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { arg, cliPath, median, succeeded, timeCli } from './lib';
import { OwnDaemon } from './own-daemon';

const runs = Number(arg('--runs', '15'));
const TLS_HOST = 'tcp://127.0.0.1:2376';

async function main(): Promise<void> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-remote-'));
  const certs = path.join(tmp, 'certs');
  execFileSync(cliPath('berth'), ['system', 'certs', '--dir', certs], { stdio: 'ignore' });
  const d = new OwnDaemon({ extraArgs: ['-H', TLS_HOST, '--tlsverify', '--tlscacert', `${certs}/ca.pem`, '--tlscert', `${certs}/server-cert.pem`, '--tlskey', `${certs}/server-key.pem`] });
  try {
    d.setUp();
    await d.start();
    console.log(`daemon: berthd of the bench's own (${d.host} and ${TLS_HOST} --tlsverify, namespace ${d.netns}); clients: berth CLI, docker CLI`);
    const nsenter = ['--net=/run/netns/' + d.netns];
    const transports: Array<{ name: string; host: string; env: NodeJS.ProcessEnv }> = [
      { name: 'unix socket', host: d.host, env: {} },
      { name: 'TCP + mutual TLS', host: TLS_HOST, env: { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs } },
    ];
    const rows: string[][] = [];
    for (const cliName of ['berth', 'docker']) {
      for (const command of [['version', '--format', '{{.Server.Os}}'], ['ps', '-q']]) {
        const row = [`${cliName} ${command[0]}`];
        for (const t of transports) {
          const once = async () => succeeded(await timeCli('nsenter', [...nsenter, cliPath(cliName), ...command], { host: t.host, env: { ...t.env, DOCKER_CONFIG: path.join(tmp, 'dc') }, stdout: 'ignore' }), `${cliName} ${command[0]} over ${t.name}`).ms;
          await once();
          const times: number[] = [];
          for (let i = 0; i < runs; i++) times.push(await once());
          row.push(`${median(times).toFixed(1)} ms`);
        }
        rows.push(row);
      }
    }
    const header = ['command (median of ' + runs + ')', ...transports.map((t) => t.name)];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |';
    console.log(line(header));
    console.log('| ' + widths.map((w) => '-'.repeat(w)).join(' | ') + ' |');
    for (const r of rows) console.log(line(r));
  } finally {
    await d.tearDown();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
