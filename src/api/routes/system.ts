import type { RegistrySettings } from '../../distribution/endpoint';
import * as os from 'node:os';
import type { Router } from '../router';
import { sendJSON } from '../respond';
import { API_VERSION, MIN_API_VERSION } from '../server';
import type { ContainerManager } from '../../container/manager';
import type { ImageStore } from '../../image/store';

export interface SystemInfo {
  id: string;
  version: string;
  dataRoot: string;
  driver: string;
  cgroupVersion: 'v1' | 'v2';
  runtimes: Record<string, string>;
  defaultRuntime: string;
  debug: boolean;
  startedAt: number;
  registries: RegistrySettings;
  liveRestore: boolean;
  experimental: boolean;
}

export interface SystemRouteDeps {
  containers: ContainerManager;
  images: ImageStore;
  info: SystemInfo;
  /** /info's Swarm section and _ping's Swarm header, once swarm mode is wired in */
  swarm?: { info: () => Promise<Record<string, unknown>>; header: () => string };
}

/** The API's RegistryConfig: CIDRs and named registries that may skip TLS, and the mirrors. */
function registryConfig(r: RegistrySettings): Record<string, unknown> {
  const cidrs = ['127.0.0.0/8', ...r.insecureRegistries.filter((e) => e.includes('/'))];
  const indexConfigs: Record<string, unknown> = {
    'docker.io': { Name: 'docker.io', Mirrors: r.registryMirrors, Secure: true, Official: true },
  };
  for (const e of r.insecureRegistries.filter((x) => !x.includes('/'))) indexConfigs[e] = { Name: e, Mirrors: [], Secure: false, Official: false };
  return { AllowNondistributableArtifactsCIDRs: null, AllowNondistributableArtifactsHostnames: null, InsecureRegistryCIDRs: cidrs, IndexConfigs: indexConfigs, Mirrors: r.registryMirrors };
}

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' };

export function registerSystemRoutes(router: Router, d: SystemRouteDeps): void {
  const ping = ({ res, req }: Parameters<Parameters<Router['add']>[2]>[0]) => {
    res.writeHead(200, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Cache-Control': 'no-cache, no-store, must-revalidate',
      Pragma: 'no-cache',
      'Builder-Version': '1',
      'Swarm': d.swarm?.header() ?? 'inactive',
      'Content-Length': 2,
    });
    res.end(req.method === 'HEAD' ? undefined : 'OK');
  };
  router.add('GET', '/_ping', ping);
  router.add('HEAD', '/_ping', ping);

  router.add('GET', '/version', ({ res }) => {
    const details = {
      ApiVersion: API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: 'berth',
      GoVersion: `node${process.versions.node}`,
      Os: 'linux',
      Arch: ARCH[process.arch] ?? process.arch,
      KernelVersion: os.release(),
      BuildTime: '',
      ...(d.info.experimental ? { Experimental: 'true' } : {}),
    };
    sendJSON(res, 200, {
      Platform: { Name: 'berth' },
      Components: [{ Name: 'Engine', Version: d.info.version, Details: details }],
      Version: d.info.version,
      ...details,
      ...(d.info.experimental ? { Experimental: true } : {}),
    });
  });

  router.add('GET', '/info', async ({ res }) => {
    const swarm = d.swarm ? await d.swarm.info() : { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null };
    const all = d.containers.list();
    const running = all.filter((c) => c.State.Running && !c.State.Paused).length;
    const paused = all.filter((c) => c.State.Paused).length;
    const v1 = d.info.cgroupVersion === 'v1';
    sendJSON(res, 200, {
      ID: d.info.id,
      Containers: all.length,
      ContainersRunning: running,
      ContainersPaused: paused,
      ContainersStopped: all.length - running - paused,
      Images: d.images.list().length,
      Driver: d.info.driver,
      DriverStatus: [['Backing Filesystem', 'extfs']],
      Plugins: { Volume: ['local'], Network: ['host', 'null'], Authorization: null, Log: ['k8s-file'] },
      MemoryLimit: true,
      SwapLimit: true,
      KernelMemory: false,
      KernelMemoryTCP: false,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      CPUShares: true,
      CPUSet: true,
      PidsLimit: true,
      OomKillDisable: v1,
      IPv4Forwarding: true,
      BridgeNfIptables: false,
      BridgeNfIp6tables: false,
      Debug: d.info.debug,
      NFd: 0,
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      LoggingDriver: 'k8s-file',
      CgroupDriver: 'cgroupfs',
      CgroupVersion: v1 ? '1' : '2',
      NEventsListener: 0,
      KernelVersion: os.release(),
      OperatingSystem: 'Linux',
      OSVersion: '',
      OSType: 'linux',
      Architecture: os.machine(),
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: registryConfig(d.info.registries),
      NCPU: os.cpus().length,
      MemTotal: os.totalmem(),
      GenericResources: null,
      DockerRootDir: d.info.dataRoot,
      HttpProxy: '',
      HttpsProxy: '',
      NoProxy: '',
      Name: os.hostname(),
      Labels: [],
      ExperimentalBuild: d.info.experimental,
      ServerVersion: d.info.version,
      Runtimes: Object.fromEntries(Object.entries(d.info.runtimes).map(([k, v]) => [k, { path: v }])),
      DefaultRuntime: d.info.defaultRuntime,
      Swarm: swarm,
      LiveRestoreEnabled: d.info.liveRestore,
      Isolation: '',
      InitBinary: 'tini',
      ContainerdCommit: { ID: '', Expected: '' },
      RuncCommit: { ID: '', Expected: '' },
      InitCommit: { ID: '', Expected: '' },
      SecurityOptions: ['name=seccomp,profile=builtin', ...(v1 ? [] : ['name=cgroupns'])],
      Warnings: [],
    });
  });
}
