import { spawnSync } from 'node:child_process';

/**
 * The local terminal during an attached session (run -it, attach, exec -it):
 * raw mode while the session lasts, so keys like Ctrl-C reach the container's
 * TTY instead of signalling berth, and the window size kept in step with the
 * container's TTY (once at the start, then on every SIGWINCH, which Node
 * reports as 'resize' on the output stream).
 */

export interface TerminalInput {
  isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
}

export interface TerminalOutput {
  isTTY?: boolean;
  columns?: number;
  rows?: number;
  on?(ev: 'resize', fn: () => void): unknown;
  removeListener?(ev: 'resize', fn: () => void): unknown;
}

/** Puts a TTY input in raw mode; the returned restore can be called any number of times. */
export function enterRawMode(stdin: TerminalInput): () => void {
  if (!stdin.isTTY || !stdin.setRawMode) return () => undefined;
  stdin.setRawMode(true);
  // Node's raw mode keeps output processing, so the terminal turns the container terminal's
  // "\r\n" into "\r\r\n"; the docker CLI makes the output raw too. Leaving raw mode
  // restores the settings Node saved before, output processing with them.
  if ((stdin as unknown) === process.stdin && process.stdout.isTTY) spawnSync('stty', ['-opost'], { stdio: ['inherit', 'ignore', 'ignore'] });
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    stdin.setRawMode!(false);
  };
  // A crash must not leave the user's shell in raw mode.
  process.once('exit', restore);
  return () => {
    process.removeListener('exit', restore);
    restore();
  };
}

/**
 * Sends the terminal size now and after every resize; returns the function
 * that stops watching. Does nothing when the output is not a terminal.
 */
export function watchTerminalSize(stdout: TerminalOutput, send: (height: number, width: number) => void): () => void {
  if (!stdout.isTTY) return () => undefined;
  const resize = () => {
    const { rows, columns } = stdout;
    if (rows && columns) send(rows, columns);
  };
  resize();
  stdout.on?.('resize', resize);
  return () => stdout.removeListener?.('resize', resize);
}

/** [height, width] of a terminal output, as the API's ConsoleSize wants it. */
export function consoleSize(stdout: TerminalOutput): [number, number] | undefined {
  return stdout.isTTY && stdout.rows && stdout.columns ? [stdout.rows, stdout.columns] : undefined;
}
