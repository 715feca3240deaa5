/**
 * GET /containers/{id}/stats, as Docker answers it:
 * - stream (the default): a sample a second as newline-separated JSON, each carrying the
 *   previous one's CPU figures in precpu_stats, until the client goes or the container
 *   is removed; a container that is not running streams zeros.
 * - stream=false: one sample; unless one-shot, taken a second after a first one so that
 *   precpu_stats is filled. A container that is not running answers zeros at once.
 * - stream=true with one-shot=true is refused, as Docker 28 does.
 */
import type { Router } from '../router';
import { queryBool } from '../respond';
import { invalid } from '../../common/errors';
import type { ContainerManager } from '../../container/manager';
import { ZERO_TIME, emptyStats, sampleStats, type ContainerStats } from '../../container/stats';

const INTERVAL_MS = 1000;

/** What one tick of a stats answer needs to know: the container gone, or one sample of it. */
type Reading = { gone: true } | { gone: false; stats: ContainerStats };

export function registerStatsRoutes(router: Router, d: { containers: ContainerManager }): void {
  router.add('GET', '/containers/:id/stats', async ({ res, params, query }) => {
    // throws the 404 "No such container" before anything is written
    const first = d.containers.runView(params.id);
    const id = first.rec.ID;
    const stream = queryBool(query, 'stream', true);
    const oneShot = queryBool(query, 'one-shot');
    if (stream && oneShot) throw invalid('cannot have stream=true and one-shot=true');

    const sample = async (): Promise<Reading> => {
      let view: ReturnType<ContainerManager['runView']>;
      try {
        view = d.containers.runView(id);
      } catch {
        return { gone: true };
      }
      const { rec } = view;
      const st = rec.State;
      // Restarting: Running stays true between attempts, but no process exists
      if (!st.Running || st.Restarting || !(st.Pid > 0)) return { gone: false, stats: emptyStats(id, rec.Name) };
      const network = rec.HostConfig.NetworkMode !== 'host' && !rec.Config.NetworkDisabled;
      const stats = await sampleStats({ id, name: rec.Name, cgroupsPath: view.cgroupsPath, version: view.cgroupVersion, pid: st.Pid, network });
      return { gone: false, stats };
    };
    /** Docker's precpu: the previous sample's CPU figures and time, whatever it was. */
    const after = (cur: ContainerStats, prev: ContainerStats | undefined): ContainerStats => {
      if (prev) {
        cur.preread = prev.read;
        cur.precpu_stats = prev.cpu_stats;
      }
      return cur;
    };

    let closed = false;
    let timer: NodeJS.Timeout | undefined;
    let wake: (() => void) | undefined;
    /** Waits a tick; the client going away ends the wait at once (and the answer with it). */
    const tick = () =>
      new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, INTERVAL_MS);
      });
    // the client going away: no more samples, no timer left behind
    res.on('close', () => {
      closed = true;
      clearTimeout(timer);
      wake?.();
    });

    if (!stream) {
      let cur = await sample();
      let prev: ContainerStats | undefined;
      if (!oneShot && !cur.gone && cur.stats.read !== ZERO_TIME) {
        prev = cur.stats;
        await tick();
        if (closed) return;
        cur = await sample();
      }
      const out = cur.gone ? emptyStats(id, first.rec.Name) : after(cur.stats, prev);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(out) + '\n');
      return;
    }

    res.writeHead(200, { 'Content-Type': 'application/json' });
    // headers go out at once: clients wait for them before they read a sample
    res.flushHeaders();
    let prev: ContainerStats | undefined;
    while (!closed) {
      let r: Reading;
      try {
        r = await sample();
      } catch {
        // a read that failed mid-way (the container stopping): the next tick tells
        r = { gone: false, stats: emptyStats(id, prev?.name ?? first.rec.Name) };
      }
      if (closed) break;
      if (r.gone) break;
      const cur = after(r.stats, prev);
      prev = cur;
      res.write(JSON.stringify(cur) + '\n');
      await tick();
    }
    if (!res.writableEnded) res.end();
  });
}
