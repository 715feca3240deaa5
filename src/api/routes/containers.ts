import type { Duplex } from 'node:stream';
import type { ServerResponse } from 'node:http';
import { BerthError, conflict, invalid, notFound } from '../../common/errors';
import type { ContainerCreateBody } from '../types';
import type { Router } from '../router';
import { queryBool, queryFilters, queryInt, readJSONBody, sendJSON, sendNoContent } from '../respond';
import { startRawStream } from '../server';
import { requireAttachSockets } from '../../runtime/attach-socket';
import { answerProblem } from '../validate';
import { drainedOrClosed, frame, frameAll, writeOrDrop } from '../stream';
import type { ContainerManager, WaitCondition } from '../../container/manager';
import type { ContainerRecord } from '../../container/model';
import type { ContainerUpdateBody } from '../../container/update';
import { containerInspect, containerSummary } from '../../container/present';
import { filterContainers } from '../../container/list-filter';
import { parseTimeArg } from '../../common/time';
import { readLogBatches, readLogs } from '../../container/logs';
import { DEFAULT_DETACH_KEYS, KeySequenceDetector, parseDetachKeys } from '../../runtime/detach-keys';
import type { ImageStore } from '../../image/store';
import type { Snapshotter } from '../../layer/snapshotter';
import type { Checkpoints } from '../../container/checkpoints';

export interface ContainerRouteDeps {
  containers: ContainerManager;
  images: ImageStore;
  snapshotter: Snapshotter;
  log?: (msg: string) => void;
  /** `start --checkpoint` is checked here before anything starts */
  checkpoints: Checkpoints;
}

