import { spawn } from 'node:child_process';
import { BerthError } from '../common/errors';
import { inRuncWords } from './runtime-errors';

export interface ConmonCreateOptions {
  id: string;
  name: string;
  bundle: string;
  /** the container's pid is written here by the runtime */
  pidFile: string;
  /** conmon's own pid, so a restarted daemon can find it */
  conmonPidFile: string;
  logPath: string;
  /** keep no log at all (the `none` log driver) */
  noLog?: boolean;
  exitDir: string;
  socketDir: string;
  runtimePath: string;
  /** the environment the runtime needs (conmon passes its own on); process.env if none */
  runtimeEnv?: NodeJS.ProcessEnv;
  runtimeRoot: string;
  terminal: boolean;
  stdin: boolean;
  /** keep stdin open after the first attach detaches */
  leaveStdinOpen?: boolean;
  logSizeMax?: number;
  /** the container's first argument, for the runtime's error messages (runtime-errors.ts) */
  argv0?: string;
}

const CONMON = process.env.BERTH_CONMON ?? 'conmon';

/**
 * Starts conmon, which runs `runtime create` and stays with the container: it holds the
 * container's stdio, writes the log file, and records the exit code in `exitDir/<id>` after
 * the container has ended, whether berthd is running then or not.
 *
 * conmon reports through the sync pipe (fd 3, named by _OCI_SYNCPIPE) one JSON line:
 * `{"data": <pid>}` once the container is created, or `{"data": -1, "message": "..."}`
 * when the runtime failed. Resolves with the container's pid.
 */
export function conmonCreate(o: ConmonCreateOptions): Promise<number> {
  const args = [
    '--api-version', '1',
    '-c', o.id,
    '-u', o.id,
    '-n', o.name,
    '-r', o.runtimePath,
    '-b', o.bundle,
    '-p', o.pidFile,
    '--conmon-pidfile', o.conmonPidFile,
    '-l', o.noLog ? 'none' : `k8s-file:${o.logPath}`,
    '--exit-dir', o.exitDir,
    '--socket-dir-path', o.socketDir,
    '--runtime-arg', `--root=${o.runtimeRoot}`,
    '--log-level', 'error',
    '--syslog=false',
  ];
  if (o.logSizeMax) args.push('--log-size-max', String(o.logSizeMax));
  if (o.terminal) args.push('-t');
  if (o.stdin) args.push('-i');
  if (o.leaveStdinOpen) args.push('--leave-stdin-open');
  return new Promise((resolve, reject) => {
    const child = spawn(CONMON, args, {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
      env: { ...(o.runtimeEnv ?? process.env), _OCI_SYNCPIPE: '3' },
      // conmon writes files by relative paths (an `oom` file when the container is killed for
      // memory): they belong in the bundle, not wherever berthd was started
      cwd: o.bundle,
      detached: true,
    });
    let stderr = '';
    let sync = '';
    let settled = false;
    const settle = (err: Error | undefined, pid?: number) => {
      if (settled) return;
      settled = true;
      // conmon's daemonized child keeps the pipe's write end; ours must not keep the daemon busy.
      (child.stdio[3] as NodeJS.ReadableStream & { destroy(): void }).destroy();
      child.stderr?.destroy();
      child.unref();
      if (err) reject(err);
      else resolve(pid!);
    };
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const syncPipe = child.stdio[3] as NodeJS.ReadableStream;
    syncPipe.on('data', (d: Buffer) => {
      sync += d.toString();
      const nl = sync.indexOf('\n');
      if (nl < 0) return;
      try {
        const msg = JSON.parse(sync.slice(0, nl)) as { data: number; message?: string };
        if (msg.data > 0) settle(undefined, msg.data);
        else settle(runtimeError(msg.message ?? stderr, o.argv0));
      } catch {
        settle(new BerthError('SYSTEM', `conmon sent an unreadable message: ${sync.slice(0, nl)}`));
      }
    });
    syncPipe.on('end', () => settle(runtimeError(stderr || 'conmon exited before the container was created', o.argv0)));
    child.on('error', (e) => settle(new BerthError('SYSTEM', `cannot run conmon: ${e.message}`)));
  });
}

/**
 * The runtime's message in Docker's words. The docker CLI maps "executable file not found"
 * and "no such file or directory" to exit code 127, "permission denied" to 126.
 */
function runtimeError(raw: string, argv0: string | undefined): BerthError {
  // runc logs in logfmt: level=error msg="runc create failed: ... exec: \"x\": ..."
  const msg = raw.trim().replace(/^.*?level=error msg="(.*)"$/s, '$1').replace(/\\"/g, '"');
  const lines = msg.split('\n').map((l) => l.trim()).filter(Boolean);
  const text = inRuncWords(lines.join(': '), argv0) || 'unknown error';
  return new BerthError('INVALID_PARAMETER', `failed to create task for container: OCI runtime create failed: ${text}: unknown`);
}
