/**
 * Re-indents raw JSON text the way Go's json.MarshalIndent does for `inspect`
 * (4 spaces, `"key": value`, `[]`/`{}` kept compact, strings untouched),
 * working on the text so that numbers and key order are exactly the daemon's.
 */
export function indentJson(raw: string, indent = '    '): string {
  let out = '';
  let depth = 0;
  let i = 0;
  const n = raw.length;
  const newline = () => '\n' + indent.repeat(depth);
  while (i < n) {
    const c = raw[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      while (j < n && raw[j] !== '"') j += raw[j] === '\\' ? 2 : 1;
      out += raw.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (c === '{' || c === '[') {
      // Look ahead: an empty object/array stays on one line.
      let j = i + 1;
      while (j < n && /\s/.test(raw[j])) j++;
      if (raw[j] === (c === '{' ? '}' : ']')) {
        out += c === '{' ? '{}' : '[]';
        i = j + 1;
        continue;
      }
      depth++;
      out += c + newline();
      i++;
      continue;
    }
    if (c === '}' || c === ']') {
      depth--;
      out += newline() + c;
      i++;
      continue;
    }
    if (c === ',') {
      out += ',' + newline();
      i++;
      continue;
    }
    if (c === ':') {
      out += ': ';
      i++;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}
