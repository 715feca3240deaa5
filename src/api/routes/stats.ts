/**
 * GET /containers/{id}/stats: one sample (stream=false, with precpu from a second earlier
 * unless one-shot), or a sample a second as newline-separated JSON until the client goes
 * or the container is removed.
 */
import type { Router } from '../router';
import { queryBool } from '../respond';
import type { ContainerManager } from '../../container/manager';
import type { EventBus, EngineEvent } from '../../daemon/events';
import { emptyStats, sampleStats, type ContainerStats } from '../../container/stats';

const INTERVAL_MS = 1000;

export function registerStatsRoutes(router: Router, d: { containers: ContainerManager; events: EventBus }): void {
  router.add('GET', '/containers/:id/stats', async ({ req, res, params, query }) => {
    const view = d.containers.runView(params.id);
    const id = view.rec.ID;
    const name = view.rec.Name;
    const stream = queryBool(query, 'stream', true);
    const oneShot = queryBool(query, 'one-shot');
    const sample = async (): Promise<ContainerStats> => {
      const rec = d.containers.store.find(id);
      if (!rec || !rec.State.Running || rec.State.Restarting || rec.State.Pid <= 0) return emptyStats(id, name);
      return sampleStats({ id, name, cgroupsPath: view.cgroupsPath, version: view.cgroupVersion, pid: rec.State.Pid });
    };
    const withPrevious = (cur: ContainerStats, prev: ContainerStats | undefined): ContainerStats => {
      if (prev) {
        cur.precpu_stats = prev.cpu_stats;
        cur.preread = prev.read;
      }
      return cur;
    };
    res.writeHead(200, { 'Content-Type': 'application/json' });
    if (!stream) {
      let prev: ContainerStats | undefined;
      if (!oneShot) {
        prev = await sample();
        if (prev.read !== '0001-01-01T00:00:00Z') await new Promise((r) => setTimeout(r, INTERVAL_MS));
      }
      res.end(JSON.stringify(withPrevious(await sample(), prev)) + '\n');
      return;
    }
    let closed = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      d.events.off('event', onEvent);
      res.end();
    };
    const onEvent = (ev: EngineEvent) => {
      if (ev.Type === 'container' && ev.Action === 'destroy' && ev.Actor.ID === id) finish();
    };
    d.events.on('event', onEvent);
    req.on('close', finish);
    res.on('close', finish);
    let prev: ContainerStats | undefined;
    const tick = async () => {
      if (closed) return;
      try {
        const cur = withPrevious(await sample(), prev);
        prev = cur;
        if (!closed) res.write(JSON.stringify(cur) + '\n');
      } catch {
        // a container that just stopped: the next tick reads zeros
      }
      if (!closed) timer = setTimeout(() => void tick(), INTERVAL_MS);
    };
    await tick();
  });
}
