import type { AuthConfig } from '../../distribution/auth';
import type { ServerResponse } from 'node:http';
import { decompressBody } from '../decompress';
import { invalid } from '../../common/errors';
import type { Router } from '../router';
import { queryBool } from '../respond';
import type { Builder, BuildOptions } from '../../build/builder';
import { StepFailed } from '../../build/run-step';

/**
 * POST /build (Docker's legacy builder protocol): the context arrives as a tar, progress
 * leaves as a stream of JSON messages (`stream`, `aux` with the image ID, `errorDetail`),
 * which the docker CLI and `berth build` print.
 */
export function registerBuildRoutes(router: Router, builder: Builder): void {
  router.add('POST', '/build', async ({ req, res, query }) => {
    const options: BuildOptions = {
      dockerfile: query.get('dockerfile') || 'Dockerfile',
      tags: query.getAll('t'),
      buildArgs: jsonParam<Record<string, string | null>>(query.get('buildargs'), 'buildargs') ?? {},
      labels: jsonParam<Record<string, string>>(query.get('labels'), 'labels') ?? {},
      target: query.get('target') || undefined,
      noCache: queryBool(query, 'nocache'),
      quiet: queryBool(query, 'q'),
      registryAuth: decodeRegistryConfig(req.headers['x-registry-config']),
      extraHosts: query.getAll('extrahosts').flatMap((h) => h.split(',')).filter((h) => h),
      networkMode: query.get('networkmode') || undefined,
      cacheFrom: jsonParam<string[]>(query.get('cachefrom'), 'cachefrom'),
    };
    for (const t of options.tags) if (!t) throw invalid('invalid reference format');
    // As dockerd: the 200 goes out with the first message, so a build that fails before saying
    // anything (no Dockerfile, a context that is not a tar) is answered with its error status
    const begin = () => {
      if (!res.headersSent) res.writeHead(200, { 'Content-Type': 'application/json' });
    };
    // the client went away before the answer ended: Docker cancels the build
    const cancel = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) cancel.abort();
    });
    const send = (msg: Record<string, unknown>) => {
      begin();
      if (!res.destroyed) res.write(`${JSON.stringify(msg)}\r\n`);
    };
    try {
      await builder.build(decompressBody(req), options, {
        stream: (text) => send({ stream: text }),
        aux: (id) => send({ aux: { ID: id } }),
      }, cancel.signal);
    } catch (e) {
      if (!res.headersSent) throw e;
      const message = (e as Error).message;
      const code = e instanceof StepFailed ? e.exitCode : 1;
      send({ errorDetail: { code, message }, error: message });
    }
    begin();
    res.end();
  });

}

/** X-Registry-Config: base64 JSON of AuthConfigs by registry, as `docker build` sends them. */
function decodeRegistryConfig(header: string | string[] | undefined): Record<string, AuthConfig> {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8'));
  } catch {
    throw invalid('invalid X-Registry-Config header: not base64-encoded JSON');
  }
  const out: Record<string, AuthConfig> = {};
  if (!parsed || typeof parsed !== 'object') return out;
  for (const [server, auth] of Object.entries(parsed as Record<string, AuthConfig>)) {
    const host = server.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    out[/(^|\.)docker\.io$/.test(host) ? 'docker.io' : host] = auth;
  }
  return out;
}

function jsonParam<T>(v: string | null, name: string): T | undefined {
  if (!v) return undefined;
  try {
    return JSON.parse(v) as T;
  } catch {
    throw invalid(`invalid ${name}: ${v}`);
  }
}
