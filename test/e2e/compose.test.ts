import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestDaemon, runCommand, type CommandResult } from '../helpers/daemon';
import { until } from '../helpers/wait';

// Debian's docker-compose 1.29 (docker-py underneath, the docker CLI for builds and for
// `exec`/`run` with a terminal) against berthd, unchanged: one daemon, one project per test,
// each brought down with `down -v` also when the test fails.
let d: TestDaemon;
let work: string;
before(async () => {
  d = await TestDaemon.start();
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-compose-'));
});
after(async () => {
  await d?.cleanup();
  if (work) await fsp.rm(work, { recursive: true, force: true });
});

interface Project {
  name: string;
  dir: string;
  compose: (args: string[], env?: NodeJS.ProcessEnv) => Promise<CommandResult>;
  ok: (args: string[], env?: NodeJS.ProcessEnv) => Promise<string>;
}

/** A project directory with these files; `compose` runs docker-compose on its compose file. */
async function project(name: string, files: Record<string, string>): Promise<Project> {
  const dir = path.join(work, name);
  await fsp.mkdir(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) await fsp.writeFile(path.join(dir, f), text);
  const compose = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    runCommand('docker-compose', ['-f', path.join(dir, 'docker-compose.yml'), ...args], {
      env: { ...process.env, DOCKER_HOST: d.host, DOCKER_CONFIG: path.join(work, 'docker-config'), COMPOSE_PROJECT_NAME: name, ...env },
      timeoutMs: 120_000,
    });
  const ok = async (args: string[], env?: NodeJS.ProcessEnv) => {
    const r = await compose(args, env);
    assert.equal(r.code, 0, `docker-compose ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  return { name, dir, compose, ok };
}

/** Runs the test's body, then brings the project down with its volumes whatever happened. */
async function withProject(p: Project, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } finally {
    await p.compose(['down', '-v', '--rmi', 'local', '-t', '1']);
  }
}

const inDaemonNs = (...args: string[]) => runCommand('nsenter', [`--net=/run/netns/${d.netns}`, ...args], { timeoutMs: 20_000 });

/** An HTTP GET from inside the daemon's namespace, where published ports answer. */
async function fetchFromDaemonNs(port: string): Promise<string> {
  return until(`port ${port} to answer`, async () => {
    const r = await inDaemonNs('curl', '-sf', '--max-time', '3', `http://127.0.0.1:${port}/`);
    return r.code === 0 ? r.stdout : undefined;
  });
}

const inspect = async (name: string) => JSON.parse((await d.docker(['inspect', name])).stdout)[0];

/** `docker-compose ps` rows by container name, split on Docker's column layout (2+ spaces). */
function psRows(out: string): Map<string, string[]> {
  const lines = out.trimEnd().split('\n');
  assert.match(lines[0], /^\s*Name\s+Command\s+State\s+Ports\s*$/);
  assert.match(lines[1], /^-+$/);
  return new Map(lines.slice(2).map((l) => {
    const cols = l.trim().split(/\s{2,}/);
    return [cols[0], cols.slice(1)];
  }));
}

