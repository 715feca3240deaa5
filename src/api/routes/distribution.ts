import type { ServerResponse } from 'node:http';
import { BerthError, invalid } from '../../common/errors';
import type { Router } from '../router';
import { queryInt, queryFilters, readJSONBody, sendJSON } from '../respond';
import { acceptFilters, ACCEPTED_FILTERS, filterBool } from '../../common/filters';
import type { EventBus } from '../../daemon/events';
import { parseReference, familiarName, familiarString, withDefaultTag } from '../../image/reference';
import { decodeRegistryAuth, type AuthConfig } from '../../distribution/auth';
import type { Distribution } from '../../distribution/service';
import { ProgressReporter } from '../../distribution/progress';

/**
 * A JSON message stream whose status line is written with the first message: an error
 * before that (an unknown image, refused credentials) is still an ordinary HTTP error, as
 * dockerd answers it; after that it can only be an `errorDetail` message.
 */
export class JsonMessageStream {
  private started = false;
  constructor(private readonly res: ServerResponse) {}

  send = (msg: Record<string, unknown>): void => {
    if (!this.started) {
      this.started = true;
      this.res.writeHead(200, { 'Content-Type': 'application/json' });
    }
    if (!this.res.destroyed) this.res.write(`${JSON.stringify(msg)}\r\n`);
  };

  /** Ends the stream; an error after the first message becomes the last message. */
  finish(err?: unknown): void {
    if (err !== undefined && !this.started) throw err;
    if (err !== undefined) {
      const message = err instanceof Error ? err.message : String(err);
      this.send({ errorDetail: { message }, error: message });
    }
    this.res.end();
  }
}

export interface DistributionRouteDeps {
  distribution: Distribution;
  events: EventBus;
}

export function registerDistributionRoutes(router: Router, d: DistributionRouteDeps): void {
  router.add('POST', '/images/:name*/push', async ({ req, res, params, query }) => {
    const auth = decodeRegistryAuth(req.headers['x-registry-auth']);
    const name = params.name;
    let ref;
    try {
      ref = parseReference(name);
    } catch {
      throw invalid(`invalid reference format: repository name (${name}) must be a valid reference`);
    }
    const tag = query.get('tag') ?? ref.tag ?? '';
    const stream = new JsonMessageStream(res);
    try {
      await d.distribution.push(familiarName({ ...ref, tag: undefined, digest: undefined }), tag, auth, new ProgressReporter(stream.send));
      d.events.publish('image', 'push', familiarString(withDefaultTag({ ...ref, tag: tag || ref.tag })), { name: familiarName({ ...ref, tag: undefined, digest: undefined }) });
      stream.finish();
    } catch (e) {
      stream.finish(e);
    }
  });

  router.add('POST', '/auth', async ({ req, res }) => {
    const auth = await readJSONBody<AuthConfig>(req);
    try {
      await d.distribution.login(auth ?? {});
    } catch (e) {
      if (e instanceof BerthError) throw e;
      throw new BerthError('UNAUTHORIZED', (e as Error).message);
    }
    sendJSON(res, 200, { Status: 'Login Succeeded', IdentityToken: '' });
  });

  router.add('GET', '/images/search', async ({ req, res, query }) => {
    const term = query.get('term') ?? '';
    const limit = queryInt(query, 'limit') ?? 25;
    if (limit < 1 || limit > 100) throw invalid(`limit ${limit} is outside the range of [1, 100]`);
    const filters = queryFilters(query);
    acceptFilters(filters, ACCEPTED_FILTERS.imageSearch);
    const official = filters.has('is-official') ? filterBool(filters, 'is-official', false) : undefined;
    // no registry marks an image automated any more (Docker: is_automated is always false)
    const automated = filters.has('is-automated') ? filterBool(filters, 'is-automated', false) : undefined;
    let results = await d.distribution.search(term, limit, decodeRegistryAuth(req.headers['x-registry-auth']));
    if (official !== undefined) results = results.filter((r) => r.is_official === official);
    if (automated === true) results = [];
    const stars = filters.get('stars')?.[0];
    if (stars !== undefined) {
      const n = Number(stars);
      if (!Number.isInteger(n)) throw invalid(`invalid filter 'stars=${stars}'`);
      results = results.filter((r) => r.star_count >= n);
    }
    sendJSON(res, 200, results);
  });
}
