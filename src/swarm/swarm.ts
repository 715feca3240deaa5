/**
 * This node's part in a swarm: `init`, `join`, `leave`, and picking the role up again when
 * berthd restarts. A manager runs an etcd member (the cluster's state, Raft-replicated
 * among the managers), campaigns for leadership, and answers joins on the swarm port;
 * every node runs the agent. The node keeps only its identity, its certificate and where
 * etcd is (`<data-root>/swarm`); the cluster's state lives in etcd.
 */
import { existsSync, promises as fsp, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:https';
import { conflict, invalid, system, unavailable } from '../common/errors';
import { readJSON, writeFileAtomic, writeJSONAtomic } from '../common/fsutil';
import type { ContainerManager } from '../container/manager';
import type { NetworkManager } from '../network/manager';
import { VXLAN_PORT } from '../network/overlay';
import { parseCidr, type Cidr } from '../network/subnets';
import type { EventBus } from '../daemon/events';
import { Agent } from './cluster/agent';
import { Leader } from './cluster/leader';
import { RoutingMesh } from './cluster/mesh';
import type { ClusterNetwork, SwarmNode } from './cluster/model';
import { createNetwork, INGRESS_NAME, removeNetwork, type OverlayCreateBody } from './cluster/networks';
import { cluster } from './cluster/control';
import { ClusterStore, PREFIX, type ClusterObject, type KV } from './cluster/store';
import { addNodeUser, enableAccessControl, newPassword, setNodeAccess } from './cluster/access';
import { EtcdClient } from './etcd/client';
import { EtcdMember } from './etcd/supervisor';
import { requestJoin, startSwarmServer, SWARM_PORT, type JoinAnswer, type JoinRequest } from './join';
import { fetchTaskLogs, serveTaskLogs, type LogLine, type TaskLogQuery } from './task-logs';
import { fetchTaskSecret, serveTaskSecret } from './task-secrets';
import { caDigest, createRootCA, issueCertificate, makeJoinToken, parseJoinToken, tokensEqual } from './pki';
import { NodeKeys, newUnlockKey, parseUnlockKey, SWARM_LOCKED } from './autolock';

export const ETCD_CLIENT_PORT = 2379;
/** the node's etcd password, beside its certificate (access.ts) */
const ETCD_PASSWORD_FILE = 'etcd.password';
export const ETCD_PEER_PORT = 2380;
const ROLE_CHECK_MS = 1000;
/** how long `swarm init` waits for the new leader's first pass before it answers anyway */
const INIT_SETTLE_MS = 10_000;

/** What a node remembers of its swarm between daemon starts. */
interface LocalState {
  nodeId: string;
  clusterId: string;
  role: 'worker' | 'manager';
  advertiseAddr: string;
  listenAddr: string;
  etcdEndpoints: string[];
}

export interface SwarmDeps {
  dataRoot: string;
  containers: ContainerManager;
  network: NetworkManager;
  /** the daemon's exec root (a tmpfs on most hosts): tasks' secrets are written under it */
  execRoot: string;
  events: EventBus;
  ensureImage: (image: string) => Promise<void>;
  engineVersion: string;
  log: (msg: string) => void;
}

export const NOT_IN_SWARM = 'This node is not part of a swarm';
export const NOT_A_MANAGER = "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.";
export const ALREADY_IN_SWARM = 'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.';

/** What `swarm update` may ask besides the new spec. */
export interface SwarmUpdateFlags {
  rotateWorkerToken?: boolean;
  rotateManagerToken?: boolean;
  rotateManagerUnlockKey?: boolean;
}

export class Swarm {
  private state?: LocalState;
  private client?: EtcdClient;
  private store?: ClusterStore;
  private member?: EtcdMember;
  private agent?: Agent;
  private leader?: Leader;
  private mesh?: RoutingMesh;
  private joinServer?: Server;
  private busy = false;
  private roleTimer?: NodeJS.Timeout;
  /** the unlock key this node's files are sealed with ('' while they are plain) */
  private unlockKey = '';

  private constructor(private readonly d: SwarmDeps) {}

  private get dir(): string {
    return path.join(this.d.dataRoot, 'swarm');
  }

  /** The node's private files: where they are read, and their sealing under autolock. */
  private get keys(): NodeKeys {
    return new NodeKeys(path.join(this.dir, 'certs'), path.join(this.d.execRoot, 'swarm', 'keys'));
  }

  static async open(d: SwarmDeps): Promise<Swarm> {
    const s = new Swarm(d);
    const state = await readJSON<LocalState>(path.join(s.dir, 'state.json')).catch(() => undefined);
    if (state) {
      s.state = state;
      if (s.keys.sealed) {
        // autolock: the readable copies of a former run go, the node waits for `swarm unlock`
        await s.keys.forget();
        d.log('swarm: this node is locked (autolock): it takes part in the swarm once unlocked');
        return s;
      }
      await s.keys.load();
      // the cluster may take a moment (the other managers, etcd's own start): not fatal
      await s.activate().catch((e) => d.log(`swarm: resuming: ${(e as Error).message}`));
    }
    return s;
  }

  get local(): LocalState | undefined {
    return this.state;
  }

  /** Whether the node is in a swarm but locked: autolock is on and the daemon restarted. */
  get locked(): boolean {
    return this.state !== undefined && this.keys.locked;
  }

  /** The cluster's store, for managers only (the API's swarm, node, service and task calls). */
  managerStore(): ClusterStore {
    if (this.locked) throw unavailable(SWARM_LOCKED);
    if (!this.state || !this.store) throw unavailable(`${NOT_IN_SWARM}. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.`);
    if (this.state.role !== 'manager') throw unavailable(NOT_A_MANAGER);
    return this.store;
  }

  // ---- overlay networks (managers) ---------------------------------------------------

  async networks(): Promise<ClusterNetwork[]> {
    return cluster(async () => (await this.managerStore().snapshot()).networks);
  }

  createNetwork(body: OverlayCreateBody, localSubnets: string[], localNames: string[]): Promise<{ Id: string; Warning: string }> {
    if (!this.state) throw unavailable('This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.');
    const store = this.managerStore();
    return cluster(() => createNetwork(store, body, localSubnets, localNames));
  }

  async removeNetwork(ref: string): Promise<void> {
    const store = this.managerStore();
    const net = await cluster(() => removeNetwork(store, ref));
    // this node's own copy goes now; the others' once their agents see it gone
    await this.d.network.dropOverlay(net.ID).catch(() => undefined);
  }

  get isLeader(): boolean {
    return this.leader?.isLeader ?? false;
  }

  // ---- init -------------------------------------------------------------------------

  async init(o: { advertiseAddr?: string; listenAddr?: string; spec?: Partial<ClusterObject['Spec']>; dataPlane?: DataPlaneOptions }): Promise<string> {
    if (this.state) throw unavailable(ALREADY_IN_SWARM);
    const plane = dataPlane(o.dataPlane ?? {});
    return this.exclusive(async () => {
      const addr = resolveAdvertiseAddr(o.advertiseAddr, o.listenAddr);
      await fsp.rm(this.dir, { recursive: true, force: true });
      await fsp.mkdir(path.join(this.dir, 'certs'), { recursive: true, mode: 0o700 });
      const ca = await createRootCA(path.join(this.dir, 'certs'));
      const autolock = o.spec?.EncryptionConfig?.AutoLockManagers === true;
      const unlockKey = autolock ? newUnlockKey() : '';
      const nodeId = newSwarmId();
      const clusterId = newSwarmId();
      await this.writeCerts(ca.certPem, await issueCertificate(ca, { commonName: nodeId, organizationalUnit: 'swarm-manager', organization: clusterId, ipAddresses: [addr] }));
      await this.writeEtcdClientCert(await issueCertificate(ca, { commonName: '', organizationalUnit: 'swarm-manager', organization: clusterId, ipAddresses: [addr] }));
      this.state = { nodeId, clusterId, role: 'manager', advertiseAddr: addr, listenAddr: listenHost(o.listenAddr), etcdEndpoints: [`https://${addr}:${ETCD_CLIENT_PORT}`] };
      const etcdPassword = newPassword();
      await writeFileAtomic(path.join(this.dir, 'certs', ETCD_PASSWORD_FILE), etcdPassword, 0o600);
      await this.keys.load();
      if (unlockKey) await this.keys.seal(parseUnlockKey(unlockKey));
      this.unlockKey = unlockKey;
      try {
        await this.startMember(`${nodeId}=https://${addr}:${ETCD_PEER_PORT}`, 'new');
        this.connect();
        const now = new Date().toISOString();
        const digest = caDigest(ca.certPem);
        const cluster: ClusterObject = {
          ID: clusterId,
          Version: { Index: 0 },
          CreatedAt: now,
          UpdatedAt: now,
          Spec: defaultSpec(o.spec),
          RootCA: { CertPem: ca.certPem },
          ...plane,
        };
        await this.store!.kv.put(`${PREFIX}cluster`, JSON.stringify({ ...cluster, Version: undefined }));
        await this.store!.putSecrets({ JoinTokens: { Worker: makeJoinToken(digest), Manager: makeJoinToken(digest) }, CAKeyPem: ca.keyPem, ...(unlockKey ? { UnlockKey: unlockKey } : {}) });
        // the first manager leads from the start: its record says so, so the leader's first
        // pass has nothing to change in it
        await this.store!.create('nodes', this.nodeObject(nodeId, 'manager', addr, undefined, true));
        // Docker's swarm has its ingress network from the start (`docker network ls` shows it)
        const local = this.d.network.list();
        await createNetwork(this.store!, { Name: INGRESS_NAME, Driver: 'overlay', Ingress: true }, local.flatMap((n) => n.IPAM.Config.map((c) => c.Subnet).filter((sub) => !sub.includes(':'))), local.map((n) => n.Name).filter((n) => n !== INGRESS_NAME)).catch((e: Error) =>
          this.d.log(`swarm: the ingress network: ${e.message}`),
        );
        await enableAccessControl(this.client!, nodeId, etcdPassword);
        await writeJSONAtomic(path.join(this.dir, 'state.json'), this.state);
        await this.startRoles();
        // a client reads the node right after init and updates it with that version: the
        // leader's first writes (the node's state, its own leadership) must be behind us
        if (!(await this.leader?.settled(INIT_SETTLE_MS))) this.d.log('swarm: init returns before the leader\'s first pass');
        return nodeId;
      } catch (e) {
        await this.teardown();
        this.state = undefined;
        await this.forgetFiles();
        throw e;
      }
    });
  }

  // ---- join -------------------------------------------------------------------------

  async join(o: { remoteAddrs: string[]; token: string; advertiseAddr?: string; listenAddr?: string }): Promise<void> {
    if (this.state) throw unavailable(ALREADY_IN_SWARM);
    if (!o.remoteAddrs?.length) throw invalid('at least 1 RemoteAddr is required to join');
    parseJoinToken(o.token);
    return this.exclusive(async () => {
      const addr = resolveAdvertiseAddr(o.advertiseAddr, o.listenAddr);
      const req: JoinRequest = { token: o.token, advertiseAddr: addr, hostname: os.hostname(), nanoCPUs: os.cpus().length * 1e9, memoryBytes: os.totalmem(), engineVersion: this.d.engineVersion };
      let answer: JoinAnswer | undefined;
      let lastError: unknown;
      for (const remote of o.remoteAddrs) {
        try {
          answer = await requestJoin(remote, req);
          break;
        } catch (e) {
          lastError = e;
        }
      }
      if (!answer) throw lastError;
      await fsp.rm(this.dir, { recursive: true, force: true });
      await fsp.mkdir(path.join(this.dir, 'certs'), { recursive: true, mode: 0o700 });
      await this.writeCerts(answer.caCertPem, { certPem: answer.certPem, keyPem: answer.keyPem });
      await this.writeEtcdClientCert(answer.etcdClient);
      await writeFileAtomic(path.join(this.dir, 'certs', ETCD_PASSWORD_FILE), answer.etcdPassword, 0o600);
      // a manager that joins an autolocked swarm seals its files once its role loop reads the key
      await this.keys.load();
      this.unlockKey = '';
      this.state = { nodeId: answer.nodeId, clusterId: answer.clusterId, role: answer.role, advertiseAddr: addr, listenAddr: listenHost(o.listenAddr), etcdEndpoints: answer.etcdEndpoints };
      try {
        this.connect();
        if (answer.role === 'manager') {
          await this.startMember(answer.initialCluster!, 'existing');
          await this.becomeVoter();
          this.state.etcdEndpoints = [`https://${addr}:${ETCD_CLIENT_PORT}`, ...answer.etcdEndpoints.filter((e) => !e.includes(`//${addr}:`))];
          this.client?.close();
          this.connect();
        }
        await writeJSONAtomic(path.join(this.dir, 'state.json'), this.state);
        await this.startRoles();
      } catch (e) {
        // a member that never became a voter must not stay behind as a learner
        if (answer.role === 'manager') await this.removeOwnMember().catch((err: Error) => this.d.log(`swarm: removing this node's etcd member after the failed join: ${err.message}`));
        await this.teardown();
        this.state = undefined;
        await this.forgetFiles();
        throw e;
      }
    });
  }

  /** A manager's answer to a node that asks to join. */
  private async admit(req: JoinRequest): Promise<JoinAnswer> {
    const store = this.managerStore();
    const snap = await store.snapshot();
    const cluster = snap.cluster;
    const secrets = (await store.getSecrets())?.secrets;
    if (!cluster || !secrets) throw unavailable('the swarm is not ready yet');
    const secret = parseJoinToken(req.token);
    const role = tokensEqual(req.token, secrets.JoinTokens.Manager) ? 'manager' : tokensEqual(req.token, secrets.JoinTokens.Worker) ? 'worker' : undefined;
    if (!role || secret.caDigest !== caDigest(cluster.RootCA.CertPem)) {
      throw invalid('rpc error: code = InvalidArgument desc = A valid join token is necessary to join this cluster');
    }
    if (!req.advertiseAddr) throw invalid('the joining node has no address to advertise');
    if (snap.nodes.some((n) => n.Status.Addr === req.advertiseAddr && snap.alive.has(n.ID))) {
      throw conflict(`a node with address ${req.advertiseAddr} is already part of the swarm`);
    }
    const nodeId = newSwarmId();
    const issued = await issueCertificate({ certPem: cluster.RootCA.CertPem, keyPem: secrets.CAKeyPem }, { commonName: nodeId, organizationalUnit: `swarm-${role}`, organization: cluster.ID, ipAddresses: [req.advertiseAddr] });
    const managers = snap.nodes.filter((n) => n.Spec.Role === 'manager' && n.ManagerStatus);
    // the node is recorded first: once a new member is added, writes wait for it to start
    const node = this.nodeObject(nodeId, role, req.advertiseAddr, { hostname: req.hostname, nanoCPUs: req.nanoCPUs, memoryBytes: req.memoryBytes, engineVersion: req.engineVersion });
    await store.create('nodes', node);
    const etcdPassword = await addNodeUser(this.client!, nodeId, role);
    const etcdClient = await issueCertificate({ certPem: cluster.RootCA.CertPem, keyPem: secrets.CAKeyPem }, { commonName: '', organizationalUnit: `swarm-${role}`, organization: cluster.ID, ipAddresses: [req.advertiseAddr] });
    let initialCluster: string | undefined;
    if (role === 'manager') {
      const peer = `https://${req.advertiseAddr}:${ETCD_PEER_PORT}`;
      const client = this.client!;
      const before = await client.memberList();
      // a learner first: it counts towards no quorum until it has started and caught up, so
      // a join that fails half-way cannot leave the cluster waiting on a member that never came
      await addLearner(client, peer);
      initialCluster = [...before.map((m) => `${m.name}=${m.peerURLs[0]}`), `${nodeId}=${peer}`].join(',');
    }
    return {
      nodeId,
      clusterId: cluster.ID,
      role,
      caCertPem: cluster.RootCA.CertPem,
      certPem: issued.certPem,
      keyPem: issued.keyPem,
      etcdPassword,
      etcdClient,
      etcdEndpoints: managers.map((m) => `https://${m.Status.Addr}:${ETCD_CLIENT_PORT}`),
      initialCluster,
    };
  }

  // ---- leave ------------------------------------------------------------------------

  async leave(force: boolean): Promise<void> {
    const state = this.state;
    if (!state) throw unavailable(NOT_IN_SWARM);
    if (this.locked && !force) throw unavailable('Swarm is encrypted and locked. Please unlock it first or use `--force` to ignore this message.');
    if (state.role === 'manager' && !force) {
      throw unavailable(
        'You are attempting to leave the swarm on a node that is participating as a manager. Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message.',
      );
    }
    return this.exclusive(async () => {
      if (state.role === 'manager' && this.client) {
        // a manager that leaves takes its etcd member out of the cluster, if others remain
        try {
          const members = await this.client.memberList();
          const me = members.find((m: { name?: string }) => m.name === state.nodeId) as { ID?: string; id?: string } | undefined;
          if (members.length > 1 && me) await this.client.memberRemove(String(me.ID ?? me.id));
        } catch (e) {
          this.d.log(`swarm: leaving etcd: ${(e as Error).message}`);
        }
      }
      await this.teardown(true);
      this.state = undefined;
      await this.forgetFiles();
    });
  }

  /** The node's swarm files, its private files' readable copies too. */
  private async forgetFiles(): Promise<void> {
    await fsp.rm(this.dir, { recursive: true, force: true });
    await this.keys.forget();
    this.unlockKey = '';
  }

  // ---- autolock -------------------------------------------------------------------------

  /** The swarm's unlock key ('' when autolock is off): managers only. */
  async getUnlockKey(): Promise<string> {
    const store = this.managerStore();
    return (await cluster(() => store.getSecrets()))?.secrets.UnlockKey ?? '';
  }

  /**
   * `swarm unlock`: the node's files opened with the key, then the node takes its part in
   * the swarm as after any start. Docker's answers: not in a swarm (503), not locked (409),
   * not a key (400), the wrong key (401).
   */
  async unlock(keyText: string): Promise<void> {
    if (!this.state) throw unavailable(NOT_IN_SWARM);
    if (!this.locked) throw conflict('swarm is not locked');
    const key = parseUnlockKey(keyText);
    await this.exclusive(async () => {
      await this.keys.open(key);
      this.unlockKey = keyText.trim();
      try {
        await this.activate();
      } catch (e) {
        // locked again, as before: the next unlock tries anew
        await this.teardown();
        await this.keys.forget();
        throw system(`swarm component could not be started: ${(e as Error).message}`, e);
      }
    });
  }

  /**
   * `swarm update`: the new spec (merged over the current one), join tokens and the unlock
   * key rotated on request. Turning autolock on makes a key, off drops it; this node seals
   * or unseals its files now, the other managers within a role check (followRole).
   */
  async update(version: number, spec: Partial<ClusterObject['Spec']> | undefined, flags: SwarmUpdateFlags): Promise<void> {
    const store = this.managerStore();
    await cluster(async () => {
      const c = await store.getObject<ClusterObject>('cluster');
      const s = await store.getSecrets();
      if (!c || !s) throw invalid('the swarm is not ready yet');
      const digest = caDigest(c.RootCA.CertPem);
      const next: ClusterObject = { ...c, Spec: spec ? { ...c.Spec, ...spec } : c.Spec, UpdatedAt: new Date().toISOString() };
      if (!(await store.replace('cluster', next, version))) throw invalid(`rpc error: code = Unknown desc = update out of sequence`);
      const tokens = s.secrets.JoinTokens;
      const autolock = next.Spec.EncryptionConfig?.AutoLockManagers === true;
      const unlockKey = autolock ? (flags.rotateManagerUnlockKey || !s.secrets.UnlockKey ? newUnlockKey() : s.secrets.UnlockKey) : undefined;
      const { UnlockKey: _old, ...rest } = s.secrets;
      await store.putSecrets({
        ...rest,
        JoinTokens: { Worker: flags.rotateWorkerToken ? makeJoinToken(digest) : tokens.Worker, Manager: flags.rotateManagerToken ? makeJoinToken(digest) : tokens.Manager },
        ...(unlockKey ? { UnlockKey: unlockKey } : {}),
      });
    });
    await this.followUnlockKey();
  }

  /** Seals this node's files with the swarm's unlock key, again with a new one, or unseals them: a manager's follow the cluster's key, a worker's are plain. */
  private async followUnlockKey(): Promise<void> {
    const s = this.state;
    if (!s || !this.store || this.locked) return;
    const wanted = s.role === 'manager' ? ((await this.store.getSecrets())?.secrets.UnlockKey ?? '') : '';
    if (wanted === this.unlockKey) return;
    if (wanted) await this.keys.seal(parseUnlockKey(wanted));
    else await this.keys.unseal();
    this.unlockKey = wanted;
    this.d.log(wanted ? 'swarm: this node\'s files are sealed with the swarm\'s unlock key' : 'swarm: autolock is off: this node\'s files are plain');
  }

  /** Stops what the swarm runs on this node (daemon shutdown keeps the state for next time). */
  async close(): Promise<void> {
    await this.teardown(false);
  }

  // ---- inner workings -----------------------------------------------------------------

  private async activate(): Promise<void> {
    const s = this.state!;
    if (s.role === 'manager') await this.startMember(undefined, undefined);
    this.connect();
    await this.startRoles();
  }

  private connect(): void {
    const certs = path.join(this.dir, 'certs');
    let password: string | undefined;
    try {
      password = readFileSync(this.keys.path(ETCD_PASSWORD_FILE), 'utf8').trim();
    } catch {
      // a node of a swarm made before etcd's access control
    }
    const unnamed = existsSync(path.join(certs, 'etcd-client.crt'));
    this.client = new EtcdClient({
      endpoints: this.state!.etcdEndpoints,
      tls: { caFile: path.join(certs, 'ca.crt'), certFile: path.join(certs, unnamed ? 'etcd-client.crt' : 'node.crt'), keyFile: this.keys.path(unnamed ? 'etcd-client.key' : 'node.key') },
      credentials: password ? { user: this.state!.nodeId, password } : undefined,
    });
    this.store = new ClusterStore(this.client as unknown as KV);
  }

  private async startMember(initialCluster: string | undefined, clusterState: 'new' | 'existing' | undefined): Promise<void> {
    const s = this.state!;
    const certs = path.join(this.dir, 'certs');
    this.member = new EtcdMember();
    await this.member.start({
      name: s.nodeId,
      dataDir: path.join(this.dir, 'etcd'),
      advertiseAddress: s.advertiseAddr,
      clientPort: ETCD_CLIENT_PORT,
      peerPort: ETCD_PEER_PORT,
      tls: { caFile: path.join(certs, 'ca.crt'), certFile: path.join(certs, 'node.crt'), keyFile: this.keys.path('node.key') },
      clientTls: existsSync(path.join(certs, 'etcd-client.crt')) ? { caFile: path.join(certs, 'ca.crt'), certFile: path.join(certs, 'etcd-client.crt'), keyFile: this.keys.path('etcd-client.key') } : undefined,
      initialCluster: initialCluster ?? '',
      initialClusterState: clusterState ?? 'existing',
      log: this.d.log,
    });
    await this.member.ready();
  }

  /** Whether this cluster's etcd has access control (swarms made since it came have). */
  private get hasAccessControl(): boolean {
    return existsSync(this.keys.path(ETCD_PASSWORD_FILE));
  }

  private newLeader(): Leader {
    const client = this.client!;
    const access = this.hasAccessControl ? (nodeId: string, role: 'manager' | 'worker') => setNodeAccess(client, nodeId, role) : undefined;
    return new Leader(this.store!, this.state!.nodeId, this.d.log, access);
  }

  /** A removed node's etcd user goes. */
  async forgetNodeUser(nodeId: string): Promise<void> {
    if (!this.hasAccessControl || !this.client) return;
    await this.client.userDelete(nodeId).catch((e: Error) => this.d.log(`swarm: removing the etcd user of ${nodeId}: ${e.message}`));
  }

  /** This node's etcd member, a learner that has started, made a voting member once it has caught up. */
  private async becomeVoter(timeoutMs = 30_000): Promise<void> {
    const peer = `https://${this.state!.advertiseAddr}:${ETCD_PEER_PORT}`;
    const client = this.client!;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const me = (await client.memberList()).find((m) => m.peerURLs.includes(peer));
      if (!me) throw new Error("this node's etcd member is not in the cluster");
      if (!me.isLearner) return;
      try {
        await client.memberPromote(me.ID);
        return;
      } catch (e) {
        if (Date.now() > deadline || !/in sync|not ready|learner/i.test((e as Error).message)) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  private async removeOwnMember(): Promise<void> {
    const peer = `https://${this.state!.advertiseAddr}:${ETCD_PEER_PORT}`;
    const me = (await this.client!.memberList()).find((m) => m.peerURLs.includes(peer));
    if (me) await this.client!.memberRemove(me.ID);
  }

  private newAgent(): Agent {
    const s = this.state!;
    return new Agent({
      store: this.store!,
      nodeId: s.nodeId,
      advertiseAddr: s.advertiseAddr,
      containers: this.d.containers,
      network: this.d.network,
      events: this.d.events,
      ensureImage: this.d.ensureImage,
      filesDir: path.join(this.d.execRoot, 'swarm', 'task-files'),
      fetchSecret: async (taskId, secretId, managers) => fetchTaskSecret({ managers, port: SWARM_PORT, taskId, secretId, tls: await this.tls() }),
      log: this.d.log,
    });
  }

  private async startRoles(): Promise<void> {
    const s = this.state!;
    this.agent = this.newAgent();
    await this.agent.start();
    this.mesh = new RoutingMesh(this.store!, this.d.log);
    this.mesh.start();
    if (s.role === 'manager') {
      this.leader = this.newLeader();
      this.leader.start();
    }
    const tls = await this.tls();
    this.joinServer = await startSwarmServer({
      host: s.listenAddr,
      port: SWARM_PORT,
      keyPem: tls.key,
      certPem: tls.cert,
      caPem: tls.ca,
      // the role may change while the server runs (promote, demote)
      handle: (req) => (this.state?.role === 'manager' ? this.admit(req) : Promise.reject(unavailable('This node is not a swarm manager: join through a manager'))),
      logs: (containerId, q, req, res) => serveTaskLogs(this.d.containers, containerId, logQuery(q), req, res),
      secret: async (taskId, secretId, req, res) => {
        if (this.state?.role !== 'manager' || !this.store) {
          res.writeHead(503, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ message: 'This node is not a swarm manager' }));
          return;
        }
        await serveTaskSecret(this.store, taskId, secretId, req, res);
      },
      log: this.d.log,
    });
    this.roleTimer = setInterval(() => void this.followRole(), ROLE_CHECK_MS);
  }

  /**
   * `node promote` and `node demote` change the role in the cluster's record of this node;
   * the node itself then adds or removes its etcd member and starts or stops leading.
   */
  private async followRole(): Promise<void> {
    const s = this.state;
    if (!s || !this.store || this.busy) return;
    // tried again within a second: a cluster without quorum would fill the log
    await this.followUnlockKey().catch(() => undefined);
    const node = await this.store.getObject<SwarmNode>('nodes', s.nodeId).catch(() => undefined);
    if (!node || node.Spec.Role === s.role) return;
    await this.exclusive(async () => {
      if (node.Spec.Role === 'manager') await this.promoteSelf();
      else await this.demoteSelf();
    }).catch((e) => this.d.log(`swarm: becoming a ${node.Spec.Role}: ${(e as Error).message}`));
  }

  private async promoteSelf(): Promise<void> {
    const s = this.state!;
    const client = this.client!;
    const peer = `https://${s.advertiseAddr}:${ETCD_PEER_PORT}`;
    let members = await client.memberList();
    if (!members.some((m) => m.peerURLs.includes(peer))) {
      await addLearner(client, peer);
      members = await client.memberList();
    }
    const initialCluster = members.map((m) => `${m.name || s.nodeId}=${m.peerURLs[0]}`).join(',');
    await fsp.rm(path.join(this.dir, 'etcd'), { recursive: true, force: true });
    try {
      await this.startMember(initialCluster, 'existing');
      await this.becomeVoter();
    } catch (e) {
      await this.removeOwnMember().catch(() => undefined);
      await this.member?.stop().catch(() => undefined);
      this.member = undefined;
      throw e;
    }
    s.role = 'manager';
    s.etcdEndpoints = [`https://${s.advertiseAddr}:${ETCD_CLIENT_PORT}`, ...s.etcdEndpoints.filter((e) => !e.includes(`//${s.advertiseAddr}:`))];
    await writeJSONAtomic(path.join(this.dir, 'state.json'), s);
    this.leader = this.newLeader();
    this.leader.start();
    await this.store!.mutate<SwarmNode>('nodes', s.nodeId, (n) => ({ ...n, ManagerStatus: { Leader: false, Reachability: 'reachable', Addr: `${s.advertiseAddr}:${SWARM_PORT}` } }));
    this.d.log('swarm: this node is now a manager');
  }

  private async demoteSelf(): Promise<void> {
    const s = this.state!;
    await this.leader?.stop().catch(() => undefined);
    this.leader = undefined;
    const peer = `https://${s.advertiseAddr}:${ETCD_PEER_PORT}`;
    const me = (await this.client!.memberList()).find((m) => m.peerURLs.includes(peer));
    const others = (await this.client!.memberList()).filter((m) => !m.peerURLs.includes(peer)).flatMap((m) => m.clientURLs ?? []);
    if (me) await this.client!.memberRemove(me.ID);
    await this.member?.stop().catch(() => undefined);
    this.member = undefined;
    await fsp.rm(path.join(this.dir, 'etcd'), { recursive: true, force: true });
    s.role = 'worker';
    s.etcdEndpoints = others.length ? others : s.etcdEndpoints.filter((e) => !e.includes(`//${s.advertiseAddr}:`));
    await writeJSONAtomic(path.join(this.dir, 'state.json'), s);
    // reconnect to the remaining members only
    await this.agent?.stop(false).catch(() => undefined);
    this.mesh?.stop();
    this.client?.close();
    this.connect();
    this.agent = this.newAgent();
    await this.agent.start();
    this.mesh = new RoutingMesh(this.store!, this.d.log);
    this.mesh.start();
    await this.store!.mutate<SwarmNode>('nodes', s.nodeId, (n) => {
      const { ManagerStatus: _m, ...rest } = n;
      return rest as SwarmNode;
    });
    this.d.log('swarm: this node is now a worker');
  }

  private async teardown(removeTasks = false): Promise<void> {
    clearInterval(this.roleTimer);
    this.mesh?.stop();
    this.mesh = undefined;
    await this.agent?.stop(removeTasks).catch(() => undefined);
    await this.leader?.stop().catch(() => undefined);
    await new Promise<void>((r) => (this.joinServer ? this.joinServer.close(() => r()) : r()));
    this.joinServer?.closeAllConnections?.();
    await this.member?.stop().catch(() => undefined);
    this.agent = undefined;
    this.leader = undefined;
    this.joinServer = undefined;
    this.member = undefined;
    this.client = undefined;
    this.store = undefined;
  }

  private async tls(): Promise<{ ca: string; cert: string; key: string }> {
    const certs = path.join(this.dir, 'certs');
    return {
      ca: await fsp.readFile(path.join(certs, 'ca.crt'), 'utf8'),
      cert: await fsp.readFile(path.join(certs, 'node.crt'), 'utf8'),
      key: await fsp.readFile(this.keys.path('node.key'), 'utf8'),
    };
  }

  /** The log of a task, read from the node that runs it. */
  async *taskLogs(nodeAddr: string, containerId: string, q: TaskLogQuery, aborted: Promise<void>): AsyncGenerator<LogLine> {
    yield* fetchTaskLogs({ addr: nodeAddr, port: SWARM_PORT, containerId, q, tls: await this.tls(), aborted });
  }

  /** The certificate the node shows etcd: unnamed (see pki.ts), the node's user is in its token. */
  private async writeEtcdClientCert(c: { certPem: string; keyPem: string }): Promise<void> {
    const certs = path.join(this.dir, 'certs');
    await writeFileAtomic(path.join(certs, 'etcd-client.crt'), c.certPem, 0o644);
    await writeFileAtomic(path.join(certs, 'etcd-client.key'), c.keyPem, 0o600);
  }

  private async writeCerts(caPem: string, node: { certPem: string; keyPem: string }): Promise<void> {
    const certs = path.join(this.dir, 'certs');
    await writeFileAtomic(path.join(certs, 'ca.crt'), caPem, 0o644);
    await writeFileAtomic(path.join(certs, 'node.crt'), node.certPem, 0o644);
    await writeFileAtomic(path.join(certs, 'node.key'), node.keyPem, 0o600);
  }

  private nodeObject(id: string, role: 'worker' | 'manager', addr: string, desc?: { hostname: string; nanoCPUs: number; memoryBytes: number; engineVersion: string }, leader = false): SwarmNode {
    const now = new Date().toISOString();
    return {
      ID: id,
      Version: { Index: 0 },
      CreatedAt: now,
      UpdatedAt: now,
      Spec: { Role: role, Availability: 'active', Labels: {} },
      Description: {
        Hostname: desc?.hostname ?? os.hostname(),
        Platform: { Architecture: process.arch === 'x64' ? 'x86_64' : process.arch, OS: 'linux' },
        Resources: { NanoCPUs: desc?.nanoCPUs ?? os.cpus().length * 1e9, MemoryBytes: desc?.memoryBytes ?? os.totalmem() },
        Engine: { EngineVersion: desc?.engineVersion ?? this.d.engineVersion },
      },
      Status: { State: 'ready', Addr: addr },
      ManagerStatus: role === 'manager' ? { Leader: leader, Reachability: 'reachable', Addr: `${addr}:${SWARM_PORT}` } : undefined,
    };
  }

  /** One init, join or leave at a time. */
  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.busy) throw unavailable('another swarm operation is in progress on this node');
    this.busy = true;
    try {
      return await fn();
    } finally {
      this.busy = false;
    }
  }
}