test('docker network disconnect of the last network, then connect again: created and running containers', async () => {
  const net = 'lastnet';
  assert.equal((await d.docker(['network', 'create', net])).code, 0);
  try {
    // created: the mode stays, the endpoints go, and a connect with an alias is taken
    assert.equal((await d.docker(['create', '--name', 'lone', '--network', net, 'busybox', 'sleep', '300'])).code, 0);
    const off = await d.docker(['network', 'disconnect', net, 'lone']);
    assert.equal(off.code, 0, off.stderr);
    let c = await inspect('lone');
    assert.equal(c.HostConfig.NetworkMode, net);
    assert.deepEqual(c.NetworkSettings.Networks, {});
    const on = await d.docker(['network', 'connect', '--alias', 'lonely', net, 'lone']);
    assert.equal(on.code, 0, on.stderr);
    assert.equal((await d.docker(['start', 'lone'])).code, 0);
    c = await inspect('lone');
    assert.deepEqual(Object.keys(c.NetworkSettings.Networks), [net]);
    assert.deepEqual(c.NetworkSettings.Networks[net].Aliases, ['lonely']);
    assert.match(c.NetworkSettings.Networks[net].IPAddress, /^\d+\.\d+\.\d+\.\d+$/);

    // running, with a published port: off its only network it has loopback only; back on, it
    // answers again by name and on its published port
    const run = await d.docker(['run', '-d', '--name', 'srv', '--network', net, '-p', '18080:80', 'busybox', 'sh', '-c', 'echo srv-page > /index.html; httpd -f -p 80 -h /']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(await fetchFromDaemonNs('18080'), 'srv-page\n');
    assert.equal((await d.docker(['network', 'disconnect', net, 'srv'])).code, 0);
    c = await inspect('srv');
    assert.equal(c.HostConfig.NetworkMode, net);
    assert.deepEqual(c.NetworkSettings.Networks, {});
    const links = await d.docker(['exec', 'srv', 'ip', '-o', 'link']);
    assert.deepEqual(links.stdout.trim().split('\n').map((l) => l.split(':')[1].trim().split('@')[0]), ['lo']);
    const back = await d.docker(['network', 'connect', net, 'srv']);
    assert.equal(back.code, 0, back.stderr);
    assert.equal((await d.docker(['exec', 'lone', 'wget', '-qO-', 'http://srv/'])).stdout, 'srv-page\n');
    assert.equal(await fetchFromDaemonNs('18080'), 'srv-page\n');
  } finally {
    await d.docker(['rm', '-f', 'lone', 'srv']);
    await d.docker(['network', 'rm', net]);
  }
});

const WEB_STACK = `version: "3.8"
services:
  web:
    image: busybox
    command: sh -c 'echo "page of $$HOSTNAME" > /www/index.html; echo web-started; exec httpd -f -p 80 -h /www'
    environment:
      GREETING: hello
      EMPTY: ""
    networks:
      back:
        aliases: [web-alias]
    volumes:
      - shared:/shared
      - /www
    ports:
      - "18081:80"
  client:
    image: busybox
    command: sh -c 'echo client-up; exec sleep 300'
    depends_on: [web]
    networks: [back]
    volumes:
      - shared:/shared
networks:
  back: {}
volumes:
  shared: {}
`;

test('a two-service stack: user network with aliases, named and anonymous volumes, environment, published port, exec, logs, recreate, restart, stop/start, down -v', async () => {
  const p = await project('cstack', { 'docker-compose.yml': WEB_STACK });
  await withProject(p, async () => {
    const up = await p.compose(['up', '-d']);
    assert.equal(up.code, 0, up.stderr);
    // compose prints its progress on stderr, in Docker's order: network, volume, then services
    // by dependency
    assert.match(up.stderr, /Creating network "cstack_back" with the default driver\nCreating volume "cstack_shared" with default driver\n/);
    assert.ok(up.stderr.indexOf('Creating cstack_web_1') < up.stderr.indexOf('Creating cstack_client_1'), up.stderr);

    const rows = psRows(await p.ok(['ps']));
    assert.deepEqual([...rows.keys()].sort(), ['cstack_client_1', 'cstack_web_1']);
    assert.deepEqual(rows.get('cstack_client_1')!.slice(1), ['Up']);
    assert.equal(rows.get('cstack_web_1')![1], 'Up');
    assert.match(rows.get('cstack_web_1')![2], /^0\.0\.0\.0:18081->80\/tcp(,:::18081->80\/tcp)?$/);

    // the labels compose finds its containers by
    const web = await inspect('cstack_web_1');
    assert.equal(web.Config.Labels['com.docker.compose.project'], 'cstack');
    assert.equal(web.Config.Labels['com.docker.compose.service'], 'web');
    assert.equal(web.Config.Labels['com.docker.compose.container-number'], '1');
    assert.equal(web.Config.Labels['com.docker.compose.oneoff'], 'False');
    assert.equal(web.HostConfig.NetworkMode, 'cstack_back');
    const endpoint = web.NetworkSettings.Networks.cstack_back;
    assert.deepEqual(endpoint.Aliases.slice().sort(), [web.Id.slice(0, 12), 'web', 'web-alias'].sort());
    // Docker's order: the name first (it answers reverse lookups), each name once
    assert.equal(endpoint.DNSNames[0], 'cstack_web_1');
    assert.deepEqual(endpoint.DNSNames.slice().sort(), ['cstack_web_1', web.Id.slice(0, 12), 'web', 'web-alias'].sort());
    const netLabels = (await d.api('GET', '/networks/cstack_back')).json().Labels;
    assert.equal(netLabels['com.docker.compose.network'], 'back');
    const volLabels = (await d.api('GET', '/volumes/cstack_shared')).json().Labels;
    assert.equal(volLabels['com.docker.compose.volume'], 'shared');

    // by service name and by alias, over the user network
    const byName = await until('web to answer by name', async () => {
      const r = await p.compose(['exec', '-T', 'client', 'wget', '-qO-', 'http://web/']);
      return r.code === 0 ? r.stdout : undefined;
    });
    assert.equal(byName, `page of ${web.Config.Hostname}\n`);
    assert.equal(await p.ok(['exec', '-T', 'client', 'wget', '-qO-', 'http://web-alias/']), byName);
    assert.equal(await fetchFromDaemonNs('18081'), byName);

    const env = (await p.ok(['exec', '-T', 'web', 'env'])).split('\n');
    assert.ok(env.includes('GREETING=hello') && env.includes('EMPTY='), env.join('\n'));
    // the named volume is one volume in both services
    await p.ok(['exec', '-T', 'client', 'sh', '-c', 'echo from-client > /shared/note']);
    assert.equal(await p.ok(['exec', '-T', 'web', 'cat', '/shared/note']), 'from-client\n');
    assert.equal(await p.ok(['exec', '-T', 'web', 'sh', '-c', 'exit 0']), '');
    const failed = await p.compose(['exec', '-T', 'web', 'sh', '-c', 'exit 5']);
    assert.equal(failed.code, 5);

    const logs = await p.ok(['logs', '--no-color']);
    assert.match(logs, /^Attaching to (cstack_client_1, cstack_web_1|cstack_web_1, cstack_client_1)$/m);
    assert.match(logs, /^web_1\s+\| web-started$/m);
    assert.match(logs, /^client_1\s+\| client-up$/m);

    // a changed service is recreated; its anonymous volume comes along, the named one stays
    await p.ok(['exec', '-T', 'web', 'sh', '-c', 'echo kept > /www/kept']);
    await fsp.writeFile(path.join(p.dir, 'docker-compose.yml'), WEB_STACK.replace('GREETING: hello', 'GREETING: changed'));
    const recreate = await p.compose(['up', '-d']);
    assert.equal(recreate.code, 0, recreate.stderr);
    assert.match(recreate.stderr, /Recreating cstack_web_1 \.\.\. done/);
    assert.match(recreate.stderr, /cstack_client_1 is up-to-date/);
    const web2 = await inspect('cstack_web_1');
    assert.notEqual(web2.Id, web.Id);
    const anon = (c: { Mounts: { Destination: string; Name: string }[] }) => c.Mounts.find((m) => m.Destination === '/www')!.Name;
    assert.equal(anon(web2), anon(web));
    assert.equal(await p.ok(['exec', '-T', 'web', 'cat', '/www/kept', '/shared/note']), 'kept\nfrom-client\n');
    assert.ok((await p.ok(['exec', '-T', 'web', 'env'])).includes('GREETING=changed\n'));
    // a recreated container answers by name again (compose reconnects it with its aliases)
    assert.match(await p.ok(['exec', '-T', 'client', 'wget', '-qO-', 'http://web-alias/']), /^page of /);

    const restart = await p.compose(['restart', '-t', '1', 'web']);
    assert.equal(restart.code, 0, restart.stderr);
    assert.match(restart.stderr, /Restarting cstack_web_1 \.\.\. done/);
    assert.notEqual((await inspect('cstack_web_1')).State.StartedAt, web2.State.StartedAt);

    await p.ok(['stop', '-t', '1']);
    const stopped = psRows(await p.ok(['ps']));
    for (const [name, cols] of stopped) assert.match(cols[1], /^Exit \d+$/, name);
    await p.ok(['start']);
    const started = psRows(await p.ok(['ps']));
    for (const [name, cols] of started) assert.equal(cols[1], 'Up', name);
    assert.match(await fetchFromDaemonNs('18081'), /^page of /);

    const down = await p.compose(['down', '-v', '-t', '1']);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stderr, /Removing network cstack_back\nRemoving volume cstack_shared\n/);
    const left = await d.docker(['ps', '-a', '-q', '--filter', 'label=com.docker.compose.project=cstack']);
    assert.equal(left.stdout, '');
    assert.equal((await d.api('GET', '/networks/cstack_back')).status, 404);
    assert.equal((await d.api('GET', '/volumes/cstack_shared')).status, 404);
  });
});

