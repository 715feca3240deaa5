/**
 * The Engine API's swarm endpoints: /swarm (init, join, leave, update, inspect), /nodes,
 * /services and /tasks. A worker answers the cluster's calls with Docker's 503.
 */
import { invalid } from '../../common/errors';
import type { Router } from '../router';
import { queryBool, queryFilters, queryInt, readJSONBody, sendJSON } from '../respond';
import { acceptFilters, ACCEPTED_FILTERS } from '../../common/filters';
import type { Swarm } from '../../swarm/swarm';
import { SWARM_LOCKED } from '../../swarm/autolock';
import type { ClusterObject } from '../../swarm/cluster/store';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NodeSpec, ServiceSpec, SwarmNode, Task } from '../../swarm/cluster/model';
import { drainedOrClosed, frame } from '../stream';
import {
  cluster,
  createService,
  filterNodes,
  filterServices,
  filterTasks,
  findNode,
  findService,
  findTask,
  presentService,
  presentTask,
  removeNode,
  removeService,
  serviceStatus,
  updateNode,
  updateService,
} from '../../swarm/cluster/control';

export function registerSwarmRoutes(router: Router, swarm: Swarm): void {
  const filtersOf = (q: URLSearchParams, accepted: readonly string[]) => {
    const filters = queryFilters(q);
    acceptFilters(filters, accepted);
    return Object.fromEntries(filters);
  };
  const self = () => swarm.local?.nodeId ?? '';
  const version = (q: URLSearchParams) => {
    const v = queryInt(q, 'version');
    if (v === undefined) throw invalid('invalid version: a version is required');
    return v;
  };

  router.add('GET', '/swarm', async ({ res }) => {
    const store = swarm.managerStore();
    const [c, s] = await cluster(() => Promise.all([store.getObject<ClusterObject>('cluster'), store.getSecrets()]));
    if (!c || !s) throw invalid('the swarm is not ready yet');
    sendJSON(res, 200, { ...swarmObject(c), JoinTokens: s.secrets.JoinTokens });
  });

  router.add('POST', '/swarm/init', async ({ req, res }) => {
    const body =
      (await readJSONBody<{ ListenAddr?: string; AdvertiseAddr?: string; Spec?: Partial<ClusterObject['Spec']>; ForceNewCluster?: boolean; DefaultAddrPool?: string[]; SubnetSize?: number; DataPathPort?: number }>(req)) ?? {};
    const dataPlane = { defaultAddrPool: body.DefaultAddrPool ?? undefined, subnetSize: body.SubnetSize, dataPathPort: body.DataPathPort };
    const id = await swarm.init({ advertiseAddr: body.AdvertiseAddr, listenAddr: body.ListenAddr, spec: body.Spec, dataPlane });
    sendJSON(res, 200, id);
  });

  router.add('POST', '/swarm/join', async ({ req, res }) => {
    const body = (await readJSONBody<{ ListenAddr?: string; AdvertiseAddr?: string; RemoteAddrs?: string[]; JoinToken?: string }>(req)) ?? {};
    if (!body.JoinToken) throw invalid('rpc error: code = InvalidArgument desc = A valid join token is necessary to join this cluster');
    await swarm.join({ remoteAddrs: body.RemoteAddrs ?? [], token: body.JoinToken, advertiseAddr: body.AdvertiseAddr, listenAddr: body.ListenAddr });
    res.writeHead(200);
    res.end();
  });

  router.add('POST', '/swarm/leave', async ({ res, query }) => {
    await swarm.leave(queryBool(query, 'force'));
    res.writeHead(200);
    res.end();
  });

  router.add('POST', '/swarm/update', async ({ req, res, query }) => {
    const spec = (await readJSONBody<ClusterObject['Spec']>(req)) ?? undefined;
    await swarm.update(version(query), spec, {
      rotateWorkerToken: queryBool(query, 'rotateWorkerToken'),
      rotateManagerToken: queryBool(query, 'rotateManagerToken'),
      rotateManagerUnlockKey: queryBool(query, 'rotateManagerUnlockKey'),
    });
    res.writeHead(200);
    res.end();
  });

  router.add('GET', '/swarm/unlockkey', async ({ res }) => {
    sendJSON(res, 200, { UnlockKey: await swarm.getUnlockKey() });
  });

  router.add('POST', '/swarm/unlock', async ({ req, res }) => {
    const body = (await readJSONBody<{ UnlockKey?: string }>(req)) ?? {};
    await swarm.unlock(body.UnlockKey ?? '');
    res.writeHead(200);
    res.end();
  });

  // ---- nodes

  router.add('GET', '/nodes', async ({ res, query }) => {
    const store = swarm.managerStore();
    const snap = await cluster(() => store.snapshot());
    sendJSON(res, 200, filterNodes(snap.nodes, filtersOf(query, ACCEPTED_FILTERS.nodes), self()));
  });

  router.add('GET', '/nodes/:id', async ({ res, params }) => {
    const store = swarm.managerStore();
    const snap = await cluster(() => store.snapshot());
    sendJSON(res, 200, findNode(snap, params.id, self()));
  });

  router.add('POST', '/nodes/:id/update', async ({ req, res, params, query }) => {
    const store = swarm.managerStore();
    const spec = await readJSONBody<NodeSpec>(req);
    if (!spec) throw invalid('node spec is required');
    await cluster(() => updateNode(store, params.id === 'self' ? self() : params.id, version(query), spec));
    res.writeHead(200);
    res.end();
  });

  router.add('DELETE', '/nodes/:id', async ({ res, params, query }) => {
    const store = swarm.managerStore();
    const id = await cluster(() => removeNode(store, params.id, queryBool(query, 'force'), self()));
    // its etcd user goes too: a removed node's credentials open nothing
    await swarm.forgetNodeUser(id);
    res.writeHead(200);
    res.end();
  });

  // ---- services

  router.add('GET', '/services', async ({ res, query }) => {
    const store = swarm.managerStore();
    const snap = await cluster(() => store.snapshot());
    const withStatus = queryBool(query, 'status');
    sendJSON(
      res,
      200,
      filterServices(snap.services, filtersOf(query, ACCEPTED_FILTERS.services)).map((s) => ({ ...presentService(s), ...(withStatus ? { ServiceStatus: serviceStatus(s, snap) } : {}) })),
    );
  });

  router.add('POST', '/services/create', async ({ req, res }) => {
    const store = swarm.managerStore();
    const spec = await readJSONBody<ServiceSpec>(req);
    if (!spec) throw invalid('service spec is required');
    sendJSON(res, 201, await cluster(() => createService(store, spec)));
  });

  router.add('GET', '/services/:id', async ({ res, params, query }) => {
    const store = swarm.managerStore();
    const snap = await cluster(() => store.snapshot());
    sendJSON(res, 200, presentService(findService(snap, params.id), queryBool(query, 'insertDefaults')));
  });

  router.add('POST', '/services/:id/update', async ({ req, res, params, query }) => {
    const store = swarm.managerStore();
    const spec = await readJSONBody<ServiceSpec>(req);
    const rollback = query.get('rollback') === 'previous';
    if (!spec && !rollback) throw invalid('service spec is required');
    sendJSON(res, 200, await cluster(() => updateService(store, params.id, version(query), spec as ServiceSpec, rollback)));
  });

  router.add('DELETE', '/services/:id', async ({ res, params }) => {
    const store = swarm.managerStore();
    await cluster(() => removeService(store, params.id));
    res.writeHead(200);
    res.end();
  });

  // ---- tasks

  router.add('GET', '/tasks', async ({ res, query }) => {
    const store = swarm.managerStore();
    const snap = await cluster(() => store.snapshot());
    const services = new Map(snap.services.map((s) => [s.ID, s]));
    sendJSON(res, 200, filterTasks(snap.tasks, filtersOf(query, ACCEPTED_FILTERS.tasks), snap, self()).map((t) => presentTask(t, services.get(t.ServiceID))));
  });

  /**
   * The logs of tasks, read from the nodes that run them, in Docker's multiplexed stream;
   * with `details` each line carries the task's context, which `docker service logs` shows
   * as "NAME.SLOT.TASK@NODE | ".
   */
  const logsOf = async (ctx: { req: IncomingMessage; res: ServerResponse; query: URLSearchParams }, tasks: Task[], nodes: SwarmNode[]) => {
    const { req, res, query } = ctx;
    const stdout = queryBool(query, 'stdout');
    const stderr = queryBool(query, 'stderr');
    if (!stdout && !stderr) throw invalid('You must choose at least one stream');
    const tailRaw = query.get('tail');
    const tail = tailRaw === null || tailRaw === '' || tailRaw === 'all' ? undefined : Number(tailRaw);
    const sinceRaw = query.get('since');
    const since = sinceRaw ? Number(sinceRaw) : undefined;
    const timestamps = queryBool(query, 'timestamps');
    const details = queryBool(query, 'details');
    const follow = queryBool(query, 'follow');
    res.writeHead(200, { 'Content-Type': 'application/vnd.docker.multiplexed-stream' });
    res.flushHeaders();
    const aborted = new Promise<void>((r) => req.once('close', () => r()));
    const addr = new Map(nodes.map((n) => [n.ID, n.Status.Addr]));
    await Promise.all(
      tasks.map(async (t) => {
        const cid = t.Status.ContainerStatus?.ContainerID;
        const at = t.NodeID ? addr.get(t.NodeID) : undefined;
        if (!cid || !at) return;
        const context = `com.docker.swarm.node.id=${t.NodeID},com.docker.swarm.service.id=${t.ServiceID},com.docker.swarm.task.id=${t.ID} `;
        try {
          for await (const line of swarm.taskLogs(at, cid, { stdout, stderr, follow, tail: Number.isFinite(tail) ? tail : undefined, since: Number.isFinite(since) ? since : undefined }, aborted)) {
            const payload = Buffer.concat([Buffer.from(`${timestamps ? `${line.t} ` : ''}${details ? context : ''}`), Buffer.from(line.d, 'base64')]);
            if (res.destroyed) break;
            if (!res.write(frame(line.s, payload))) await drainedOrClosed(res);
          }
        } catch {
          // a node that does not answer: its tasks' lines are missing, the others come
        }
      }),
    );
    res.end();
  };

  router.add('GET', '/services/:id/logs', async ({ req, res, params, query }) => {
    const store = swarm.managerStore();
    const snap = await cluster(() => store.snapshot());
    const svc = findService(snap, params.id);
    await logsOf({ req, res, query }, snap.tasks.filter((t) => t.ServiceID === svc.ID).sort((a, b) => (a.Slot ?? 0) - (b.Slot ?? 0)), snap.nodes);
  });

  router.add('GET', '/tasks/:id/logs', async ({ req, res, params, query }) => {
    const store = swarm.managerStore();
    const snap = await cluster(() => store.snapshot());
    await logsOf({ req, res, query }, [findTask(snap, params.id)], snap.nodes);
  });

  router.add('GET', '/tasks/:id', async ({ res, params }) => {
    const store = swarm.managerStore();
    const snap = await cluster(() => store.snapshot());
    const t = findTask(snap, params.id);
    sendJSON(res, 200, presentTask(t, snap.services.find((s) => s.ID === t.ServiceID)));
  });
}

