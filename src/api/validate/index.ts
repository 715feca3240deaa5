/**
 * The API's door: every request's query and JSON body are checked against the Engine API
 * reference's types (the generated engine-api-schema.ts) before its route runs, and refused
 * with dockerd's 400 and words when they do not decode. The route then reads a body that is
 * already decoded the way dockerd's Go structs would hold it (readJSONBody returns it).
 */
import type { RequestContext } from '../router';
import { readBody, setDecodedBody } from '../respond';
import { invalid } from '../../common/errors';
import { ENGINE_API_SCHEMA } from './engine-api-schema';
import { GoDecodeError, GoDecoder } from './go-decode';
import { checkQuery, goSyntaxError } from './query';
import type { EngineApiSchema, OperationSchema } from './schema';
import { parseBoundedJSON } from '../../common/json';

interface CompiledOperation {
  op: OperationSchema;
  pattern: RegExp;
  literals: number;
}

/** Image and plugin names hold slashes (`127.0.0.1:5000/team/app`): their parameter takes them. */
const GREEDY_PATHS = /^\/(images|distribution|plugins)\//;

function compile(op: OperationSchema): CompiledOperation {
  const greedy = GREEDY_PATHS.test(op.path);
  const source = op.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{\w+\}/g, () => (greedy ? '(.+)' : '([^/]+)'));
  return { op, pattern: new RegExp(`^${source}/?$`), literals: op.path.split('/').filter((s) => s && !s.startsWith('{')).length };
}

const sharedDecoder = new GoDecoder(ENGINE_API_SCHEMA.definitions);

/**
 * Why an answer berthd is about to send would not decode in a Docker client (the reference's
 * `definition`, e.g. ContainerSummary), or undefined when it would.
 */
export function answerProblem(definition: string, value: unknown): string | undefined {
  return sharedDecoder.problem(definition, value);
}

export class RequestValidator {
  private readonly byMethod = new Map<string, CompiledOperation[]>();
  private readonly decoder: GoDecoder;

  constructor(schema: EngineApiSchema = ENGINE_API_SCHEMA) {
    this.decoder = new GoDecoder(schema.definitions);
    for (const op of schema.operations) {
      const list = this.byMethod.get(op.method) ?? [];
      list.push(compile(op));
      this.byMethod.set(op.method, list);
    }
    // a literal segment wins over a parameter: /images/json is not /images/{name}
    for (const list of this.byMethod.values()) list.sort((a, b) => b.literals - a.literals);
  }

  /** The reference's operation for a method and an (unversioned) path, if it has one. */
  operation(method: string, pathname: string): OperationSchema | undefined {
    const find = (m: string) => this.byMethod.get(m)?.find((c) => c.pattern.test(pathname))?.op;
    return find(method) ?? (method === 'HEAD' ? find('GET') : undefined);
  }

  checkQuery(op: OperationSchema, query: URLSearchParams): void {
    checkQuery(query, op.query, this.decoder);
  }

  /** Parses and decodes a JSON body as dockerd would; an empty body is `{}` (an optional body left out). */
  decodeBody(op: OperationSchema, raw: Buffer): unknown {
    if (!op.body) throw new Error(`${op.method} ${op.path} has no JSON body`);
    const text = raw.toString('utf8');
    if (text.trim() === '') return {};
    let parsed: unknown;
    try {
      parsed = parseBoundedJSON(text);
    } catch (e) {
      const msg = (e as Error).message;
      if (/non-whitespace character after JSON/.test(msg)) throw invalid('unexpected content after JSON');
      throw invalid(`invalid JSON: ${goSyntaxError(e as Error, text)}`);
    }
    // Go decodes null into a struct as nothing at all: the route sees an empty body
    if (parsed === null) return {};
    try {
      return this.decoder.decode(op.body, parsed);
    } catch (e) {
      if (e instanceof GoDecodeError) throw invalid(`invalid JSON: ${e.message}`);
      throw e;
    }
  }

  /**
   * The dispatcher's step before a route: checks the query, and reads and decodes the body
   * of an operation that takes JSON (through `readUpgradeBody` on a hijacked connection).
   */
  async check(ctx: RequestContext, method: string, pathname: string, readUpgradeBody: (ctx: RequestContext) => Promise<Buffer>): Promise<void> {
    const op = this.operation(method, pathname);
    if (!op) return;
    this.checkQuery(op, ctx.query);
    if (!op.body) return;
    const raw = ctx.upgradeSocket ? await readUpgradeBody(ctx) : await readBody(ctx.req);
    setDecodedBody(ctx.req, this.decodeBody(op, raw));
  }
}