test('scale: up -d --scale web=3 numbers the containers, each with its own published port', async () => {
  const p = await project('cscale', {
    'docker-compose.yml': `version: "3.8"
services:
  web:
    image: busybox
    command: sh -c 'echo "$$HOSTNAME" > /index.html; exec httpd -f -p 80 -h /'
    ports: ["80"]
    volumes: ["/scratch"]
`,
  });
  await withProject(p, async () => {
    const up = await p.compose(['up', '-d', '--scale', 'web=3']);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stderr, /Creating network "cscale_default" with the default driver/);
    const rows = psRows(await p.ok(['ps']));
    assert.deepEqual([...rows.keys()].sort(), ['cscale_web_1', 'cscale_web_2', 'cscale_web_3']);
    const ports = new Set<string>();
    for (const [name, cols] of rows) {
      assert.equal(cols[1], 'Up', name);
      const m = /^0\.0\.0\.0:(\d+)->80\/tcp/.exec(cols[2]);
      assert.ok(m, `${name}: ${cols[2]}`);
      ports.add(m[1]);
      const n = name.slice(-1);
      assert.equal((await inspect(name)).Config.Labels['com.docker.compose.container-number'], n);
      // `port` answers what `ps` shows
      assert.equal((await p.ok(['port', '--index', n, 'web', '80'])).trim(), `0.0.0.0:${m[1]}`);
      assert.equal(await fetchFromDaemonNs(m[1]), `${(await inspect(name)).Config.Hostname}\n`);
    }
    assert.equal(ports.size, 3);
    assert.deepEqual((await p.ok(['ps', '-q'])).trim().split('\n').length, 3);
    assert.deepEqual((await p.ok(['ps', '--services'])).trim(), 'web');

    // scaling down removes the highest numbers
    const down = await p.compose(['up', '-d', '--scale', 'web=1']);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual([...psRows(await p.ok(['ps'])).keys()], ['cscale_web_1']);

    // down -v also removes the anonymous volumes of the containers it removes
    const anonVolume = (await inspect('cscale_web_1')).Mounts[0].Name;
    await p.ok(['down', '-v', '-t', '1']);
    assert.equal((await d.api('GET', `/volumes/${anonVolume}`)).status, 404);
    assert.equal((await d.api('GET', '/networks/cscale_default')).status, 404);
  });
});

