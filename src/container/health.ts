/**
 * Health checks with Docker's semantics: a container whose config has a health check
 * (the image's HEALTHCHECK or --health-*) starts "starting"; its probe runs every interval
 * (the start interval during the start period) inside the container; a success makes it
 * healthy, `Retries` failures in a row unhealthy (failures in the start period do not
 * count); a probe past its timeout is killed and counts as a failure. The last five
 * results are kept in State.Health.Log, and each change of status is a
 * `health_status: …` event.
 */
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { HealthConfig } from '../api/types';
import { invalid } from '../common/errors';
import type { EngineEvent, EventBus } from '../daemon/events';
import type { ContainerManager } from './manager';
import type { ContainerRecord, HealthLogEntry, HealthState } from './model';

const MS = 1_000_000; // nanoseconds
export const DEFAULT_INTERVAL_NS = 30_000 * MS;
export const DEFAULT_TIMEOUT_NS = 30_000 * MS;
export const DEFAULT_START_INTERVAL_NS = 5_000 * MS;
export const DEFAULT_RETRIES = 3;
export const LOG_ENTRIES = 5;
export const MAX_OUTPUT = 4096;

/** Docker's checks at create: durations of 0 (the default) or at least 1 ms. */
export function validateHealthcheck(hc: HealthConfig | undefined | null): void {
  if (!hc) return;
  for (const [field, label] of [['Interval', 'Interval'], ['Timeout', 'Timeout'], ['StartPeriod', 'StartPeriod'], ['StartInterval', 'StartInterval']] as const) {
    const v = hc[field] ?? 0;
    if (v < 0) throw invalid(`${label} in Healthcheck cannot be less than 0`);
    if (v !== 0 && v < MS) throw invalid(`${label} in Healthcheck cannot be less than 1ms`);
  }
  if ((hc.Retries ?? 0) < 0) throw invalid('Retries in Healthcheck cannot be negative');
}

/** The command a health check runs, or undefined for none (absent, empty or NONE). */
export function probeCommand(hc: HealthConfig | undefined | null): string[] | undefined {
  const test = hc?.Test ?? [];
  if (test.length === 0 || test[0] === 'NONE') return undefined;
  if (test[0] === 'CMD') return test.length > 1 ? test.slice(1) : undefined;
  if (test[0] === 'CMD-SHELL') return test.length > 1 ? ['/bin/sh', '-c', test[1]] : undefined;
  return undefined;
}

/** The state after one probe's result (pure: the rules in one place). */
export function applyResult(h: HealthState, result: HealthLogEntry, o: { retries: number; inStartPeriod: boolean }): HealthState {
  const Log = [...h.Log, result].slice(-LOG_ENTRIES);
  if (result.ExitCode === 0) return { Status: 'healthy', FailingStreak: 0, Log };
  if (o.inStartPeriod && h.Status === 'starting') return { Status: 'starting', FailingStreak: h.FailingStreak, Log };
  const streak = h.FailingStreak + 1;
  return { Status: streak >= (o.retries > 0 ? o.retries : DEFAULT_RETRIES) ? 'unhealthy' : h.Status, FailingStreak: streak, Log };
}

interface Watch {
  timer?: NodeJS.Timeout;
  startedAt: number;
  paused: boolean;
  probing: boolean;
  stopped: boolean;
  kill?: () => void;
}

export class HealthMonitor {
  private readonly watches = new Map<string, Watch>();
  private readonly onEvent = (ev: EngineEvent) => this.event(ev);

  constructor(
    private readonly containers: ContainerManager,
    private readonly events: EventBus,
    private readonly log: (msg: string) => void,
  ) {
    events.on('event', this.onEvent);
  }

  /** Picks up the containers already running when the daemon starts. */
  resume(): void {
    for (const rec of this.containers.list()) {
      if (rec.State.Running && !rec.State.Restarting && probeCommand(rec.Config.Healthcheck)) this.begin(rec, false);
    }
  }

  close(): void {
    this.events.off('event', this.onEvent);
    for (const id of [...this.watches.keys()]) this.end(id);
  }

  private event(ev: EngineEvent): void {
    if (ev.Type !== 'container') return;
    const id = ev.Actor.ID;
    if (ev.Action === 'start') {
      const rec = this.containers.find(id);
      if (rec && probeCommand(rec.Config.Healthcheck)) this.begin(rec, true);
    } else if (ev.Action === 'die' || ev.Action === 'destroy') {
      this.end(id);
    } else if (ev.Action === 'pause' || ev.Action === 'unpause') {
      const w = this.watches.get(id);
      if (w) w.paused = ev.Action === 'pause';
    }
  }

  private config(rec: ContainerRecord) {
    const hc = rec.Config.Healthcheck ?? {};
    return {
      cmd: probeCommand(hc)!,
      interval: (hc.Interval || DEFAULT_INTERVAL_NS) / MS,
      timeout: (hc.Timeout || DEFAULT_TIMEOUT_NS) / MS,
      startPeriod: (hc.StartPeriod ?? 0) / MS,
      startInterval: (hc.StartInterval || DEFAULT_START_INTERVAL_NS) / MS,
      retries: hc.Retries ?? 0,
    };
  }

