import type { Heredoc, RunInstruction } from './types';

/**
 * Here-documents (`<<EOF`, `<<-EOF`, `<<"EOF"`) on RUN, COPY and ADD lines: which words
 * of the line open one, and how the builder turns a RUN with here-documents into the
 * command it runs.
 */

export interface HeredocMarker {
  /** the word on the instruction line, e.g. `<<-"EOF"` */
  word: string;
  name: string;
  chomp: boolean;
  expand: boolean;
}

// An optional file descriptor, `<<`, an optional `-`, then the delimiter word.
const MARKER = /^(\d*)<<(-?)([^<]*)$/;

/** The delimiter without its quoting; `\` escapes outside single quotes. */
function unquote(word: string, escape: string): string {
  let out = '';
  let quote = '';
  for (let i = 0; i < word.length; i++) {
    const c = word[i];
    if (quote === "'") {
      if (c === "'") quote = '';
      else out += c;
    } else if (c === escape && i + 1 < word.length) {
      out += word[++i];
    } else if (quote === '"') {
      if (c === '"') quote = '';
      else out += c;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else {
      out += c;
    }
  }
  return out;
}

/** The here-document markers among an instruction's words, in order. */
export function findHeredocs(words: string[], escape: string): HeredocMarker[] {
  const found: HeredocMarker[] = [];
  for (const word of words) {
    const m = MARKER.exec(word);
    if (!m || m[3] === '') continue;
    const name = unquote(m[3], escape);
    // Quoting any part of the delimiter makes the body literal, as in the shell.
    found.push({ word, name, chomp: m[2] === '-', expand: name === m[3] });
  }
  return found;
}

/** Removes leading tabs from every line, as `<<-` asks. */
export function chompTabs(content: string): string {
  return content.replace(/^\t+/gm, '');
}

/**
 * What a shell-form RUN with here-documents runs. When the command is one here-document
 * and nothing else, its body is the script: run as a file when it starts with `#!`, else
 * given to the shell as the command. Otherwise the shell gets the command line followed
 * by each body and its delimiter, and resolves the here-documents itself.
 */
export type RunScript = { kind: 'file'; content: string; shebang: true } | { kind: 'shell'; command: string };

export function runScript(run: RunInstruction): RunScript | undefined {
  if (run.cmd.form !== 'shell' || run.heredocs.length === 0) return undefined;
  const only = run.heredocs.length === 1 && MARKER.test(run.cmd.command.trim()) ? run.heredocs[0] : undefined;
  if (only) {
    if (only.content.startsWith('#!')) return { kind: 'file', content: only.content, shebang: true };
    return { kind: 'shell', command: only.content };
  }
  let command = run.cmd.command;
  for (const h of run.heredocs) command += `\n${h.content}${h.name}`;
  return { kind: 'shell', command };
}