test('a stack that builds its image (the classic builder API), with env_file and depends_on', async () => {
  const p = await project('cbuild', {
    Dockerfile: 'FROM busybox\nARG GREETING=unset\nENV GREETING=$GREETING\nCOPY page.txt /www/index.html\nEXPOSE 80\nCMD ["httpd", "-f", "-p", "80", "-h", "/www"]\n',
    'page.txt': 'built page\n',
    'app.env': '# the env_file\nFROM_FILE=yes\nSHARED=from-file\n',
    'docker-compose.yml': `version: "3.8"
services:
  app:
    build:
      context: .
      args:
        GREETING: hello-arg
    env_file: app.env
    environment:
      SHARED: from-environment
  probe:
    image: busybox
    command: sleep 300
    depends_on: [app]
`,
  });
  await withProject(p, async () => {
    // compose's own build (docker-py's POST /build)
    const build = await p.compose(['build'], { COMPOSE_DOCKER_CLI_BUILD: '0' });
    assert.equal(build.code, 0, build.stderr);
    const steps = build.stdout.match(/^Step \d+\/\d+ : .*$/gm);
    assert.deepEqual(steps, ['Step 1/6 : FROM busybox', 'Step 2/6 : ARG GREETING=unset', 'Step 3/6 : ENV GREETING=$GREETING', 'Step 4/6 : COPY page.txt /www/index.html', 'Step 5/6 : EXPOSE 80', 'Step 6/6 : CMD ["httpd", "-f", "-p", "80", "-h", "/www"]']);
    const built = /Successfully built ([0-9a-f]{12})\nSuccessfully tagged cbuild_app:latest\n/.exec(build.stdout);
    assert.ok(built, build.stdout);
    // as with Docker, FROM shows the base image's ID and the last step the built image's
    const arrows = build.stdout.match(/^ ---> [0-9a-f]{12}$/gm)!;
    assert.equal(arrows[0], ` ---> ${(await inspect('busybox')).Id.slice(7, 19)}`);
    assert.equal(arrows[arrows.length - 1], ` ---> ${built[1]}`);
    assert.equal((await inspect('cbuild_app')).Id.slice(7, 19), built[1]);

    const up = await p.compose(['up', '-d']);
    assert.equal(up.code, 0, up.stderr);
    assert.ok(up.stderr.indexOf('Creating cbuild_app_1') < up.stderr.indexOf('Creating cbuild_probe_1'), up.stderr);
    const env = (await p.ok(['exec', '-T', 'app', 'env'])).split('\n');
    for (const want of ['GREETING=hello-arg', 'FROM_FILE=yes', 'SHARED=from-environment']) assert.ok(env.includes(want), `${want} in ${env.join(' ')}`);
    const page = await until('app to answer', async () => {
      const r = await p.compose(['exec', '-T', 'probe', 'wget', '-qO-', 'http://app/']);
      return r.code === 0 ? r.stdout : undefined;
    });
    assert.equal(page, 'built page\n');
    const images = (await p.ok(['images'])).split('\n');
    assert.match(images[0].trim(), /^Container\s+Repository\s+Tag\s+Image Id\s+Size\s*$/);
    assert.match(images.find((l) => l.startsWith('cbuild_app_1'))!.trim(), new RegExp(`^cbuild_app_1\\s+cbuild_app\\s+latest\\s+${built[1]}\\s+[\\d.]+ [kM]?B$`));

    // a changed file, built again through the docker CLI (compose's default), is picked up by up
    await fsp.writeFile(path.join(p.dir, 'page.txt'), 'second page\n');
    const rebuilt = await p.compose(['up', '-d', '--build']);
    assert.equal(rebuilt.code, 0, rebuilt.stderr);
    assert.match(rebuilt.stderr + rebuilt.stdout, /Successfully tagged cbuild_app:latest/);
    assert.match(rebuilt.stderr, /Recreating cbuild_app_1 \.\.\. done/);
    const page2 = await until('the rebuilt app to answer', async () => {
      const r = await p.compose(['exec', '-T', 'probe', 'wget', '-qO-', 'http://app/']);
      return r.code === 0 && r.stdout === 'second page\n' ? r.stdout : undefined;
    });
    assert.equal(page2, 'second page\n');

    const down = await p.compose(['down', '-v', '--rmi', 'local', '-t', '1']);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stderr, /Removing image cbuild_app/);
    assert.equal((await d.api('GET', '/images/cbuild_app/json')).status, 404);
  });
});

