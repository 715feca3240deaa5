import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { BERTH, TestDaemon } from '../helpers/daemon';

// `docker exec -it c echo hi` from a terminal: the CLI forwards a keystroke the moment the
// stream opens, often after the short process has exited and conmon stopped taking stdin.
// That failed write must not cost the process's output.
let d: TestDaemon;
before(async () => {
  d = await TestDaemon.start();
  const r = await d.docker(['run', '-d', '--name', 'web', 'busybox', 'sleep', '300']);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => {
  await d?.cleanup();
});

/** Starts an exec with the API's upgrade, types `key` as soon as the stream opens, returns all output. */
function startTyping(execId: string, key: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(d.socket);
    const body = JSON.stringify({ Detach: false, Tty: true });
    s.write(`POST /exec/${execId}/start HTTP/1.1\r\nHost: berth\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    let got = Buffer.alloc(0);
    let typed = false;
    s.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (!typed && got.includes('\r\n\r\n')) {
        typed = true;
        s.write(key);
      }
    });
    s.on('error', reject);
    s.on('end', () => {
      s.end();
      const text = got.toString('latin1');
      resolve(text.slice(text.indexOf('\r\n\r\n') + 4));
    });
  });
}

// (node-unix-socket closes a connection whose write fails, and the output waiting in it was
// lost: stdin now has a connection of its own)
test('exec -it of a short command keeps its output when a key arrives as it exits', { timeout: 180_000 }, async () => {
  for (let i = 0; i < 40; i++) {
    const created = await d.api('POST', '/containers/web/exec', { AttachStdin: true, AttachStdout: true, AttachStderr: true, Tty: true, Cmd: ['echo', 'hi'] });
    assert.equal(created.status, 201, created.body);
    const out = await startTyping(created.json().Id, 'x');
    // the terminal echoes the key if it came while the process still had it open
    assert.ok(['hi\r\n', 'xhi\r\n', 'hi\r\nx'].includes(out), `run ${i}: ${JSON.stringify(out)}`);
  }
});

/** Runs `command` in a pseudo-terminal (script), its stdin held open so that no EOF is typed. */
function inTerminal(command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qc', command, '/dev/null'], { env: { ...process.env, DOCKER_HOST: d.host }, stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('latin1')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      child.stdin.destroy();
      resolve(out);
    });
  });
}

test('berth exec -it of a short command prints exactly its output in a terminal', { timeout: 180_000 }, async () => {
  for (let i = 0; i < 10; i++) {
    // the local terminal must not turn the container terminal's \r\n into \r\r\n
    assert.equal(await inTerminal(`${BERTH} -H ${d.host} exec -it web echo hi`), 'hi\r\n', `run ${i}`);
  }
});
