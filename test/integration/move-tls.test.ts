import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestDaemon, BERTH, runCommand, type CommandResult } from '../helpers/daemon';

// A move to a target reached over TCP with mutual TLS, named by a context (the issue's
// `--to node2`): the target berthd listens on tcp://0.0.0.0:2376 --tlsverify in its own
// namespace, and the CLI runs in that namespace (the source is its unix socket).
let src: TestDaemon;
let dst: TestDaemon;
let tmp: string;
let certs: string;

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'berth-move-tls-'));
  certs = path.join(tmp, 'certs');
  const r = await runCommand(BERTH, ['system', 'certs', '--dir', certs, '--host', 'node2.test']);
  assert.equal(r.code, 0, r.stderr);
  [src, dst] = await Promise.all([
    TestDaemon.start(),
    TestDaemon.start(['-H', 'tcp://0.0.0.0:2376', '--tlsverify', '--tlscacert', `${certs}/ca.pem`, '--tlscert', `${certs}/server-cert.pem`, '--tlskey', `${certs}/server-key.pem`]),
  ]);
});
after(async () => {
  await Promise.all([src?.cleanup(), dst?.cleanup()]);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** The berth CLI inside the target's namespace, with a docker config folder of the test's own. */
function berthInDst(args: string[]): Promise<CommandResult> {
  return runCommand('nsenter', [`--net=/run/netns/${dst.netns}`, BERTH, ...args], { env: { ...process.env, DOCKER_CONFIG: path.join(tmp, 'docker-config') }, timeoutMs: 120_000 });
}

test('a container moves to a context over mutual TLS; a context without the client certificate is refused before anything stops', async () => {
  const run = await src.berth(['run', '-d', '--name', 'tlsweb', '--init', '-p', '18090:80', 'busybox', 'sh', '-c', 'echo tls-moved > /index.html && exec httpd -f -p 80 -h /']);
  assert.equal(run.code, 0, run.stderr);
  const made = await berthInDst(['context', 'create', 'node2', '--docker', `host=tcp://127.0.0.1:2376,ca=${certs}/ca.pem,cert=${certs}/cert.pem,key=${certs}/key.pem`]);
  assert.equal(made.code, 0, made.stderr);
  const bare = await berthInDst(['context', 'create', 'node2-nocert', '--docker', `host=tcp://127.0.0.1:2376,ca=${certs}/ca.pem`]);
  assert.equal(bare.code, 0, bare.stderr);

  const refused = await berthInDst(['-H', src.host, 'container', 'move', 'tlsweb', '--to', 'node2-nocert']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /the target node2-nocert does not answer/);
  assert.equal((await src.berth(['inspect', '-f', '{{.State.Running}}', 'tlsweb'])).stdout.trim(), 'true');

  const moved = await berthInDst(['-H', src.host, 'container', 'move', 'tlsweb', '--to', 'node2']);
  assert.equal(moved.code, 0, moved.stderr + moved.stdout);
  assert.match(moved.stdout, /tlsweb now runs on node2 as [0-9a-f]{12}/);
  const page = await runCommand('nsenter', [`--net=/run/netns/${dst.netns}`, 'curl', '-s', 'http://127.0.0.1:18090/index.html']);
  assert.equal(page.stdout, 'tls-moved\n');
  assert.equal((await src.berth(['inspect', 'tlsweb'])).code, 1);
});