/** Docker's swarm IDs: 25 lowercase base-36 characters. */
export function newSwarmId(): string {
  let s = '';
  while (s.length < 25) s += BigInt('0x' + randomBytes(16).toString('hex')).toString(36);
  return s.slice(0, 25);
}

function listenHost(listenAddr: string | undefined): string {
  if (!listenAddr) return '0.0.0.0';
  const host = listenAddr.replace(/:\d+$/, '');
  return host || '0.0.0.0';
}

/**
 * The address other nodes reach this one at: the one given (an address, or an interface
 * name), else the listen address, else the only non-loopback IPv4 address this host has.
 */
export function resolveAdvertiseAddr(advertise: string | undefined, listen: string | undefined): string {
  const ifaces = os.networkInterfaces();
  const pick = (given: string): string | undefined => {
    const host = given.replace(/:\d+$/, '');
    if (/^\d+\.\d+\.\d+\.\d+$/.test(host)) return host === '0.0.0.0' ? undefined : host;
    const v4 = (ifaces[host] ?? []).find((a) => a.family === 'IPv4');
    if (!v4) throw invalid(`interface ${host} has no usable IPv4 address`);
    return v4.address;
  };
  if (advertise) {
    const a = pick(advertise);
    if (a) return a;
  }
  if (listen) {
    const l = pick(listen);
    if (l) return l;
  }
  const candidates = Object.entries(ifaces).flatMap(([name, list]) => (list ?? []).filter((a) => a.family === 'IPv4' && !a.internal).map((a) => `${a.address} on ${name}`));
  if (candidates.length === 1) return candidates[0].split(' ')[0];
  if (candidates.length === 0) throw invalid('could not find the system\'s IP address - specify one with --advertise-addr');
  throw invalid(`could not choose an IP address to advertise since this system has multiple addresses on different interfaces (${candidates.join(' and ')}) - specify one with --advertise-addr`);
}