  private begin(rec: ContainerRecord, fresh: boolean): void {
    this.end(rec.ID);
    const w: Watch = { startedAt: Date.parse(rec.State.StartedAt) || Date.now(), paused: rec.State.Paused, probing: false, stopped: false };
    this.watches.set(rec.ID, w);
    if (fresh || !rec.State.Health) {
      rec.State.Health = { Status: 'starting', FailingStreak: 0, Log: [] };
      void this.containers.saveHealth(rec).catch(() => undefined);
    }
    this.schedule(rec.ID, w);
  }

  private end(id: string): void {
    const w = this.watches.get(id);
    if (!w) return;
    w.stopped = true;
    clearTimeout(w.timer);
    w.kill?.();
    this.watches.delete(id);
  }

  private schedule(id: string, w: Watch): void {
    const rec = this.containers.find(id);
    if (!rec || w.stopped) return;
    const c = this.config(rec);
    const inStart = Date.now() - w.startedAt < c.startPeriod;
    w.timer = setTimeout(() => void this.probe(id, w), inStart ? c.startInterval : c.interval);
  }

  private async probe(id: string, w: Watch): Promise<void> {
    const rec = this.containers.find(id);
    if (!rec || w.stopped) return;
    if (w.paused || !rec.State.Running || rec.State.Restarting || rec.State.Paused) {
      this.schedule(id, w);
      return;
    }
    const c = this.config(rec);
    w.probing = true;
    const start = new Date();
    let result: { exitCode: number; output: string };
    try {
      result = await this.run(rec, c.cmd, c.timeout, w);
    } catch (e) {
      result = { exitCode: -1, output: (e as Error).message };
    }
    w.probing = false;
    if (w.stopped || !this.containers.find(id)) return;
    const entry: HealthLogEntry = { Start: start.toISOString(), End: new Date().toISOString(), ExitCode: result.exitCode, Output: result.output };
    const before = rec.State.Health ?? { Status: 'starting', FailingStreak: 0, Log: [] };
    const after = applyResult(before, entry, { retries: c.retries, inStartPeriod: start.getTime() - w.startedAt < c.startPeriod });
    rec.State.Health = after;
    await this.containers.saveHealth(rec).catch((e) => this.log(`health of ${id.slice(0, 12)}: ${(e as Error).message}`));
    if (after.Status !== before.Status) {
      this.containers.publishEvent(rec, `health_status: ${after.Status}`);
    }
    this.schedule(id, w);
  }

  /** Runs the probe in the container with the runtime's exec, killed at the timeout. */
  private async run(rec: ContainerRecord, cmd: string[], timeoutMs: number, w: Watch): Promise<{ exitCode: number; output: string }> {
    const view = this.containers.runView(rec.ID);
    const spec = JSON.parse(await fsp.readFile(path.join(view.bundle, 'config.json'), 'utf8')) as { process: Record<string, unknown> };
    const proc: Record<string, unknown> = { ...spec.process, args: cmd, terminal: false };
    delete proc.consoleSize;
    const dir = path.join(view.bundle, `health-${randomBytes(4).toString('hex')}`);
    await fsp.mkdir(dir, { recursive: true });
    const processFile = path.join(dir, 'process.json');
    const pidFile = path.join(dir, 'pid');
    await fsp.writeFile(processFile, JSON.stringify(proc));
    try {
      const runtime = this.containers.runtimeOf(rec);
      return await new Promise((resolve) => {
        const child = spawn(runtime.command, ['--root', runtime.stateRoot, 'exec', '--process', processFile, '--pid-file', pidFile, rec.ID], { stdio: ['ignore', 'pipe', 'pipe'], env: runtime.env });
        let output = Buffer.alloc(0);
        const take = (d: Buffer) => {
          if (output.length < MAX_OUTPUT) output = Buffer.concat([output, d]).subarray(0, MAX_OUTPUT);
        };
        child.stdout.on('data', take);
        child.stderr.on('data', take);
        let timedOut = false;
        const kill = () => {
          // runc exec cannot pass SIGKILL on: the probe's own process is killed by its pid
          void fsp.readFile(pidFile, 'utf8').then(
            (pid) => {
              try {
                process.kill(Number(pid.trim()), 'SIGKILL');
              } catch {
                // ended meanwhile
              }
            },
            () => undefined,
          );
          child.kill('SIGKILL');
        };
        w.kill = kill;
        const timer = setTimeout(() => {
          timedOut = true;
          kill();
        }, timeoutMs);
        child.on('error', (e) => {
          clearTimeout(timer);
          resolve({ exitCode: -1, output: e.message });
        });
        child.on('close', (code) => {
          clearTimeout(timer);
          w.kill = undefined;
          if (timedOut) resolve({ exitCode: -1, output: `Health check exceeded timeout (${formatSeconds(timeoutMs)})` });
          else resolve({ exitCode: code ?? -1, output: output.toString('utf8') });
        });
      });
    } finally {
      await fsp.rm(dir, { recursive: true, force: true }).catch(() => undefined);
    }
  }
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
