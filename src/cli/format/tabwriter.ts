/**
 * Column alignment with the rules of Go's text/tabwriter as docker configures it
 * (minwidth 10, tabwidth 1, padding 3, pad with spaces): text is cells ended by
 * '\t'; a column's width is its widest cell plus the padding, at least minwidth;
 * the last cell of a line is not aligned; a column block is a run of consecutive
 * lines that have that column, so lines with fewer cells break the block.
 */

export interface TabwriterOptions {
  minWidth?: number;
  padding?: number;
}

/** Display width: code points, as Go's tabwriter counts runes. */
function cellWidth(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

export function alignColumns(text: string, opts: TabwriterOptions = {}): string {
  const minWidth = opts.minWidth ?? 10;
  const padding = opts.padding ?? 3;
  const endsWithNewline = text.endsWith('\n');
  const lines = (endsWithNewline ? text.slice(0, -1) : text).split('\n').map((l) => l.split('\t'));
  const out: string[] = [];
  const widths: number[] = [];

  const writeLines = (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const cells = lines[i];
      let s = '';
      for (let j = 0; j < cells.length; j++) {
        s += cells[j];
        if (j < widths.length && j < cells.length - 1) s += ' '.repeat(Math.max(0, widths[j] - cellWidth(cells[j])));
      }
      out.push(s);
    }
  };

  const format = (line0: number, line1: number) => {
    const column = widths.length;
    for (let cur = line0; cur < line1; cur++) {
      if (column >= lines[cur].length - 1) continue;
      // This line opens a block for `column`: print the lines before it, then size the block.
      writeLines(line0, cur);
      line0 = cur;
      let width = minWidth;
      for (; cur < line1; cur++) {
        const cells = lines[cur];
        if (column >= cells.length - 1) break;
        width = Math.max(width, cellWidth(cells[column]) + padding);
      }
      widths.push(width);
      format(line0, cur);
      widths.pop();
      line0 = cur;
      cur--; // the for-loop's increment would skip the line that ended the block
    }
    writeLines(line0, line1);
  };

  format(0, lines.length);
  return out.join('\n') + (endsWithNewline ? '\n' : '');
}