/** The Swarm object of GET /swarm. */
function swarmObject(c: ClusterObject): Record<string, unknown> {
  return {
    ID: c.ID,
    Version: c.Version,
    CreatedAt: c.CreatedAt,
    UpdatedAt: c.UpdatedAt,
    Spec: c.Spec,
    TLSInfo: { TrustRoot: c.RootCA.CertPem, CertIssuerSubject: '', CertIssuerPublicKey: '' },
    RootRotationInProgress: false,
    DataPathPort: c.DataPathPort ?? 4789,
    DefaultAddrPool: c.DefaultAddrPool ?? ['10.0.0.0/8'],
    SubnetSize: c.SubnetSize ?? 24,
  };
}

/** /info's Swarm section for this node. */
export async function swarmInfo(swarm: Swarm): Promise<Record<string, unknown>> {
  const s = swarm.local;
  if (!s) return { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null };
  // a locked node is known by its address only, as Docker's (its identity is sealed)
  if (swarm.locked) return { NodeID: '', NodeAddr: s.advertiseAddr, LocalNodeState: 'locked', ControlAvailable: false, Error: SWARM_LOCKED, RemoteManagers: null };
  const base = { NodeID: s.nodeId, NodeAddr: s.advertiseAddr, LocalNodeState: 'active', ControlAvailable: s.role === 'manager', Error: '' };
  if (s.role !== 'manager') return { ...base, RemoteManagers: s.etcdEndpoints.map((e) => ({ NodeID: '', Addr: e.replace(/^https?:\/\//, '').replace(/:\d+$/, ':2377') })) };
  try {
    const snap = await swarm.managerStore().snapshot();
    const managers = snap.nodes.filter((n) => n.Spec.Role === 'manager');
    return {
      ...base,
      RemoteManagers: managers.map((m) => ({ NodeID: m.ID, Addr: m.ManagerStatus?.Addr ?? `${m.Status.Addr}:2377` })),
      Nodes: snap.nodes.length,
      Managers: managers.length,
      Cluster: snap.cluster ? swarmObject(snap.cluster) : undefined,
    };
  } catch (e) {
    return { ...base, Error: (e as Error).message, RemoteManagers: null };
  }
}
