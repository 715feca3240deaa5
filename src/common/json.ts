/**
 * JSON.parse with Go's bound on nesting. Go's decoder refuses values nested deeper than
 * 10000 ("exceeded max depth"); berth refuses them sooner, since every later walk over the value
 * (the API's type check, a copy, a store) recurses and a deep enough one ends in a stack
 * overflow. No Engine API body nests beyond a few dozen levels.
 */
export const MAX_JSON_DEPTH = 1000;

export function parseBoundedJSON(text: string, maxDepth = MAX_JSON_DEPTH): unknown {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // a backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) throw new SyntaxError('exceeded max depth');
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return JSON.parse(text);
}