export function registerContainerRoutes(router: Router, d: ContainerRouteDeps): void {
  const m = d.containers;

  router.add('POST', '/containers/create', async ({ req, res, query }) => {
    const body = await readJSONBody<ContainerCreateBody>(req);
    const name = query.get('name') ?? undefined;
    sendJSON(res, 201, await m.create(body, name));
  });

  router.add('GET', '/containers/json', async ({ res, query }) => {
    const all = queryBool(query, 'all');
    const limit = queryInt(query, 'limit') ?? -1;
    const withSize = queryBool(query, 'size');
    const filters = queryFilters(query);
    let list = m.list().sort((a, b) => Date.parse(b.Created) - Date.parse(a.Created));
    const implicitRunning = !all && limit <= 0 && !filters.has('status') && !filters.has('exited');
    if (implicitRunning) list = list.filter((c) => c.State.Running);
    list = filterContainers(list, filters, { container: (ref) => m.get(ref), imageId: (ref) => d.images.resolve(ref)?.id, network: (ref) => m.networkView.find(ref) });
    if (limit > 0) list = list.slice(0, limit);
    const out = [];
    for (const c of list) {
      // one record that cannot be shown must not take the listing away from every client
      let summary: Record<string, unknown> | undefined;
      let problem: string | undefined;
      try {
        summary = containerSummary(c, withSize ? await sizes(d, c) : undefined, m.networkView, (n) => m.volumeDir(n));
        problem = answerProblem('ContainerSummary', summary);
      } catch (e) {
        problem = (e as Error).message;
      }
      if (summary && !problem) out.push(summary);
      else (d.log ?? console.error)(`container list: skipping container ${String(c.ID)}: its record cannot be shown: ${problem}`);
    }
    sendJSON(res, 200, out);
  });

  router.add('GET', '/containers/:id/json', async ({ res, params, query }) => {
    const rec = m.get(params.id);
    const graph = await graphData(d.snapshotter, rec.ID);
    sendJSON(res, 200, containerInspect(rec, { dir: m.recordDir(rec.ID), logPath: m.logPath(rec.ID), graph }, queryBool(query, 'size') ? await sizes(d, rec) : undefined, m.networkView, (n) => m.volumeDir(n)));
  });

  router.add('POST', '/containers/:id/start', async ({ res, params, query }) => {
    const checkpoint = query.get('checkpoint');
    if (checkpoint) {
      const rec = m.get(params.id);
      if (!rec.State.Running) await d.checkpoints.refuseRestore(rec, checkpoint, query.get('checkpoint-dir') || undefined);
    }
    await m.start(params.id);
    sendNoContent(res);
  });

  router.add('POST', '/containers/:id/stop', async ({ res, params, query }) => {
    await m.stop(params.id, { timeout: queryInt(query, 't'), signal: query.get('signal') ?? undefined });
    sendNoContent(res);
  });

  router.add('POST', '/containers/:id/restart', async ({ res, params, query }) => {
    await m.restart(params.id, { timeout: queryInt(query, 't'), signal: query.get('signal') ?? undefined });
    sendNoContent(res);
  });

  router.add('POST', '/containers/:id/kill', async ({ res, params, query }) => {
    await m.kill(params.id, query.get('signal') || 'SIGKILL');
    sendNoContent(res);
  });

  router.add('POST', '/containers/:id/wait', async ({ res, params, query }) => {
    const condition = (query.get('condition') || 'not-running') as WaitCondition;
    if (!['not-running', 'next-exit', 'removed'].includes(condition)) throw invalid(`invalid condition: "${condition}"`);
    const waiting = m.wait(params.id, condition);
    // The docker CLI sends wait before start and blocks until the headers arrive.
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    const result = await waiting;
    res.end(JSON.stringify(result));
  });

  router.add('POST', '/containers/:id/rename', async ({ res, params, query }) => {
    await m.rename(params.id, query.get('name') ?? '');
    res.writeHead(204);
    res.end();
  });

  router.add('POST', '/containers/:id/update', async ({ req, res, params }) => {
    const body = await readJSONBody<ContainerUpdateBody>(req);
    sendJSON(res, 200, await m.update(params.id, body ?? {}));
  });

  router.add('POST', '/containers/:id/pause', async ({ res, params }) => {
    await m.pause(params.id);
    sendNoContent(res);
  });

  router.add('POST', '/containers/:id/unpause', async ({ res, params }) => {
    await m.unpause(params.id);
    sendNoContent(res);
  });

  router.add('GET', '/containers/:id/top', async ({ res, params, query }) => {
    sendJSON(res, 200, await m.top(params.id, query.get('ps_args') ?? '-ef'));
  });

  router.add('POST', '/containers/:id/resize', async ({ res, params, query }) => {
    await m.resize(params.id, queryInt(query, 'h') ?? 0, queryInt(query, 'w') ?? 0);
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end();
  });

  router.add('DELETE', '/containers/:id', async ({ res, params, query }) => {
    // a link's name is `parent/alias`: a container's own name is not a link to remove
    if (queryBool(query, 'link')) throw conflict('Conflict, cannot remove the default link name of the container');
    await m.remove(params.id, { force: queryBool(query, 'force'), volumes: queryBool(query, 'v') });
    sendNoContent(res);
  });

  router.add('DELETE', '/containers/:parent/:alias', async ({ res, params, query }) => {
    if (!queryBool(query, 'link')) throw notFound(`No such container: ${params.parent}/${params.alias}`);
    await m.removeLink(params.parent, params.alias);
    sendNoContent(res);
  });

  router.add('GET', '/containers/:id/logs', async (ctx) => {
    const { res, params, query } = ctx;
    const rec = m.get(params.id);
    const stdout = queryBool(query, 'stdout');
    const stderr = queryBool(query, 'stderr');
    if (!stdout && !stderr) throw invalid('You must choose at least one stream');
    // dockerd's answer for a driver it cannot read back (a 501)
    if (rec.HostConfig.LogConfig?.Type === 'none') throw new BerthError('NOT_IMPLEMENTED', 'configured logging driver does not support reading');
    const tailRaw = query.get('tail');
    const tail = tailRaw === null || tailRaw === '' || tailRaw === 'all' ? undefined : Number(tailRaw);
    if (tail !== undefined && !Number.isFinite(tail)) throw invalid(`invalid value for tail: ${tailRaw}`);
    const follow = queryBool(query, 'follow');
    const timestamps = queryBool(query, 'timestamps');
    const since = parseTime(query.get('since'));
    const until = parseTime(query.get('until'));
    const tty = rec.Config.Tty === true;
    res.writeHead(200, { 'Content-Type': tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream' });
    res.flushHeaders();
    const aborted = closed(res);
    const stopped = rec.State.Running ? m.exitPromise(rec.ID).then(() => undefined) : Promise.resolve();
    // A process started a moment ago may not have written yet: `start` answers once the
    // process is exec'd, and a client that reads the log at once (docker-py's build tests
    // run `ls -a`, start, then read) would find it empty. A read within LOGS_SETTLE_MS of the
    // start waits until the process ends or that long has passed since the start.
    const sinceStart = Date.now() - Date.parse(rec.State.StartedAt);
    if (!follow && rec.State.Running && sinceStart >= 0 && sinceStart < LOGS_SETTLE_MS) {
      await Promise.race([stopped, aborted, new Promise((r) => setTimeout(r, LOGS_SETTLE_MS - sinceStart))]);
    }
    for await (const batch of readLogBatches(m.logPath(rec.ID), { stdout, stderr, tail, since: since || undefined, until: until || undefined, follow: follow && rec.State.Running, isRunning: () => rec.State.Running, stopped, aborted })) {
      const items = batch.map((r) => ({ stream: r.stream === 'stdout' ? (1 as const) : (2 as const), payload: timestamps ? Buffer.concat([Buffer.from(`${r.time} `), r.data]) : r.data }));
      const chunk = tty ? Buffer.concat(items.map((i) => i.payload)) : frameAll(items);
      if (!res.write(chunk)) await drainedOrClosed(res);
      if (res.destroyed) break;
    }
    res.end();
  });

  router.add('POST', '/containers/:id/attach', async (ctx) => {
    const { params, query } = ctx;
    const rec = m.get(params.id);
    const stdin = queryBool(query, 'stdin');
    const stdout = queryBool(query, 'stdout');
    const stderr = queryBool(query, 'stderr');
    const stream = queryBool(query, 'stream');
    const logs = queryBool(query, 'logs');
    const detachKeys = parseDetachKeys(query.get('detachKeys') || DEFAULT_DETACH_KEYS);
    const tty = rec.Config.Tty === true;
    if (stream) requireAttachSockets();
    const out = startRawStream(ctx, tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream');
    m.publishEvent(rec, 'attach');
    const aborted = closed(out);
    const wants = (s: 'stdout' | 'stderr') => (s === 'stdout' ? stdout : stderr);
    const encode = (s: 'stdout' | 'stderr', data: Buffer) => (tty ? data : frame(s === 'stdout' ? 1 : 2, data));
    const attachedAt = Date.now();
    /** The output of the container's last run, from its log. */
    const replayRun = async () => {
      const since = (m.lastStartBegan(rec.ID) ?? runBegan(rec)) / 1000;
      for await (const r of readLogs(m.logPath(rec.ID), { stdout, stderr, since, follow: false, isRunning: () => false, stopped: Promise.resolve(), aborted })) {
        if (out.destroyed) return;
        if (wants(r.stream) && !out.write(encode(r.stream, r.data))) await drainedOrClosed(out);
      }
    };
    if (logs) {
      // the log is read at the client's pace
      for await (const r of readLogs(m.logPath(rec.ID), { stdout, stderr, follow: false, isRunning: () => false, stopped: Promise.resolve(), aborted })) {
        if (out.destroyed) return;
        if (wants(r.stream) && !out.write(encode(r.stream, r.data))) await drainedOrClosed(out);
      }
    }
    if (!stream) {
      out.end();
      return;
    }
    // a container whose process has ended before its exit is handled has no attach socket
    // left: the attach waits for the exit to be handled, and then goes as one that came after
    const began = m.lastStartBegan(rec.ID);
    // A run that ended within the second may be this client's (docker-compose's `run` starts,
    // then attaches) or the one before the run it is about to start (`docker start -a`
    // attaches, then starts, as soon as the attach is answered, which it is by now): a start
    // that comes within START_AFTER_ATTACH_MS says which.
    const replay = justExited(rec) && !(await startFollows(() => m.lastStartBegan(rec.ID) !== began, aborted));
    const conn = replay
      ? undefined
      : await m.attach(rec.ID, aborted).catch(async (e: unknown) => {
          if (!rec.State.Running || rec.State.Restarting) throw e;
          await m.exitPromise(rec.ID);
          return undefined;
        });
    if (!conn) {
      if (out.destroyed) return;
      // the client started the container and attached right after (docker-compose's `run`
      // does): dockerd would still be handling the exit, and the attach would get the run's
      // output and its end; here the exit is handled already, so the log gives that output
      if ((replay || justExited(rec)) && !logs) await replayRun();
      out.end();
      return;
    }
    // conmon's socket cannot be paused: a client that falls too far behind is let go
    let delivered = false;
    const write = (s: 'stdout' | 'stderr', data: Buffer) => {
      if (!wants(s)) return;
      delivered = true;
      if (!writeOrDrop(out, encode(s, data))) conn.close();
    };
    conn.on('stdout', (d: Buffer) => write('stdout', d));
    conn.on('stderr', (d: Buffer) => write('stderr', d));
    const input = ctx.upgradeSocket;
    if (input && stdin && rec.Config.OpenStdin) {
      // as dockerd: the detach keys are looked for in a terminal's input only
      const filter = tty ? new KeySequenceDetector(detachKeys) : undefined;
      conn.on('drain', () => input.resume());
      input.on('data', (chunk: Buffer) => {
        const { pass: forward, escaped: detached } = filter ? filter.feed(chunk) : { pass: chunk, escaped: false };
        // a container that does not read its stdin holds the client back
        if (!conn.writeStdin(forward)) input.pause();
        // detaching ends this client's stream; the container keeps running
        if (detached) conn.close();
      });
      input.on('end', () => conn.closeStdin());
    } else if (input) {
      input.on('data', () => undefined);
    }
    const ended = await Promise.race([new Promise<boolean>((resolve) => conn.once('close', () => resolve(true))), aborted.then(() => false)]);
    conn.close();
    // attached just after the start to a process that had written and ended before conmon
    // passed anything on: as an attach after the exit, the log gives that run's output
    // (only an attach that came after the start: one that waited for it, as `start -a`'s
    // does, had its stream from the first byte, and earlier runs' lines are not its own)
    const sinceStart = attachedAt - (m.lastStartBegan(rec.ID) ?? Date.parse(rec.State.StartedAt));
    if (ended && !delivered && !logs && sinceStart >= 0 && sinceStart < ATTACH_EXIT_GRACE_MS) {
      // the exit follows soon when the socket closed for it (not at all when stdin's end closed it)
      if (rec.State.Running && !rec.State.Restarting) await Promise.race([m.exitPromise(rec.ID), new Promise((r) => setTimeout(r, ATTACH_EXIT_GRACE_MS))]);
      if (justExited(rec)) await replayRun();
    }
    out.end();
  });

}

/**
 * How long after its exit an attach still belongs to the run that ended: dockerd handles an
 * exit in tens of milliseconds to a few hundred under load, and an attach that comes within
 * that gets the run's output and then its end. Later, an attach waits for the next start
 * (as `docker start -a` wants), as dockerd's does.
 */
const ATTACH_EXIT_GRACE_MS = 1000;

/**
 * StartedAt is stamped once the runtime has started the process, and a process that ends at
 * once may even have its exit handled first: its output can be older than both stamps by as
 * long as a start takes. The run's output is read from this much before them.
 */
const START_SLACK_MS = 1000;

/** How long after its start a non-following read of a running container's log waits for the process. */
const LOGS_SETTLE_MS = 100;

/** How long an attach to a container that has just exited waits to see whether a start follows. */
const START_AFTER_ATTACH_MS = 300;

/** Whether `started()` turns true within START_AFTER_ATTACH_MS (looked at every 10 ms). */
async function startFollows(started: () => boolean, aborted: Promise<unknown>): Promise<boolean> {
  let gone = false;
  void aborted.then(() => (gone = true));
  for (let waited = 0; waited < START_AFTER_ATTACH_MS && !gone; waited += 10) {
    if (started()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return started();
}

function justExited(rec: ContainerRecord): boolean {
  if (rec.State.Running || rec.State.Restarting) return false;
  const finished = Date.parse(rec.State.FinishedAt ?? '');
  const started = Date.parse(rec.State.StartedAt ?? '');
  return Number.isFinite(finished) && Number.isFinite(started) && started > 0 && Date.now() - finished < ATTACH_EXIT_GRACE_MS;
}

/** When the last run's output can begin (ms since the epoch), for a run another daemon started. */
function runBegan(rec: ContainerRecord): number {
  return Math.min(Date.parse(rec.State.StartedAt), Date.parse(rec.State.FinishedAt ?? '') || Infinity) - START_SLACK_MS;
}

/** `since`/`until` in seconds (0: unset), in the forms of Docker's GetTimestamp. */
function parseTime(v: string | null): number {
  return v ? parseTimeArg(v) / 1000 : 0;
}

function closed(s: Duplex | ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const sock = 'socket' in s && s.socket ? s.socket : (s as Duplex);
    sock.once('close', () => resolve());
  });
}

async function sizes(d: ContainerRouteDeps, c: ContainerRecord): Promise<{ rw: number; rootFs: number }> {
  const rw = await d.snapshotter.usage(c.ID).catch(() => 0);
  const img = d.images.resolve(c.Image);
  return { rw, rootFs: rw + (img?.size ?? 0) };
}

async function graphData(s: Snapshotter, id: string): Promise<Record<string, string>> {
  const mounts = await s.mounts(id).catch(() => []);
  const opts = Object.fromEntries((mounts[0]?.options ?? []).filter((o) => o.includes('=')).map((o) => o.split('=', 2) as [string, string]));
  if (s.driver === 'overlay2') {
    return { LowerDir: opts.lowerdir ?? '', UpperDir: opts.upperdir ?? '', WorkDir: opts.workdir ?? '', MergedDir: '' };
  }
  return { Dir: await s.changesDir(id).catch(() => '') };
}
