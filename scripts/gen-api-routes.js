// Writes test/fixtures/engine-api-routes.json from the Engine API reference: every route's
// method, path template, path and query parameters with their types, and the fields of its
// JSON body (two levels deep) with theirs. The API fuzzer reads this file, so a clean clone
// needs neither the reference nor a YAML parser to run it.
//   node scripts/gen-api-routes.js [path/to/docker-engine-api-v1.50.yaml]
const fs = require('node:fs');
const path = require('node:path');
const YAML = require('yaml');

const source = process.argv[2] ?? '/work/shared/reference/docker-engine-api-v1.50.yaml';
const spec = YAML.parse(fs.readFileSync(source, 'utf8'));
const out = path.join(__dirname, '..', 'test', 'fixtures', 'engine-api-routes.json');

function resolve(schema, seen = new Set()) {
  if (!schema) return {};
  if (schema.$ref) {
    const name = schema.$ref.replace('#/definitions/', '');
    if (seen.has(name)) return {};
    return resolve(spec.definitions[name], new Set([...seen, name]));
  }
  if (schema.allOf) {
    const merged = { type: 'object', properties: {} };
    for (const part of schema.allOf) Object.assign(merged.properties, resolve(part, seen).properties ?? {});
    return merged;
  }
  return schema;
}

function typeOf(schema) {
  const s = resolve(schema);
  if (s.type) return s.type;
  if (s.properties || s.additionalProperties) return 'object';
  return 'any';
}

/** Dotted field paths of an object schema, `depth` levels deep, with their types. */
function fieldsOf(schema, depth, prefix = '') {
  const s = resolve(schema);
  const fields = {};
  for (const [name, prop] of Object.entries(s.properties ?? {})) {
    const t = typeOf(prop);
    fields[prefix + name] = t;
    if (t === 'object' && depth > 1) Object.assign(fields, fieldsOf(prop, depth - 1, `${prefix}${name}.`));
  }
  return fields;
}

const routes = [];
for (const [template, ops] of Object.entries(spec.paths)) {
  for (const [method, op] of Object.entries(ops)) {
    if (method === 'parameters') continue;
    const params = op.parameters ?? [];
    const pick = (where) => params.filter((p) => p.in === where).map((p) => ({ name: p.name, type: p.type ?? 'string', ...(p.format ? { format: p.format } : {}) }));
    const bodyParam = params.find((p) => p.in === 'body');
    const consumes = op.consumes ?? spec.consumes ?? ['application/json'];
    const body = bodyParam
      ? { contentType: consumes[0], type: typeOf(bodyParam.schema), fields: consumes[0] === 'application/json' ? fieldsOf(bodyParam.schema, 2) : {} }
      : undefined;
    routes.push({ method: method.toUpperCase(), path: template, operationId: op.operationId, pathParams: pick('path'), query: pick('query'), ...(body ? { body } : {}) });
  }
}
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify({ source: `${path.basename(source)} (swagger ${spec.info?.version ?? '?'})`, routes }, null, 1) + '\n');
console.log(`${routes.length} routes written to ${path.relative(process.cwd(), out)}`);
