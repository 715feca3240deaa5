import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Router } from '../router';
import type { ImageStore } from '../../image/store';
import type { EventBus } from '../../daemon/events';
import { loadArchive, planSave, spoolArchive, writeSaveArchive } from '../../image/archive';

export interface ImageArchiveRouteDeps {
  images: ImageStore;
  /** where uploaded archives are spooled while they load (under the data root: layers can be large) */
  tmpDir: string;
  events?: EventBus;
}

/** GET /images/get, GET /images/{name}/get (save) and POST /images/load (load). */
export function registerImageArchiveRoutes(router: Router, d: ImageArchiveRouteDeps): void {
  const save = async (res: import('node:http').ServerResponse, names: string[]) => {
    // Resolved before the first byte, so an unknown image is a 404 and not a broken tar.
    const plan = planSave(d.images, names);
    res.writeHead(200, { 'Content-Type': 'application/x-tar' });
    try {
      await writeSaveArchive(d.images, plan, res);
    } catch {
      // Headers are out: all a client can be told is that the stream broke.
      res.destroy();
      return;
    }
    for (const { img } of plan.images) d.events?.publish('image', 'save', img.id, d.images.eventAttributes(img.id, img.id));
  };

  router.add('GET', '/images/get', ({ res, query }) => save(res, query.getAll('names').flatMap((n) => n.split(',')).filter(Boolean)));
  router.add('GET', '/images/:name*/get', ({ res, params }) => save(res, [params.name]));

  router.add('POST', '/images/load', async ({ req, res }) => {
    await fsp.mkdir(d.tmpDir, { recursive: true });
    const spool = await fsp.mkdtemp(path.join(d.tmpDir, 'load-'));
    // Docker answers 200 and reports a failed load inside the JSON stream; so does berth.
    res.writeHead(200, { 'Content-Type': 'application/json' });
    const send = (msg: object) => res.write(`${JSON.stringify(msg)}\r\n`);
    let failure: unknown;
    try {
      const archive = await spoolArchive(req, spool);
      const loaded = await loadArchive(d.images, archive, (line) => send({ stream: `${line}\n` }));
      for (const l of loaded) d.events?.publish('image', 'load', l.id, d.images.eventAttributes(l.id, l.id));
    } catch (e) {
      failure = e;
    }
    // the spool goes before the client hears of a failure: a client that stops at the error
    // line finds nothing of its upload left
    await fsp.rm(spool, { recursive: true, force: true }).catch(() => undefined);
    if (failure !== undefined) {
      const message = failure instanceof Error ? failure.message : String(failure);
      send({ errorDetail: { message }, error: message });
    }
    res.end();
  });
}