test('up in the foreground: logs of every service, --exit-code-from, run --rm', async () => {
  const p = await project('cfg', {
    'docker-compose.yml': `version: "3.8"
services:
  job:
    image: busybox
    command: sh -c 'echo first; echo oops >&2; sleep 1; echo last; exit 4'
`,
  });
  await withProject(p, async () => {
    const up = await p.compose(['up', '--no-color', '--exit-code-from', 'job']);
    assert.equal(up.code, 4, up.stderr);
    assert.match(up.stdout, /^Attaching to cfg_job_1\njob_1\s+\| first\n/m);
    assert.match(up.stdout, /^job_1\s+\| oops$/m);
    assert.match(up.stdout, /^job_1\s+\| last\ncfg_job_1 exited with code 4\n/m);
    const run = await p.compose(['run', '--rm', '-T', 'job', 'sh', '-c', 'echo one-off; exit 3']);
    assert.equal(run.code, 3, run.stderr);
    assert.equal(run.stdout, 'one-off\n');
    const oneoffs = await d.docker(['ps', '-a', '-q', '--filter', 'label=com.docker.compose.oneoff=True']);
    assert.equal(oneoffs.stdout, '');
  });
});

test('run -T without the docker CLI (COMPOSE_INTERACTIVE_NO_CLI=1): a command that exits at once gives its output and its code', async () => {
  const p = await project('nocli', {
    'docker-compose.yml': `version: "3.8"
services:
  svc:
    image: busybox
    command: sleep 100
`,
  });
  await withProject(p, async () => {
    // compose starts the container, then attaches (stdin, stdout, stderr, each on its own
    // connection): the command has often ended by then, and each attach must still end
    const env = { COMPOSE_INTERACTIVE_NO_CLI: '1' };
    for (let i = 0; i < 3; i++) {
      const echo = await p.compose(['run', '-T', 'svc', 'echo', `hello ${i}`], env);
      assert.equal(echo.code, 0, echo.stderr);
      assert.equal(echo.stdout, `hello ${i}\n`);
    }
    const both = await p.compose(['run', '--rm', '-T', 'svc', 'sh', '-c', 'echo out; echo err >&2; exit 3'], env);
    assert.equal(both.code, 3, both.stderr);
    assert.equal(both.stdout, 'out\n');
    assert.match(both.stderr, /^err$/m);
    // a command that outlives the attach streams to its end (as with dockerd, what it wrote
    // between the start and the attach is not replayed: compose attaches without logs)
    const slow = await p.compose(['run', '--rm', '-T', 'svc', 'sh', '-c', 'sleep 1; echo late; exit 5'], env);
    assert.equal(slow.code, 5, slow.stderr);
    assert.equal(slow.stdout, 'late\n');
  });
});