/** What `swarm init` may say of the overlays' addresses and VXLAN port. */
export interface DataPlaneOptions {
  defaultAddrPool?: string[];
  subnetSize?: number;
  dataPathPort?: number;
}

/** The cluster's pools, subnet size and data path port, Docker's defaults where none given; refused in Docker's words. */
function dataPlane(o: DataPlaneOptions): Required<Pick<ClusterObject, 'DefaultAddrPool' | 'SubnetSize' | 'DataPathPort'>> {
  const port = o.dataPathPort || VXLAN_PORT;
  if (port < 1024 || port > 49151) throw invalid(`Datapath port number is not in valid range (1024-49151) : ${port}`);
  const size = o.subnetSize || 24;
  if (size > 29) throw invalid(`invalid subnet size ${size}: it must be at most 29`);
  const pools = o.defaultAddrPool?.length ? o.defaultAddrPool : ['10.0.0.0/8'];
  for (const p of pools) {
    let pool: Cidr;
    try {
      pool = parseCidr(p);
    } catch {
      throw invalid(`invalid default address pool ${p}: it must be an IPv4 CIDR`);
    }
    if (pool.bits > size) throw invalid(`invalid default address pool ${p}: its subnet size ${size} is larger than the pool`);
  }
  return { DefaultAddrPool: pools, SubnetSize: size, DataPathPort: port };
}

