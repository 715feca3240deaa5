import { invalid } from '../../common/errors';
import type { Directives, ParseWarning } from './types';

/**
 * The Dockerfile as lines: the parser directives at its top, then one logical line per
 * instruction (escaped newlines joined, comment and blank lines inside a continuation
 * dropped), and the raw lines of here-document bodies, which the parser asks for after
 * it has seen `<<NAME` on an instruction line.
 */

export interface LogicalLine {
  text: string;
  line: number;
  endLine: number;
}

// `# key = value`, whitespace allowed around the parts; keys are letters and digits.
const DIRECTIVE = /^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.+?)[ \t]*$/;
const KNOWN_DIRECTIVES = new Set(['escape', 'syntax', 'check']);

export class SourceLines {
  private readonly lines: string[];
  private next = 0;
  readonly warnings: ParseWarning[] = [];

  constructor(text: string) {
    // A UTF-8 BOM is not part of the first line; CRLF ends lines like LF does.
    this.lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  }

  /**
   * Reads the directives. They end at the first line that is not a known directive
   * (a comment, a blank line, an instruction, an unknown directive); that line is left
   * for the instruction reader, which treats any `#` line as a comment.
   */
  readDirectives(): Directives {
    const found: Record<string, string> = {};
    while (this.next < this.lines.length) {
      const m = DIRECTIVE.exec(this.lines[this.next].trimStart());
      if (!m) break;
      const key = m[1].toLowerCase();
      if (!KNOWN_DIRECTIVES.has(key)) break;
      if (key in found) throw invalid(`only one ${key} parser directive can be used`);
      found[key] = m[2];
      this.next++;
    }
    const escape = found.escape ?? '\\';
    if (escape !== '\\' && escape !== '`') {
      throw invalid(`invalid escape token '${escape}' does not match \` or \\`);
    }
    return { escape, ...(found.syntax !== undefined && { syntax: found.syntax }), ...(found.check !== undefined && { check: found.check }) };
  }

  /** The next instruction line with its continuations, or undefined at the end of the file. */
  nextLogical(escape: string): LogicalLine | undefined {
    const continued = new RegExp(`${escape === '`' ? '`' : '\\\\'}[ \\t]*$`);
    while (this.next < this.lines.length) {
      const first = this.lines[this.next++];
      const line = this.next;
      const trimmed = first.trimStart();
      if (trimmed === '' || trimmed.startsWith('#')) continue;
      let text = trimmed.replace(continued, '');
      let more = text.length !== trimmed.length;
      let sawEmpty = false;
      while (more && this.next < this.lines.length) {
        const raw = this.lines[this.next++];
        const lead = raw.trimStart();
        // Comments inside a continuation are dropped; so are blank lines (BuildKit warns).
        if (lead.startsWith('#')) continue;
        if (lead === '') {
          sawEmpty = true;
          continue;
        }
        const piece = raw.replace(continued, '');
        more = piece.length !== raw.length;
        text += piece;
      }
      if (sawEmpty) this.warnings.push({ line, message: `Empty continuation line found in: ${text.trim()}` });
      return { text: text.trim(), line, endLine: this.next };
    }
    return undefined;
  }

  /**
   * The body of a here-document: lines up to the one that is exactly `name` (after its
   * leading tabs, for `<<-`). The body keeps a "\n" after each line.
   */
  readHeredoc(name: string, chomp: boolean, startLine: number): string {
    let body = '';
    while (this.next < this.lines.length) {
      const raw = this.lines[this.next++];
      const cmp = chomp ? raw.replace(/^\t+/, '') : raw;
      if (cmp === name) return body;
      body += `${cmp}\n`;
    }
    throw invalid(`dockerfile parse error on line ${startLine}: unterminated heredoc ${name}`);
  }

  /** The line number of the last line consumed. */
  get position(): number {
    return this.next;
  }
}
