/**
 * What a project's own tests do with testcontainers, one scenario per run:
 * `node scenarios.js NAME` runs scenario NAME and prints its result as one JSON line after
 * "RESULT ". testcontainers.test.ts runs each in a process of its own inside the daemon's
 * network namespace, with DOCKER_HOST naming the daemon, as a test process on a Docker host
 * runs beside its daemon: testcontainers reaches mapped ports (its wait strategies, its
 * reaper's session socket) from the process that uses it.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { extract } from 'tar-stream';
import { DockerComposeEnvironment, GenericContainer, Network, Wait, getContainerRuntimeClient, type StartedTestContainer } from 'testcontainers';

/** an HTTP server that comes up only after `delay` seconds, serving /w */
const slowHttpd = (port: number, delay: number, page = 'ok') => ['sh', '-c', `mkdir -p /w && echo ${page} > /w/index.html && sleep ${delay} && exec httpd -f -p ${port} -h /w`];

async function get(container: StartedTestContainer, port: number, urlPath = '/index.html'): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://${container.getHost()}:${container.getMappedPort(port)}${urlPath}`);
  return { status: res.status, body: await res.text() };
}

async function stopAll(...containers: (StartedTestContainer | undefined)[]): Promise<void> {
  for (const c of containers) await c?.stop();
}

