#!/usr/bin/env node
// Generates src/api/validate/engine-api-schema.ts from the Engine API reference:
//   node scripts/gen-api-schema.js [path/to/docker-engine-api-v1.50.yaml]
// The output is committed (CI has no copy of the reference); run this again when the
// reference changes. It keeps what a request check needs: for each operation its path,
// its query parameters and its JSON body, as Go's decoder would see them (Go types,
// struct names for error messages), with definitions shared by name.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const YAML = require('yaml');

const root = path.join(__dirname, '..');
const input = process.argv[2] || '/work/shared/reference/docker-engine-api-v1.50.yaml';
const output = path.join(root, 'src/api/validate/engine-api-schema.ts');
const spec = YAML.parse(fs.readFileSync(input, 'utf8'));

/** Fields whose Go type decodes a JSON string as a one-element list (strslice.StrSlice). */
const STRSLICE = new Set(['ContainerConfig.Cmd', 'ContainerConfig.Entrypoint', 'ContainerConfig.Shell']);

/** Go's names for the structs the reference names differently (they appear in error messages). */
const GO_NAMES = { ContainerConfig: 'Config' };

/** Query parameters the reference types as integers that dockerd reads as times (RFC 3339 or fractional seconds). */
const TIME_QUERY = new Set(['get /containers/{id}/logs since', 'get /containers/{id}/logs until', 'get /services/{id}/logs since', 'get /tasks/{id}/logs since']);

/** Query parameters that hold JSON, with the Go type dockerd decodes them into. */
const JSON_QUERY = {
  filters: { k: 'filters' },
  'post /build buildargs': { k: 'map', of: { k: 'str' }, label: 'error reading build args' },
  'post /build labels': { k: 'map', of: { k: 'str' }, label: 'error reading labels' },
  'post /build cachefrom': { k: 'arr', of: { k: 'str' }, label: 'error reading cache-from' },
  'post /build ulimits': { k: 'arr', of: { k: 'obj', name: 'Ulimit', props: { Name: { k: 'str' }, Hard: { k: 'int', go: 'int64' }, Soft: { k: 'int', go: 'int64' } } }, label: 'error reading ulimit settings' },
  'post /build outputs': { k: 'arr', of: { k: 'any' }, label: 'invalid outputs specified' },
};

/**
 * Fields the reference spells otherwise than dockerd's Go struct tags: Go's decoder folds case,
 * so either spelling is taken, but what is kept (and shown back) is Go's.
 */
const GO_FIELD_NAMES = { 'TaskSpec.HealthCheck': 'Healthcheck' };

const INT_FORMATS = new Set(['int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64']);

const definitions = {};
const building = new Set();

function refName(ref) {
  const m = /^#\/definitions\/(.+)$/.exec(ref);
  if (!m) throw new Error(`unsupported $ref ${ref}`);
  return m[1];
}

/** The schema with allOf merged into one object schema (refs inside allOf are expanded). */
function flatten(schema) {
  if (schema.$ref) return flatten(spec.definitions[refName(schema.$ref)]);
  if (!schema.allOf) return schema;
  const out = { type: 'object', properties: {} };
  for (const part of schema.allOf) {
    const p = flatten(part);
    Object.assign(out.properties, p.properties || {});
    if (p.additionalProperties !== undefined && out.additionalProperties === undefined) out.additionalProperties = p.additionalProperties;
    if (p.title && !out.title) out.title = p.title;
  }
  if (schema.title) out.title = schema.title;
  return out;
}

function defineRef(name) {
  if (!definitions[name] && !building.has(name)) {
    building.add(name);
    definitions[name] = node(spec.definitions[name], GO_NAMES[name] || name, name);
    building.delete(name);
  }
  return { k: 'ref', ref: name };
}

/**
 * One schema node: k is the Go kind (str, bool, int, num, arr, map, obj, any, strslice, ref);
 * go is the Go type name for integers; name is a struct's Go name; defName scopes overrides.
 */
