/**
 * GET /containers/{id}/stats: one sample (stream=false, with precpu from a second earlier
 * unless one-shot), or a sample a second as newline-separated JSON until the client goes
 * or the container is removed. A container that is not running answers zeros, as Docker's.
 */
import type { Router } from '../router';
import { queryBool } from '../respond';
import { writeOrDrop } from '../stream';
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

    const sample = async (): Promise<Reading> => {
      let view: ReturnType<ContainerManager['runView']>;
      try {
        view = d.containers.runView(id);
      } catch {
        return { gone: true };
      }
      const st = view.rec.State;
      // Restarting: Running stays true between attempts, but no process exists
      if (!st.Running || st.Restarting || !(st.Pid > 0)) return { gone: false, stats: emptyStats(id, view.rec.Name) };
      const stats = await sampleStats({ id, name: view.rec.Name, cgroupsPath: view.cgroupsPath, version: view.cgroupVersion, pid: st.Pid });
      return { gone: false, stats };
    };
    const withPrevious = (cur: ContainerStats, prev: ContainerStats | undefined): ContainerStats => {
      // a zeroed answer stays all zeros, as Docker's does
      if (prev && cur.read !== ZERO_TIME) {
        cur.precpu_stats = prev.cpu_stats;
        cur.preread = prev.read;
      }
      return cur;
    };

    if (!stream) {
      let prev: ContainerStats | undefined;
      let cur = await sample();
      if (!oneShot && !cur.gone && cur.stats.read !== ZERO_TIME) {
        prev = cur.stats;
        await delay(INTERVAL_MS);
        cur = await sample();
      }
      const out = cur.gone ? emptyStats(id, first.rec.Name) : withPrevious(cur.stats, prev);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(out) + '\n');
      return;
    }

    res.writeHead(200, { 'Content-Type': 'application/json' });
    let closed = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      res.end();
    };
    // the client going away closes the response
    res.on('close', finish);
    let prev: ContainerStats | undefined;
    const tick = async () => {
      timer = undefined;
      if (closed) return;
      try {
        const r = await sample();
        if (r.gone) return finish();
        const cur = withPrevious(r.stats, prev);
        prev = cur;
        // a sample a second whether or not the client reads: one too far behind is let go
        if (!closed && !writeOrDrop(res, JSON.stringify(cur) + '\n')) return finish();
      } catch {
        // a container stopping between reads: the next tick answers zeros
      }
      if (!closed) timer = setTimeout(() => void tick(), INTERVAL_MS);
    };
    await tick();
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
