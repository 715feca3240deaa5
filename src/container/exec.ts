import { promises as fsp } from 'node:fs';
import { removeTree } from '../common/fsutil';
import * as path from 'node:path';
import { conflict, invalid, notFound } from '../common/errors';
import { newId } from '../common/ids';
import type { ExecStdio } from '../runtime/conmon-exec';
import { conmonExec } from '../runtime/conmon-exec';
import { directExec, directExecEnabled } from '../runtime/direct-exec';
import { isCrun } from '../runtime/runtimes';
import { span, timed } from '../common/timing';
import { resizeConsole } from '../runtime/console';
import type { ContainerManager } from './manager';
import type { ContainerRecord } from './model';
import { containerCapabilities } from './security-defaults';
import { processUser, resolveUser } from './user';

/** The body of POST /containers/{id}/exec. */
export interface ExecCreateBody {
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  DetachKeys?: string;
  Tty?: boolean;
  ConsoleSize?: [number, number] | null;
  Env?: string[] | null;
  Cmd?: string[];
  Privileged?: boolean;
  User?: string;
  WorkingDir?: string;
}

interface ExecInstance {
  id: string;
  containerId: string;
  config: ExecCreateBody;
  running: boolean;
  started: boolean;
  exitCode: number | null;
  pid: number;
  bundle: string;
}

/**
 * Exec instances: a process started inside a running container, with the API's
 * lifecycle (create, start, inspect, resize). Each runs under a conmon of its own, which
 * holds its terminal and reports its exit code.
 */
export class ExecManager {
  private readonly execs = new Map<string, ExecInstance>();

  constructor(
    private readonly containers: ContainerManager,
    private readonly execRoot: string,
  ) {}

  create(containerIdOrName: string, body: ExecCreateBody): string {
    const rec = this.containers.get(containerIdOrName);
    if (!body.Cmd || body.Cmd.length === 0) throw invalid('No exec command specified');
    this.requireRunning(rec, containerIdOrName);
    // a start usually follows at once (docker exec)
    this.containers.warmCgroups();
    const id = newId();
    this.execs.set(id, { id, containerId: rec.ID, config: body, running: false, started: false, exitCode: null, pid: 0, bundle: path.join(this.execRoot, 'exec', id) });
    this.containers.publishEvent(rec, `exec_create: ${body.Cmd.join(' ')}`, { execID: id });
    return id;
  }

  /** `asked` is how the client named the container: Docker's paused message repeats it. */
  private requireRunning(rec: ContainerRecord, asked: string = rec.ID): void {
    if (!rec.State.Running) throw conflict(`container ${rec.ID} is not running`);
    if (rec.State.Paused) throw conflict(`Container ${asked} is paused, unpause the container before exec`);
    if (rec.State.Restarting) throw conflict(`Container ${rec.ID} is restarting, wait until the container is running`);
  }

  get(id: string): ExecInstance {
    const e = this.execs.get(id);
    if (!e) throw notFound(`No such exec instance: ${id}`);
    return e;
  }

  inspect(id: string): Record<string, unknown> {
    const e = this.get(id);
    const c = e.config;
    return {
      ID: e.id,
      Running: e.running,
      ExitCode: e.exitCode,
      ProcessConfig: { tty: c.Tty === true, entrypoint: c.Cmd?.[0] ?? '', arguments: c.Cmd?.slice(1) ?? [], privileged: c.Privileged === true, user: c.User ?? '' },
      OpenStdin: c.AttachStdin === true,
      OpenStderr: c.AttachStderr === true,
      OpenStdout: c.AttachStdout === true,
      CanRemove: false,
      ContainerID: e.containerId,
      DetachKeys: c.DetachKeys ?? '',
      Pid: e.pid,
    };
  }