function node(schema, name, defName) {
  if (!schema) return { k: 'any' };
  if (schema.$ref) return defineRef(refName(schema.$ref));
  if (schema.allOf) {
    // allOf of one non-object schema only adds a description: `Type: allOf: [$ref MountType]`
    const parts = schema.allOf.map(flatten);
    if (!parts.some((p) => p.type === 'object' || p.properties)) return node(schema.allOf[0], name, defName);
    return node(flatten(schema), schema.title || name, defName);
  }
  switch (schema.type) {
    case 'string':
      return { k: 'str' };
    case 'boolean':
      return { k: 'bool' };
    case 'integer':
      return { k: 'int', go: INT_FORMATS.has(schema.format) ? schema.format : 'int' };
    case 'number':
      return { k: 'num' };
    case 'array':
      return { k: 'arr', of: schema.items ? node(schema.items, undefined, defName) : { k: 'any' } };
    case 'object':
    case undefined: {
      if (schema.properties) {
        const props = {};
        for (const [key, sub] of Object.entries(schema.properties)) {
          const goKey = (defName && GO_FIELD_NAMES[`${defName}.${key}`]) || key;
          if (defName && STRSLICE.has(`${defName}.${key}`)) props[goKey] = { k: 'strslice' };
          else props[goKey] = node(sub, sub.title || (sub.$ref ? undefined : key), defName);
        }
        return { k: 'obj', name: schema.title || name || 'struct', props };
      }
      if (schema.additionalProperties && schema.additionalProperties !== true && Object.keys(schema.additionalProperties).length) {
        return { k: 'map', of: node(schema.additionalProperties, undefined, defName) };
      }
      return schema.type === 'object' ? { k: 'map', of: { k: 'any' } } : { k: 'any' };
    }
    default:
      throw new Error(`unsupported type ${schema.type}`);
  }
}

/** Answers berthd checks before sending, so that one bad record cannot break a listing for every client. */
const RESPONSE_DEFINITIONS = ['ContainerSummary'];
for (const name of RESPONSE_DEFINITIONS) defineRef(name);

const operations = [];
for (const [p, ops] of Object.entries(spec.paths)) {
  for (const [method, op] of Object.entries(ops)) {
    if (!op || typeof op !== 'object' || !op.responses) continue;
    const query = {};
    const params = [];
    let body;
    for (const pa of op.parameters || []) {
      const key = `${method} ${p} ${pa.name}`;
      if (pa.in === 'path') params.push(pa.name);
      if (pa.in === 'query') {
        if (JSON_QUERY[key]) query[pa.name] = { json: JSON_QUERY[key] };
        else if (pa.name === 'filters') query[pa.name] = { json: JSON_QUERY.filters };
        else if (TIME_QUERY.has(key)) query[pa.name] = { k: 'str' };
        else if (pa.type === 'integer') query[pa.name] = { k: 'int', go: INT_FORMATS.has(pa.format) ? pa.format : 'int' };
        else if (pa.type === 'boolean') query[pa.name] = { k: 'bool' };
      }
      if (pa.in === 'body' && pa.schema) {
        const s = pa.schema;
        const binary = s.type === 'string';
        if (!binary) {
          const name = p === '/containers/create' ? 'ContainerConfigWrapper' : s.title || (s.$ref ? GO_NAMES[refName(s.$ref)] || refName(s.$ref) : undefined);
          body = node(s.$ref ? flatten(s) : s, name, s.$ref ? refName(s.$ref) : p === '/containers/create' ? 'ContainerConfig' : undefined);
          if (s.$ref && body.k === 'obj') body.name = name;
        }
      }
    }
    operations.push({ method: method.toUpperCase(), path: p, params, query, ...(body ? { body } : {}) });
  }
}
// the create body is ContainerConfig plus HostConfig and NetworkingConfig: its Cmd is a strslice too
const create = operations.find((o) => o.method === 'POST' && o.path === '/containers/create');
if (create?.body?.k !== 'obj' || create.body.props.Cmd?.k !== 'strslice') throw new Error('create body: Cmd should decode as a strslice');

const banner = `// Generated by scripts/gen-api-schema.js from ${path.basename(input)} (Engine API v${spec.info.version}). Do not edit.\n`;
const text = `${banner}import type { EngineApiSchema } from './schema';\n\nexport const ENGINE_API_SCHEMA: EngineApiSchema = ${JSON.stringify({ version: spec.info.version, definitions, operations })};\n`;
fs.writeFileSync(output, text);
console.log(`${path.relative(root, output)}: ${operations.length} operations, ${Object.keys(definitions).length} definitions, ${text.length} bytes`);