function defaultSpec(given: Partial<ClusterObject['Spec']> = {}): ClusterObject['Spec'] {
  return {
    Name: 'default',
    Labels: {},
    Orchestration: { TaskHistoryRetentionLimit: 5 },
    Raft: { SnapshotInterval: 10000, KeepOldSnapshots: 0, LogEntriesForSlowFollowers: 500, ElectionTick: 10, HeartbeatTick: 1 },
    Dispatcher: { HeartbeatPeriod: 5_000_000_000 },
    CAConfig: { NodeCertExpiry: 7_776_000_000_000_000 },
    TaskDefaults: {},
    EncryptionConfig: { AutoLockManagers: false },
    ...given,
    ...(given.Orchestration ? { Orchestration: { TaskHistoryRetentionLimit: 5, ...given.Orchestration } } : {}),
  } as ClusterObject['Spec'];
}

function logQuery(q: URLSearchParams): TaskLogQuery {
  const tail = q.get('tail');
  const since = q.get('since');
  return {
    stdout: q.get('stdout') !== 'false',
    stderr: q.get('stderr') !== 'false',
    follow: q.get('follow') === 'true',
    tail: tail !== null && tail !== '' && Number.isFinite(Number(tail)) ? Number(tail) : undefined,
    since: since !== null && since !== '' && Number.isFinite(Number(since)) ? Number(since) : undefined,
  };
}

/**
 * Adds a learner member. etcd takes one learner at a time: one left by a join that died
 * before its member started (it has no name yet) is removed to make room.
 */
async function addLearner(client: EtcdClient, peer: string): Promise<void> {
  try {
    await client.memberAdd([peer], { learner: true });
  } catch (e) {
    if (!/too many learner/i.test((e as Error).message)) throw e;
    for (const m of await client.memberList()) if (m.isLearner && !m.name) await client.memberRemove(m.ID);
    await client.memberAdd([peer], { learner: true });
  }
}