  /** Starts the process; resolves once it runs, with its stdio unless detached. */
  async start(id: string, opts: { detach: boolean; consoleSize?: [number, number] | null }): Promise<{ socket?: ExecStdio; exited: Promise<number> }> {
    const e = this.get(id);
    if (e.started) throw conflict(`Exec command ${id} has already run`);
    const rec = this.containers.get(e.containerId);
    this.requireRunning(rec);
    this.containers.warmCgroups();
    e.started = true;
    // as dockerd: the exec's create decides the terminal, whatever its start says
    const tty = e.config.Tty === true;
    await fsp.mkdir(path.join(e.bundle, 'exits'), { recursive: true });
    const processPath = path.join(e.bundle, 'process.json');
    try {
      const processSpec = await timed('exec spec', e.id, async () => {
        const p = await this.processSpec(rec, e.config, tty, opts.consoleSize ?? e.config.ConsoleSize);
        await fsp.writeFile(processPath, JSON.stringify(p));
        return p;
      });
      const runtime = this.containers.runtimeOf(rec);
      const common = {
        containerId: rec.ID,
        execId: e.id,
        bundle: e.bundle,
        processSpecPath: processPath,
        runtimePath: runtime.command,
        runtimeEnv: runtime.env,
        runtimeRoot: runtime.stateRoot,
        argv0: (processSpec.args as string[] | undefined)?.[0],
        stdin: e.config.AttachStdin === true && !opts.detach,
      };
      // crun runs an attached exec without a terminal by itself (direct-exec.ts); a terminal
      // or a detached exec needs conmon to hold it
      const handle =
        !tty && !opts.detach && isCrun(runtime.binary) && directExecEnabled
          ? await directExec(common)
          : await conmonExec({ ...common, name: rec.Name.slice(1), socketDir: this.containers.socketDirectory, terminal: tty, attach: !opts.detach });
      e.running = true;
      e.pid = handle.pid;
      this.containers.publishEvent(rec, `exec_start: ${(e.config.Cmd ?? []).join(' ')}`, { execID: e.id });
      const ran = span('exec process ran', e.id);
      const exited = handle.exited.then(async (code) => {
        ran();
        e.running = false;
        e.exitCode = code;
        this.containers.publishEvent(rec, 'exec_die', { execID: e.id, exitCode: String(code) });
        await removeTree(e.bundle).catch(() => undefined);
        await fsp.rm(path.join(this.containers.socketDirectory, e.id), { force: true }).catch(() => undefined);
        return code;
      });
      return { socket: handle.socket, exited };
    } catch (err) {
      e.running = false;
      e.exitCode = /executable file not found|no such file or directory/.test((err as Error).message) ? 127 : 126;
      await removeTree(e.bundle).catch(() => undefined);
      throw err;
    }
  }

  async resize(id: string, height: number, width: number): Promise<void> {
    const e = this.get(id);
    if (!e.running) throw conflict(`exec ${id} is not running`);
    if (e.config.Tty) await resizeConsole(e.bundle, height, width);
  }

  /** Forgets the instances of a removed container. */
  forgetContainer(containerId: string): void {
    for (const [id, e] of this.execs) if (e.containerId === containerId) this.execs.delete(id);
  }

  /** The container's process, changed as `docker exec` asks: command, env, user, dir, terminal. */
  private async processSpec(rec: ContainerRecord, c: ExecCreateBody, tty: boolean, consoleSize: [number, number] | null | undefined): Promise<Record<string, unknown>> {
    const spec = JSON.parse(await fsp.readFile(path.join(this.containers.bundlePath(rec.ID), 'config.json'), 'utf8')) as { process: Record<string, any> };
    const proc = { ...spec.process };
    proc.args = c.Cmd;
    proc.terminal = tty;
    if (tty && consoleSize) proc.consoleSize = { height: consoleSize[0], width: consoleSize[1] };
    else delete proc.consoleSize;
    const env: string[] = [...(proc.env as string[])];
    const key = (s: string) => s.split('=')[0];
    if (tty && !env.some((x) => key(x) === 'TERM')) env.push('TERM=xterm');
    for (const entry of c.Env ?? []) {
      const i = env.findIndex((x) => key(x) === key(entry));
      if (i >= 0) env[i] = entry;
      else env.push(entry);
    }
    proc.env = env;
    if (c.WorkingDir) proc.cwd = c.WorkingDir;
    if (c.User) {
      const user = await resolveUser(path.join(this.containers.bundlePath(rec.ID), 'rootfs'), c.User, rec.HostConfig.GroupAdd);
      proc.user = processUser(user);
      const homeAt = env.findIndex((x) => key(x) === 'HOME');
      if (homeAt >= 0 && !(c.Env ?? []).some((x) => key(x) === 'HOME')) env[homeAt] = `HOME=${user.home}`;
    }
    if (c.Privileged) {
      const all = containerCapabilities(null, null, true);
      proc.capabilities = { bounding: all, effective: all, permitted: all };
    }
    return proc;
  }
}
