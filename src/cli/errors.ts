/**
 * Errors the CLI turns into an exit: each carries the exit status docker uses for
 * the situation, so commands can throw where the problem is known and main.ts
 * prints and exits in one place.
 */

/** A bad command line (unknown flag, bad value, wrong argument count). */
export class UsageError extends Error {
  readonly exitCode: number;
  /** 'flag': print usage and "Run '... --help'"; 'args': same but "See '... --help'". */
  readonly kind: 'flag' | 'args';
  constructor(message: string, kind: 'flag' | 'args' = 'flag', exitCode = kind === 'flag' ? 125 : 1) {
    super(message);
    this.kind = kind;
    this.exitCode = exitCode;
    this.name = 'UsageError';
  }
}

/**
 * An error whose message is printed as is, then the process exits with `exitCode`.
 * `prefixed` adds docker's "berth: " prefix and the "Run 'berth X --help'" hint
 * (what `docker run`/`create` do for their own errors).
 */
export class StatusError extends Error {
  readonly exitCode: number;
  readonly prefixed: boolean;
  constructor(message: string, exitCode = 1, prefixed = false) {
    super(message);
    this.exitCode = exitCode;
    this.prefixed = prefixed;
    this.name = 'StatusError';
  }
}

/** Already reported on stderr; only the exit status is left to apply. */
export class ExitError extends Error {
  readonly exitCode: number;
  constructor(exitCode: number) {
    super(`exit status ${exitCode}`);
    this.exitCode = exitCode;
    this.name = 'ExitError';
  }
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
