/** Helpers the container and image commands share. */
import type { CommandContext } from '../command';
import { EngineError } from '../../client/engine';
import { errorMessage } from '../errors';

/** How docker shows an error for one of several objects. */
export function describeError(e: unknown): string {
  return e instanceof EngineError ? `Error response from daemon: ${e.message}` : errorMessage(e);
}

/**
 * Applies `fn` to each name; errors are printed and the rest still processed.
 * Returns the names that failed.
 */
export async function forEachName(ctx: CommandContext, names: readonly string[], fn: (name: string) => Promise<void>): Promise<string[]> {
  const failed: string[] = [];
  for (const name of names) {
    try {
      await fn(name);
    } catch (e) {
      ctx.err(`${describeError(e)}\n`);
      failed.push(name);
    }
  }
  return failed;
}

/** Asks "[y/N]" on stdin after docker's "Are you sure you want to continue?" line; true only for y. */
export function confirm(ctx: CommandContext, question: string): Promise<boolean> {
  return confirmPrompt(ctx, `${question}\nAre you sure you want to continue?`);
}

/**
 * Prints `message` and " [y/N] ", then reads one line of stdin: true only for
 * "y" or "Y" (surrounding spaces ignored), as docker's prompt; end of input is no.
 */
export function confirmPrompt(ctx: CommandContext, message: string): Promise<boolean> {
  ctx.out(`${message} [y/N] `);
  return new Promise((resolve) => {
    let line = '';
    const stdin = ctx.stdin;
    const finish = () => {
      stdin.removeListener('data', onData);
      stdin.removeListener('end', finish);
      stdin.pause();
      resolve(/^y$/i.test(line.trim()));
    };
    const onData = (c: Buffer | string) => {
      line += c.toString();
      if (line.includes('\n')) {
        line = line.slice(0, line.indexOf('\n'));
        finish();
      }
    };
    stdin.on('data', onData);
    stdin.on('end', finish);
    stdin.resume();
  });
}
