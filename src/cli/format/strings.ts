/** Small string helpers that reproduce Go formatting docker's output relies on. */

/** Go's strconv.Quote: double quotes, Go escapes, printable Unicode kept as is. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (c === 7) out += '\\a';
    else if (c === 8) out += '\\b';
    else if (c === 12) out += '\\f';
    else if (c === 10) out += '\\n';
    else if (c === 13) out += '\\r';
    else if (c === 9) out += '\\t';
    else if (c === 11) out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else if ((c >= 0x80 && c < 0xa0) || c === 0xad) out += '\\u' + c.toString(16).padStart(4, '0');
    else if (c === 0xfffd && ch !== '\ufffd') out += '\\ufffd';
    else out += ch;
  }
  return out + '"';
}

/** docker's formatter.Ellipsis: cut to `max` columns, the last one being "…". */
export function ellipsis(s: string, max: number): string {
  const chars = [...s];
  if (max <= 0) return '';
  if (chars.length <= max) return s;
  if (max === 1) return chars[0];
  return chars.slice(0, max - 1).join('') + '…';
}

/** docker's stringid.TruncateID: drop "sha256:" and keep 12 characters. */
export function truncateId(id: string): string {
  const i = id.indexOf(':');
  const bare = i >= 0 ? id.slice(i + 1) : id;
  return bare.slice(0, 12);
}

/**
 * The "natural" order docker sorts names and port lines in: runs of digits
 * compare as numbers (shorter number first once leading zeros are dropped,
 * then fewer leading zeros first), digits sort before other characters, and
 * everything else compares byte by byte.
 */
export function naturalLess(a: string, b: string): boolean {
  const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  let i = 0;
  let j = 0;
  while (i < x.length && j < y.length) {
    const dx = isDigit(x[i]);
    const dy = isDigit(y[j]);
    if (dx !== dy) return dx;
    if (!dx) {
      if (x[i] !== y[j]) return x[i] < y[j];
      i++;
      j++;
      continue;
    }
    while (i < x.length && x[i] === 0x30) i++;
    while (j < y.length && y[j] === 0x30) j++;
    const si = i;
    const sj = j;
    while (i < x.length && isDigit(x[i])) i++;
    while (j < y.length && isDigit(y[j])) j++;
    if (i - si !== j - sj) return i - si < j - sj;
    const nx = x.toString('latin1', si, i);
    const ny = y.toString('latin1', sj, j);
    if (nx !== ny) return nx < ny;
    if (si !== sj) return si < sj;
  }
  // Equal so far (both indexes moved alike): the shorter string sorts first.
  return x.length < y.length;
}

/** A comparator for Array.prototype.sort from naturalLess. */
export function naturalCompare(a: string, b: string): number {
  return naturalLess(a, b) ? -1 : naturalLess(b, a) ? 1 : 0;
}
