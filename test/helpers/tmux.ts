/**
 * A real terminal for tests, driven through tmux (Debian `tmux`): a command runs
 * in a detached session of a given size; the test types into it (send-keys),
 * reads the screen (capture-pane), waits for text, resizes the window, and reads
 * the command's exit status. Each session has a tmux server of its own on a
 * private socket (`tmux -S`), started with an empty config, so a test never sees
 * or touches the user's tmux, nor another test's.
 *
 *   const t = await TmuxSession.start([BERTH, '-H', d.host, 'run', '-it', 'busybox', 'sh'], { width: 100, height: 30 });
 *   try {
 *     await t.waitForText(/# $/m);
 *     t.type('echo hi\n');
 *     await t.waitForText(/^hi$/m);
 *   } finally {
 *     t.kill();
 *   }
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface TmuxStartOptions {
  width?: number;
  height?: number;
  /** Extra environment for the command. */
  env?: Record<string, string>;
  cwd?: string;
}

/** Quotes one word for sh. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_\/.,:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class TmuxSession {
  private constructor(
    private readonly dir: string,
    readonly socket: string,
    private readonly statusFile: string,
  ) {}

  static async start(command: readonly string[], opts: TmuxStartOptions = {}): Promise<TmuxSession> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-tmux-'));
    const socket = path.join(dir, 'tmux.sock');
    const statusFile = path.join(dir, 'status');
    const config = path.join(dir, 'tmux.conf');
    // The pane stays after the command ends so its last screen can still be read;
    // no status line, so the pane is the whole window; a long history for capture.
    writeFileSync(
      config,
      ['set -g remain-on-exit on', 'set -g status off', 'set -g history-limit 10000', 'set -g default-terminal xterm-256color', 'set -sg escape-time 0', ''].join('\n'),
    );
    const s = new TmuxSession(dir, socket, statusFile);
    const env = Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${shellQuote(v)}`);
    // The exit status goes to a file, so the pane shows only what the command printed; so do
    // the terminal's settings once it ended (was raw mode undone?). The status is written last.
    const script =
      `${env.length ? `env ${env.join(' ')} ` : ''}${command.map(shellQuote).join(' ')}; s=$?; ` +
      `stty -a > ${shellQuote(path.join(dir, 'stty'))} 2>&1; echo $s > ${shellQuote(statusFile)}`;
    try {
      s.tmux('-f', config, 'new-session', '-d', '-s', 'test', '-x', String(opts.width ?? 80), '-y', String(opts.height ?? 24), '-c', opts.cwd ?? process.cwd(), 'sh', '-c', script);
    } catch (e) {
      s.kill();
      throw e;
    }
    return s;
  }

  /** Runs `fn` with a session, and kills the session afterwards whether `fn` failed or not. */
  static async run<T>(command: readonly string[], opts: TmuxStartOptions, fn: (t: TmuxSession) => Promise<T>): Promise<T> {
    const t = await TmuxSession.start(command, opts);
    try {
      return await fn(t);
    } finally {
      t.kill();
    }
  }

  private tmux(...args: string[]): string {
    return execFileSync('tmux', ['-S', this.socket, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** Types text as it is (no key names): `\n` is Enter. */
  type(text: string): void {
    // send-keys -l sends a newline as a line feed; a terminal's Enter is a carriage return
    const parts = text.split('\n');
    parts.forEach((part, i) => {
      if (part) this.tmux('send-keys', '-t', 'test', '-l', part);
      if (i < parts.length - 1) this.tmux('send-keys', '-t', 'test', 'Enter');
    });
  }

  /** Sends tmux key names: 'C-c', 'C-p', 'Enter', 'Up' ... */
  keys(...names: string[]): void {
    this.tmux('send-keys', '-t', 'test', ...names);
  }

  /** The pane's text, scrollback included, wrapped lines joined, trailing blank lines dropped. */
  capture(): string {
    return this.tmux('capture-pane', '-p', '-J', '-S', '-', '-t', 'test').replace(/\n+$/, '\n');
  }

  /** Waits until the pane's text matches (a string must be contained); returns the text. */
  async waitForText(pattern: string | RegExp, timeoutMs = 15_000): Promise<string> {
    return this.waitFor((text) => (typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text)), timeoutMs, String(pattern));
  }

  /** Waits until `check` accepts the pane's text. */
  async waitFor(check: (text: string) => boolean, timeoutMs = 15_000, what = 'the expected text'): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let text = '';
    for (;;) {
      text = this.capture();
      if (check(text)) return text;
      if (Date.now() > deadline) throw new Error(`tmux: timed out after ${timeoutMs} ms waiting for ${what}; the screen was:\n${text}`);
      await sleep(50);
    }
  }

  /**
   * Types `text` again and again until the screen matches: for answers that may lag a
   * moment behind an event (a resize reaching the container's TTY).
   */
  async typeUntil(text: string, pattern: RegExp, timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.type(text);
      try {
        return await this.waitForText(pattern, 1_000);
      } catch (e) {
        if (Date.now() > deadline) throw e;
      }
    }
  }

  /** Resizes the window (and so the pane, and the terminal the command sees). */
  resize(width: number, height: number): void {
    this.tmux('resize-window', '-t', 'test', '-x', String(width), '-y', String(height));
  }

  /** The command's exit status once it has ended, or undefined while it runs. */
  exitStatus(): number | undefined {
    try {
      const text = readFileSync(this.statusFile, 'utf8').trim();
      return text === '' ? undefined : Number(text);
    } catch {
      return undefined;
    }
  }

  /** Waits for the command to end; returns its exit status. */
  async waitForExit(timeoutMs = 15_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = this.exitStatus();
      if (status !== undefined) return status;
      if (Date.now() > deadline) throw new Error(`tmux: the command did not end within ${timeoutMs} ms; the screen was:\n${this.capture()}`);
      await sleep(50);
    }
  }

  /** `stty -a` of the terminal right after the command ended (read it after waitForExit). */
  terminalSettingsAfterExit(): string {
    return readFileSync(path.join(this.dir, 'stty'), 'utf8');
  }

  /** Ends the tmux server and its processes, and removes the session's files. Safe to call twice. */
  kill(): void {
    try {
      this.tmux('kill-server');
    } catch {
      // no server (never started, or already killed)
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
