/**
 * Reading what the user types: a line (echoed by the terminal as usual), a
 * secret (the terminal in raw mode so nothing is echoed, with backspace and
 * Ctrl-U handled here), or all of stdin (--password-stdin).
 */
import { ExitError } from './errors';

export interface PromptInput extends NodeJS.ReadableStream {
  isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
  unshift(chunk: Buffer | string): void;
}

/** Reads one line (without its line ending); at end of input, what there was. */
export function readLine(input: PromptInput): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const finish = (line: string, rest?: string) => {
      input.removeListener('data', onData);
      input.removeListener('end', onEnd);
      input.removeListener('error', onError);
      input.pause();
      if (rest) input.unshift(Buffer.from(rest));
      resolve(line.replace(/\r$/, ''));
    };
    const onData = (c: Buffer | string) => {
      text += c.toString();
      const nl = text.indexOf('\n');
      if (nl >= 0) finish(text.slice(0, nl), text.slice(nl + 1));
    };
    const onEnd = () => finish(text);
    const onError = (e: Error) => {
      input.removeListener('data', onData);
      input.removeListener('end', onEnd);
      reject(e);
    };
    input.on('data', onData);
    input.on('end', onEnd);
    input.on('error', onError);
    input.resume();
  });
}

/** Reads all of the input. */
export function readAll(input: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    input.on('data', (c: Buffer | string) => chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c)));
    input.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    input.on('error', reject);
    input.resume();
  });
}

/**
 * Reads a line without echo. On a terminal the input is put in raw mode for the
 * duration; Ctrl-C ends the command with status 130 (`out` gets the newline the
 * user did not see). Without a terminal it is a plain readLine.
 */
export function readSecret(input: PromptInput, out: { write(s: string): unknown }): Promise<string> {
  if (!input.isTTY || !input.setRawMode) return readLine(input);
  const setRaw = input.setRawMode.bind(input);
  setRaw(true);
  const restoreOnExit = () => setRaw(false);
  process.once('exit', restoreOnExit);
  return new Promise((resolve, reject) => {
    let secret = '';
    const done = (err?: Error) => {
      input.removeListener('data', onData);
      input.removeListener('end', onEnd);
      process.removeListener('exit', restoreOnExit);
      setRaw(false);
      input.pause();
      if (err) reject(err);
      else resolve(secret);
    };
    const onData = (c: Buffer | string) => {
      for (const ch of c.toString()) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\x03') {
          out.write('\n');
          return done(new ExitError(130));
        }
        if (ch === '\x04') {
          if (secret === '') return done();
          continue;
        }
        if (ch === '\x7f' || ch === '\b') secret = [...secret].slice(0, -1).join('');
        else if (ch === '\x15') secret = '';
        else if (ch >= ' ') secret += ch;
      }
    };
    const onEnd = () => done();
    input.on('data', onData);
    input.on('end', onEnd);
    input.resume();
  });
}
