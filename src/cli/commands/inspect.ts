/** inspect, container inspect, image inspect, network inspect, volume inspect. */
import type { CommandContext, CommandSpec } from '../command';
import type { ParsedFlags } from '../flags';
import { EngineError } from '../../client/engine';
import type { Query } from '../../client/engine';
import { Template, TemplateError } from '../template';
import { parseInspectFormat } from '../format/render';
import { indentJson } from '../format/json-indent';
import { StatusError } from '../errors';
import { describeError } from './shared';

type ObjectType = 'container' | 'image' | 'network' | 'volume';

const knownTypes = ['config', 'container', 'image', 'network', 'node', 'plugin', 'secret', 'service', 'task', 'volume'];
const notFoundWord: Record<string, string> = { container: 'container', image: 'image', network: 'network', volume: 'volume' };

function pathFor(type: ObjectType, name: string): string {
  const n = encodeURIComponent(name);
  switch (type) {
    case 'container':
      return `/containers/${n}/json`;
    case 'image':
      return `/images/${n}/json`;
    case 'network':
      return `/networks/${n}`;
    case 'volume':
      return `/volumes/${n}`;
  }
}

/**
 * Fetches one object's raw JSON, trying each type in turn; undefined when none
 * has it. With a single type, the daemon's "no such ..." answer is the error.
 */
async function fetchRaw(ctx: CommandContext, name: string, types: ObjectType[], size: boolean, extraQuery?: Query): Promise<string | undefined> {
  for (const t of types) {
    const res = await ctx.client().requestBuffered('GET', pathFor(t, name), { query: t === 'container' ? { size, ...extraQuery } : extraQuery });
    const text = res.text();
    if (res.status === 404 && types.length > 1) continue;
    if (res.status < 200 || res.status >= 300) {
      const { errorMessageFromBody } = require('../../client/engine') as typeof import('../../client/engine');
      throw new EngineError(res.status, errorMessageFromBody(res.status, text));
    }
    return text;
  }
  return undefined;
}

async function inspectObjects(ctx: CommandContext, p: ParsedFlags, types: ObjectType[], missingWord: string, extraQuery?: Query): Promise<number> {
  const format = p.values.format as string;
  let template: Template | undefined;
  if (format && format !== 'json') {
    template = parseInspectFormat(format);
  }
  const raws: string[] = [];
  const errors: string[] = [];
  let out = '';
  for (const name of p.args) {
    let raw: string | undefined;
    try {
      raw = await fetchRaw(ctx, name, types, p.values.size as boolean, extraQuery);
    } catch (e) {
      errors.push(describeError(e));
      continue;
    }
    if (raw === undefined) {
      errors.push(`Error: No such ${missingWord}: ${name}`);
      continue;
    }
    if (!template) raws.push(raw.trim());
    else {
      try {
        out += template.execute(JSON.parse(raw), { missingKey: 'error' }) + '\n';
      } catch (e) {
        if (e instanceof TemplateError) {
          // docker ends the partial output with a newline before reporting.
          ctx.out(out + '\n');
          throw new StatusError(`template parsing error: ${e.message}`, 1);
        }
        throw e;
      }
    }
  }
  if (!template) out = raws.length ? indentJson(`[${raws.join(',')}]`) + '\n' : '[]\n';
  ctx.out(out);
  if (errors.length) {
    ctx.err(errors.join('\n') + '\n');
    return 1;
  }
  return 0;
}

const formatFlag = {
  name: 'format',
  short: 'f',
  type: 'string',
  default: '',
  help: "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates",
};

export const inspect: CommandSpec = {
  usage: '[OPTIONS] NAME|ID [NAME|ID...]',
  summary: 'Return low-level information on berth objects',
  args: { min: 1 },
  flags: [
    formatFlag,
    { name: 'size', short: 's', type: 'bool', help: 'Display total file sizes if the type is container' },
    { name: 'type', type: 'string', help: 'Only inspect objects of the given type', default: '' },
  ],
  run(ctx, p) {
    const type = p.values.type as string;
    if (type && !knownTypes.includes(type)) {
      throw new StatusError(`unknown type: ${JSON.stringify(type)}: must be one of ${knownTypes.map((t) => JSON.stringify(t)).join(', ')}`, 1);
    }
    if (type && !(type in notFoundWord)) throw new StatusError(`inspecting objects of type ${JSON.stringify(type)} is not supported by berth yet`, 1);
    const types: ObjectType[] = type ? [type as ObjectType] : ['container', 'image', 'network', 'volume'];
    return inspectObjects(ctx, p, types, type ? notFoundWord[type] : 'object');
  },
};

export const containerInspect: CommandSpec = {
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  summary: 'Display detailed information on one or more containers',
  args: { min: 1 },
  flags: [formatFlag, { name: 'size', short: 's', type: 'bool', help: 'Display total file sizes' }],
  run: (ctx, p) => inspectObjects(ctx, p, ['container'], 'container'),
};

export const imageInspect: CommandSpec = {
  usage: '[OPTIONS] IMAGE [IMAGE...]',
  summary: 'Display detailed information on one or more images',
  args: { min: 1 },
  flags: [formatFlag, { name: 'platform', type: 'string', help: 'Inspect a specific platform of the multi-platform image.', default: '' }],
  run: (ctx, p) => inspectObjects(ctx, { ...p, values: { ...p.values, size: false } }, ['image'], 'image'),
};

export const networkInspect: CommandSpec = {
  usage: '[OPTIONS] NETWORK [NETWORK...]',
  summary: 'Display detailed information on one or more networks',
  args: { min: 1 },
  flags: [formatFlag, { name: 'verbose', short: 'v', type: 'bool', help: 'Verbose output for diagnostics' }],
  run: (ctx, p) => inspectObjects(ctx, { ...p, values: { ...p.values, size: false } }, ['network'], 'network', { verbose: p.values.verbose as boolean }),
};

export const volumeInspect: CommandSpec = {
  usage: '[OPTIONS] VOLUME [VOLUME...]',
  summary: 'Display detailed information on one or more volumes',
  args: { min: 1 },
  flags: [formatFlag],
  run: (ctx, p) => inspectObjects(ctx, { ...p, values: { ...p.values, size: false } }, ['volume'], 'volume'),
};