const scenarios: Record<string, () => Promise<unknown>> = {
  async exposedPort() {
    const c = await new GenericContainer('busybox').withExposedPorts(80).withCommand(slowHttpd(80, 0, 'hello')).start();
    try {
      const inspect = await (await getContainerRuntimeClient()).container.inspect((await getContainerRuntimeClient()).container.getById(c.getId()));
      return { mappedPort: c.getMappedPort(80), page: await get(c, 80), bindings: inspect.NetworkSettings.Ports['80/tcp'] };
    } finally {
      await stopAll(c);
    }
  },

  async waitForLogMessage() {
    const c = await new GenericContainer('busybox')
      .withCommand(['sh', '-c', 'sleep 1; touch /tmp/logged; echo "server is ready"; echo "server is ready"; exec sleep 300'])
      .withWaitStrategy(Wait.forLogMessage(/server is ready/, 2))
      .withStartupTimeout(30_000)
      .start();
    try {
      return { loggedBeforeReady: (await c.exec(['test', '-f', '/tmp/logged'])).exitCode === 0 };
    } finally {
      await stopAll(c);
    }
  },

  async waitForListeningPorts() {
    const started = Date.now();
    const c = await new GenericContainer('busybox').withExposedPorts(8080).withCommand(slowHttpd(8080, 2)).withWaitStrategy(Wait.forListeningPorts()).withStartupTimeout(30_000).start();
    try {
      return { waitedMs: Date.now() - started, page: await get(c, 8080) };
    } finally {
      await stopAll(c);
    }
  },

  async waitForHttp() {
    const started = Date.now();
    const c = await new GenericContainer('busybox')
      .withExposedPorts(80)
      .withCommand(slowHttpd(80, 2, 'healthy'))
      .withWaitStrategy(Wait.forHttp('/index.html', 80).forStatusCode(200).forResponsePredicate((body) => body.trim() === 'healthy'))
      .withStartupTimeout(30_000)
      .start();
    try {
      return { waitedMs: Date.now() - started, page: await get(c, 80) };
    } finally {
      await stopAll(c);
    }
  },

  async waitForHealthCheck() {
    const c = await new GenericContainer('busybox')
      .withCommand(['sh', '-c', 'sleep 1; touch /tmp/up; exec sleep 300'])
      .withHealthCheck({ test: ['CMD-SHELL', 'test -f /tmp/up'], interval: 500, timeout: 1000, retries: 20, startPeriod: 0 })
      .withWaitStrategy(Wait.forHealthCheck())
      .withStartupTimeout(30_000)
      .start();
    try {
      const client = await getContainerRuntimeClient();
      const inspect = await client.container.inspect(client.container.getById(c.getId()));
      return { health: inspect.State.Health?.Status };
    } finally {
      await stopAll(c);
    }
  },

  async exec() {
    const c = await new GenericContainer('busybox').withCommand(['sleep', '300']).start();
    try {
      const failing = await c.exec(['sh', '-c', 'echo out; echo err >&2; exit 3']);
      const options = await c.exec(['sh', '-c', 'echo "$(pwd) $GREETING $(id -u)"'], { workingDir: '/tmp', env: { GREETING: 'hi' }, user: '1000' });
      const shellString = await c.exec('echo one two');
      return { failing, options, shellString };
    } finally {
      await stopAll(c);
    }
  },

  async copyInAndOut() {
    const work = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-tc-copy-'));
    let c: StartedTestContainer | undefined;
    try {
      await fsp.writeFile(path.join(work, 'file.txt'), 'from a file\n');
      await fsp.mkdir(path.join(work, 'dir', 'sub'), { recursive: true });
      await fsp.writeFile(path.join(work, 'dir', 'sub', 'deep.txt'), 'from a directory\n');
      c = await new GenericContainer('busybox')
        .withCommand(['sleep', '300'])
        .withCopyFilesToContainer([{ source: path.join(work, 'file.txt'), target: '/data/file.txt', mode: 0o640 }])
        .withCopyDirectoriesToContainer([{ source: path.join(work, 'dir'), target: '/data/dir' }])
        .withCopyContentToContainer([{ content: 'from content\n', target: '/data/content.txt' }])
        .start();
      await c.copyContentToContainer([{ content: Buffer.from('copied while running\n'), target: '/data/later.txt' }]);
      const inside = await c.exec(['sh', '-c', 'cat /data/file.txt /data/dir/sub/deep.txt /data/content.txt /data/later.txt; stat -c %a /data/file.txt']);
      // and out again: the archive of /data as testcontainers streams it
      const files: Record<string, string> = {};
      const tar = extract();
      tar.on('entry', (header, stream, next) => {
        let text = '';
        stream.on('data', (d: unknown) => (text += String(d)));
        stream.on('end', () => {
          if (header.type === 'file') files[header.name] = text;
          next();
        });
      });
      const finished = new Promise<void>((resolve, reject) => tar.on('finish', () => resolve()).on('error', reject));
      (await c.copyArchiveFromContainer('/data')).pipe(tar);
      await finished;
      return { inside: inside.output, archive: files };
    } finally {
      await stopAll(c);
      await fsp.rm(work, { recursive: true, force: true });
    }
  },

  async networkAliases() {
    const network = await new Network().start();
    let server: StartedTestContainer | undefined;
    let client: StartedTestContainer | undefined;
    try {
      server = await new GenericContainer('busybox').withNetwork(network).withNetworkAliases('backend', 'api').withCommand(slowHttpd(80, 0, 'by alias')).start();
      client = await new GenericContainer('busybox').withNetwork(network).withCommand(['sleep', '300']).start();
      const byAlias = await client.exec(['wget', '-qO-', 'http://api/index.html']);
      const byOtherAlias = await client.exec(['wget', '-qO-', 'http://backend/index.html']);
      return {
        byAlias: byAlias.output,
        byOtherAlias: byOtherAlias.output,
        network: network.getName(),
        networkNames: server.getNetworkNames(),
        ipOnNetwork: server.getIpAddress(network.getName()),
      };
    } finally {
      await stopAll(client, server);
      await network.stop();
    }
  },

  async composeEnvironment() {
    const dir = process.env.COMPOSE_DIR!;
    const env = await new DockerComposeEnvironment(dir, 'docker-compose.yml')
      // Debian ships compose v1 (`docker-compose`), not the `docker compose` plugin
      .withClientOptions({ executable: { standalone: true } })
      .withProjectName('tcstack')
      .withWaitStrategy('tcstack_web_1', Wait.forLogMessage('web up'))
      .up();
    try {
      const web = env.getContainer('tcstack_web_1');
      const worker = env.getContainer('tcstack_worker_1');
      const fromWorker = await worker.exec(['wget', '-qO-', 'http://web/index.html']);
      return { page: await get(web, 80), fromWorker: fromWorker.output };
    } finally {
      await env.down();
    }
  },

  async reusable() {
    const c = await new GenericContainer('busybox').withCommand(['sleep', '300']).withLabels({ purpose: 'reuse' }).withReuse().start();
    return { id: c.getId() };
  },

  /** leaves a container, a network and a built image behind, as a test run that dies does: the reaper's work */
  async leaveBehind() {
    const context = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-tc-build-'));
    try {
      await fsp.writeFile(path.join(context, 'Dockerfile'), 'FROM busybox\nRUN echo built > /built\n');
      // an image built for the session (deleteOnExit, the default) carries the session's label
      const image = await GenericContainer.fromDockerfile(context).build('tc-left:latest');
      const network = await new Network().start();
      const c = await image.withCommand(['sleep', '300']).withNetwork(network).start();
      return { container: c.getId(), network: network.getId(), image: 'tc-left:latest' };
    } finally {
      await fsp.rm(context, { recursive: true, force: true });
    }
  },
};

const name = process.argv[2];
const scenario = scenarios[name];
if (!scenario) {
  process.stderr.write(`no scenario "${name}"\n`);
  process.exit(2);
}
scenario().then(
  (result) => {
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
    // what testcontainers left open (the reaper's socket is unref'd) must not keep the run alive
    process.exit(0);
  },
  (e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
