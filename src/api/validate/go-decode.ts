/**
 * Checks a parsed JSON value against a schema node the way Go's encoding/json decodes it
 * into dockerd's structs, and turns it into what that decode would leave:
 *
 * - a value of the wrong JSON kind is refused with Go's own words,
 *   `json: cannot unmarshal array into Go struct field ContainerConfigWrapper.Image of type string`;
 * - integers must be whole and fit their Go type (`number 1e+20` does not fit an int64);
 * - `null` is accepted everywhere, as Go accepts it: a struct field set to null is as if absent,
 *   a null list element or map value is its type's zero value;
 * - a struct's keys match its fields case-insensitively (Go prefers the exact spelling), and
 *   come out under the field's spelling (dockerd's, where the reference spells one otherwise:
 *   scripts/gen-api-schema.js keeps those overrides);
 *   unknown keys are kept and not checked, as Go ignores them;
 * - a strslice field (Cmd, Entrypoint, Shell) takes a string as a one-element list.
 *
 * The value is changed in place where it can be; the (possibly new) value is returned.
 */
import type { SchemaNode } from './schema';

export class GoDecodeError extends Error {}

/** Where a value sits, as Go's decoder reports it: the innermost struct type and the key path from the top. */
interface Place {
  struct: string;
  path: string[];
}

const INT_RANGES: Record<string, [number, number]> = {
  int: [-(2 ** 63), 2 ** 63],
  int64: [-(2 ** 63), 2 ** 63],
  int32: [-(2 ** 31), 2 ** 31],
  int16: [-(2 ** 15), 2 ** 15],
  int8: [-(2 ** 7), 2 ** 7],
  uint: [0, 2 ** 64],
  uint64: [0, 2 ** 64],
  uint32: [0, 2 ** 32],
  uint16: [0, 2 ** 16],
  uint8: [0, 2 ** 8],
};

/** Each struct node's lower-cased field names, computed once per node. */
const foldedKeys = new WeakMap<object, Map<string, string>>();

function folded(node: { props: Record<string, SchemaNode> }): Map<string, string> {
  let m = foldedKeys.get(node);
  if (!m) {
    m = new Map(Object.keys(node.props).map((k) => [k.toLowerCase(), k]));
    foldedKeys.set(node, m);
  }
  return m;
}

export class GoDecoder {
  constructor(private readonly definitions: Record<string, SchemaNode>) {}

  /** Decodes a top-level value (changing it in place where Go's result differs from it). */
  decode(node: SchemaNode, value: unknown): unknown {
    return this.walk(node, value, undefined);
  }

  /** Why `value` would not decode into the named definition (for answers berthd sends), or undefined. */
  problem(definition: string, value: unknown): string | undefined {
    try {
      this.walk({ k: 'ref', ref: definition }, structuredClone(value), undefined);
      return undefined;
    } catch (e) {
      if (e instanceof GoDecodeError) return e.message;
      throw e;
    }
  }

  private resolve(node: SchemaNode): SchemaNode {
    let n = node;
    for (let i = 0; n.k === 'ref' && i < 16; i++) {
      const def = this.definitions[n.ref];
      if (!def) throw new Error(`schema: no definition ${n.ref}`);
      n = def;
    }
    return n;
  }

  goType(node: SchemaNode): string {
    const n = this.resolve(node);
    switch (n.k) {
      case 'str':
        return 'string';
      case 'bool':
        return 'bool';
      case 'int':
        return n.go;
      case 'num':
        return 'float64';
      case 'any':
        return 'interface {}';
      case 'strslice':
        return 'string';
      case 'arr':
        return `[]${this.goType(n.of)}`;
      case 'map':
        return `map[string]${this.goType(n.of)}`;
      case 'obj':
        return n.name === 'struct' ? 'struct' : n.name;
      default:
        return 'interface {}';
    }
  }

  private fail(kind: string, node: SchemaNode, at: Place | undefined): never {
    const type = this.goType(node);
    if (!at || at.path.length === 0) throw new GoDecodeError(`json: cannot unmarshal ${kind} into Go value of type ${type}`);
    throw new GoDecodeError(`json: cannot unmarshal ${kind} into Go struct field ${at.struct}.${at.path.join('.')} of type ${type}`);
  }

  private walk(node: SchemaNode, value: unknown, at: Place | undefined): unknown {
    const n = this.resolve(node);
    if (value === null || n.k === 'any') return value;
    switch (n.k) {
      case 'str':
        if (typeof value !== 'string') this.fail(jsonKind(value), n, at);
        return value;
      case 'bool':
        if (typeof value !== 'boolean') this.fail(jsonKind(value), n, at);
        return value;
      case 'num':
        if (typeof value !== 'number') this.fail(jsonKind(value), n, at);
        return value;
      case 'int': {
        if (typeof value !== 'number') this.fail(jsonKind(value), n, at);
        // the top of the range is let in: JSON.parse rounds int64's largest (2^63-1, Docker's
        // "unlimited" MemorySwap from some clients) up to 2^63
        const [lo, hi] = INT_RANGES[n.go] ?? INT_RANGES.int64;
        if (!Number.isInteger(value) || value < lo || value > hi) this.fail(`number ${String(value)}`, n, at);
        return value;
      }
      case 'strslice':
        if (typeof value === 'string') return [value];
        if (!Array.isArray(value)) this.fail(jsonKind(value), n, at);
        for (let i = 0; i < value.length; i++) {
          if (value[i] === null) value[i] = '';
          else if (typeof value[i] !== 'string') this.fail(jsonKind(value[i]), n, at);
        }
        return value;
      case 'arr': {
        if (!Array.isArray(value)) this.fail(jsonKind(value), n, at);
        for (let i = 0; i < value.length; i++) value[i] = value[i] === null ? this.zero(n.of) : this.walk(n.of, value[i], at);
        return value;
      }
      case 'map': {
        if (!isObject(value)) this.fail(jsonKind(value), n, at);
        const path = at ? at.path : [];
        for (const key of Object.keys(value)) {
          const v = value[key];
          const next = v === null ? this.zero(n.of) : this.walk(n.of, v, { struct: at?.struct ?? 'map', path: [...path, key] });
          if (next !== v) Object.defineProperty(value, key, { value: next, enumerable: true, writable: true, configurable: true });
        }
        return value;
      }
      case 'obj': {
        if (!isObject(value)) this.fail(jsonKind(value), n, at);
        const keys = folded(n);
        const path = at ? at.path : [];
        for (const key of Object.keys(value)) {
          const field = key in n.props && Object.prototype.hasOwnProperty.call(n.props, key) ? key : keys.get(key.toLowerCase());
          if (field === undefined) continue;
          const v = value[key];
          if (field !== key) delete value[key];
          if (v === null) {
            delete value[field];
            continue;
          }
          value[field] = this.walk(n.props[field], v, { struct: n.name, path: [...path, field] });
        }
        return value;
      }
      default:
        return value;
    }
  }

  /** What Go leaves in a list element or map value that was null. */
  private zero(node: SchemaNode): unknown {
    const n = this.resolve(node);
    switch (n.k) {
      case 'str':
        return '';
      case 'bool':
        return false;
      case 'int':
      case 'num':
        return 0;
      case 'obj':
        return {};
      default:
        return null;
    }
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The JSON kind as Go's errors name it. */
export function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'number':
      return 'number';
    case 'boolean':
      return 'bool';
    default:
      return 'object';
  }
}
