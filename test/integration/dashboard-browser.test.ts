/**
 * The dashboard in real browsers, headless, driven by puppeteer-core. In Debian's chromium (over
 * DevTools): log in with the link `berth dashboard` prints, watch a container started from the
 * CLI appear without a reload, read its live logs, check its memory chart against `berth stats`,
 * type into its terminal, stop it and see its state change; no session, no data. In Debian's
 * firefox-esr (over WebDriver BiDi) the same path, shorter: login, live list, logs, terminal,
 * stop. Screenshots of the main pages go to test-artifacts/dashboard/ (firefox-*.png for
 * firefox's).
 *
 * Both browsers run inside the daemon's network namespace (test/helpers/chromium.ts and
 * firefox.ts), so they see only that namespace's loopback.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- functions run in the page, where the DOM is */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { REPO, TestDaemon } from '../helpers/daemon';
import { haveChromium, launchChromiumInNetns, type NetnsBrowser } from '../helpers/chromium';
import { haveFirefox, launchFirefoxInNetns } from '../helpers/firefox';

const ARTIFACTS = path.join(REPO, 'test-artifacts', 'dashboard');
const MiB = 1024 * 1024;

let d: TestDaemon;
let chromium: NetnsBrowser | undefined;
let browser: Browser | undefined;
let firefox: NetnsBrowser | undefined;

before(async () => {
  if (!haveChromium() && !haveFirefox()) return;
  d = await TestDaemon.start(['--dashboard', '127.0.0.1:9880']);
  await fsp.mkdir(ARTIFACTS, { recursive: true });
  if (!haveChromium()) return;
  chromium = await launchChromiumInNetns(d.netns);
  browser = chromium.browser;
});

after(async () => {
  await chromium?.close();
  await firefox?.close();
  await d?.api('POST', '/swarm/leave?force=1').catch(() => undefined);
  await d?.cleanup();
});

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/**
 * Text whose colour against its background falls under WCAG AA (4.5:1, or 3:1 for large text):
 * every element with text of its own, its background found up the tree (white at the top).
 * Inside the terminal the container's programs choose the colours, so it is left out.
 */
function contrastFailures(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const g = globalThis as any;
    const parse = (c: string) => (c.match(/[\d.]+/g) ?? []).map(Number);
    const lum = ([r, gr, b]: number[]) => {
      const ch = (v: number) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
      return 0.2126 * ch(r) + 0.7152 * ch(gr) + 0.0722 * ch(b);
    };
    const background = (el: any): number[] => {
      for (let e = el; e; e = e.parentElement) {
        const c = parse(g.getComputedStyle(e).backgroundColor);
        if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
      }
      return [255, 255, 255];
    };
    const failures: string[] = [];
    for (const el of g.document.querySelectorAll('body *')) {
      if (el.closest('.xterm') || !el.offsetParent) continue;
      const own = [...el.childNodes].some((n: any) => n.nodeType === 3 && n.textContent.trim());
      if (!own) continue;
      const st = g.getComputedStyle(el);
      const fg = parse(st.color).slice(0, 3);
      const [l1, l2] = [lum(fg), lum(background(el))].sort((a, b) => b - a);
      const ratio = (l1 + 0.05) / (l2 + 0.05);
      const size = parseFloat(st.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(st.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) failures.push(`${el.tagName.toLowerCase()}.${el.className} "${el.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}:1`);
    }
    return failures;
  });
}

/** Parses the docker CLI's sizes ("1.23MiB", "512KiB", "4B"). */
function parseSize(s: string): number {
  const m = /^([\d.]+)\s*([KMGT]?i?B)$/.exec(s.trim());
  if (!m) throw new Error(`not a size: ${s}`);
  const mult: Record<string, number> = { B: 1, KiB: 1024, MiB: MiB, GiB: 1024 * MiB, TiB: 1024 * 1024 * MiB, kB: 1000, MB: 1e6, GB: 1e9 };
  return Number(m[1]) * (mult[m[2]] ?? 1);
}

test('the dashboard in chromium: login, live list, logs, stats, terminal, stop; refused without a session', { skip: !haveChromium() && 'no /usr/bin/chromium (scripts/setup.sh installs it)' }, async () => {
  const page = await browser!.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${(e as Error).message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()} ${m.location().url ?? ''}`);
  });

  // log in with the link; it leaves the address bar without the token
  const link = await d.berth(['dashboard']);
  assert.equal(link.code, 0, link.stderr);
  await page.goto(link.stdout.trim(), { waitUntil: 'load' });
  assert.equal(new URL(page.url()).search, '', 'the token is gone from the address');
  await page.waitForSelector('table[data-testid="containers"], main p.muted');
  const timing = () =>
    page.evaluate(() => {
      const paint = Object.fromEntries((performance as any).getEntriesByType('paint').map((e: any) => [e.name, Math.round(e.startTime)]));
      const nav = (performance as any).getEntriesByType('navigation')[0];
      return `first-contentful-paint ${paint['first-contentful-paint']} ms, DOMContentLoaded ${Math.round(nav?.domContentLoadedEventEnd ?? 0)} ms, load ${Math.round(nav?.loadEventEnd ?? 0)} ms`;
    });
  console.log(`# dashboard first paint, fresh browser, login redirect included: ${await timing()}`);
  await page.reload({ waitUntil: 'load' });
  await page.waitForSelector('table[data-testid="containers"], main p.muted');
  console.log(`# dashboard first paint, reload: ${await timing()}`);

  // a container started from the CLI appears without a reload
  await page.evaluate(() => ((globalThis as any).marker = 42));
  const run = await d.berth(['run', '-d', '--name', 'web', 'busybox', 'sh', '-c', "trap 'exit 0' TERM; i=0; while true; do echo line-$i; i=$((i+1)); sleep 0.2; done"]);
  assert.equal(run.code, 0, run.stderr);
  const id = run.stdout.trim();
  await page.waitForSelector('tr[data-name="web"][data-state="running"]', { timeout: 10_000 });
  assert.equal(await page.evaluate(() => (globalThis as any).marker), 42, 'no reload happened');
  await shot(page, 'containers');
  assert.deepEqual(await contrastFailures(page), [], 'WCAG AA contrast on the containers page');
  await page.setViewport({ width: 390, height: 844 });
  await shot(page, 'containers-phone');
  await page.setViewport({ width: 1280, height: 900 });

  // its page: the memory chart agrees with `berth stats --no-stream`
  await page.click('tr[data-name="web"] a');
  await page.waitForFunction(() => Number((globalThis as any).document.querySelector('[data-testid="memory-chart"]')?.getAttribute('data-last') || 0) > 0, { timeout: 15_000 });
  const stats = await d.berth(['stats', '--no-stream', '--format', '{{.MemUsage}}|{{.CPUPerc}}', 'web']);
  assert.equal(stats.code, 0, stats.stderr);
  const [memText, cpuText] = stats.stdout.trim().split('|');
  const cliMem = parseSize(memText.split('/')[0]);
  const chartMem = Number(await page.$eval('[data-testid="memory-chart"]', (e) => e.getAttribute('data-last')));
  assert.ok(Math.abs(chartMem - cliMem) <= Math.max(MiB, cliMem * 0.2), `chart memory ${chartMem} vs berth stats ${cliMem} (${memText})`);
  const chartCpu = Number(await page.$eval('[data-testid="cpu-chart"]', (e) => e.getAttribute('data-last')));
  const cliCpu = parseFloat(cpuText);
  assert.ok(Number.isFinite(chartCpu) && chartCpu >= 0 && Math.abs(chartCpu - cliCpu) < 25, `chart CPU ${chartCpu}% vs berth stats ${cliCpu}%`);
  for (const chart of ['network-chart', 'disk-chart']) await page.waitForSelector(`[data-testid="${chart}"] canvas`);
  assert.deepEqual(await contrastFailures(page), [], 'WCAG AA contrast on a container\'s page');
  await shot(page, 'container-overview');

  // live logs: new lines arrive while the page is open
  await page.click('[data-testid="tab-logs"]');
  await page.waitForFunction(() => /line-\d+/.test((globalThis as any).document.querySelector('[data-testid="logs"]')?.textContent ?? ''), { timeout: 10_000 });
  const lastLine = () => page.$eval('[data-testid="logs"]', (e) => Math.max(...[...(e.textContent ?? '').matchAll(/line-(\d+)/g)].map((m) => Number(m[1]))));
  const before = await lastLine();
  await page.waitForFunction((n: number) => Math.max(...[...((globalThis as any).document.querySelector('[data-testid="logs"]')?.textContent ?? '').matchAll(/line-(\d+)/g)].map((m) => Number(m[1]))) > n + 2, { timeout: 10_000 }, before);
  await page.type('[data-testid="log-search"]', `line-${before}`);
  const filtered = await page.$eval('[data-testid="logs"]', (e) => (e.textContent ?? '').split('\n').filter(Boolean) as string[]);
  assert.ok(filtered.length >= 1 && filtered.every((l: string) => l.includes(`line-${before}`)), `search keeps only matching lines: ${filtered.slice(0, 5).join(' | ')}`);
  await shot(page, 'container-logs');

  // the terminal: type, see the echo of the shell's answer
  await page.click('[data-testid="tab-terminal"]');
  await page
    .waitForFunction(() => /connected/.test((globalThis as any).document.querySelector('[data-testid="terminal-status"]')?.textContent ?? ''), { timeout: 10_000 })
    .catch(async (e: Error) => {
      await shot(page, 'failed-terminal');
      const status = await page.$eval('[data-testid="terminal-status"]', (el) => el.textContent).catch(() => 'no status');
      throw new Error(`${e.message}: ${status}; ${problems.join('; ')}`);
    });
  await page.focus('.xterm-helper-textarea');
  await page.keyboard.type('echo typed-$((40+2))\n');
  await page
    .waitForFunction(() => [...((globalThis as any).document.querySelector('.xterm-rows')?.children ?? [])].some((row: any) => row.textContent.trim() === 'typed-42'), { timeout: 10_000 })
    .catch(async (e: Error) => {
      await shot(page, 'failed-terminal');
      const text = await page.$eval('.xterm-rows', (el) => [...el.children].map((r) => r.textContent).join('\n')).catch(() => 'no terminal');
      throw new Error(`${e.message}: terminal shows ${JSON.stringify(text)}; ${problems.join('; ')}`);
    });
  await shot(page, 'container-terminal');

  // its files: a folder listed by ls in the container, a file read through the archive API
  await page.click('[data-testid="tab-files"]');
  await page.waitForSelector('[data-testid="files"] button');
  await page.evaluate(() => [...(globalThis as any).document.querySelectorAll('[data-testid="files"] button')].find((b: any) => b.textContent === 'etc/').click());
  await page.waitForFunction(() => [...(globalThis as any).document.querySelectorAll('[data-testid="files"] button')].some((b: any) => b.textContent === 'hostname'), { timeout: 10_000 });
  await page.evaluate(() => [...(globalThis as any).document.querySelectorAll('[data-testid="files"] button')].find((b: any) => b.textContent === 'hostname').click());
  await page.waitForSelector('[data-testid="file-content"]');
  assert.equal((await page.$eval('[data-testid="file-content"]', (e) => e.textContent ?? '')).trim(), id.slice(0, 12), '/etc/hostname is the container\'s short ID');
  await shot(page, 'container-files');

  // the other pages render from the Engine API
  for (const [hash, selector] of [
    ['images', 'table[data-testid="images"] tbody tr'],
    ['volumes', 'table[data-testid="volumes"]'],
    ['networks', 'table[data-testid="networks"] tbody tr'],
    ['events', '[data-testid="events"] li'],
    ['system', '[data-testid="df-chart"] canvas'],
  ]) {
    await page.goto(`http://127.0.0.1:9880/#/${hash}`);
    await page.waitForSelector(selector, { timeout: 10_000 });
    assert.deepEqual(await contrastFailures(page), [], `WCAG AA contrast on #/${hash}`);
    if (hash === 'images') {
      await page.click('table[data-testid="images"] button[aria-expanded="false"]');
      await page.waitForFunction(() => /Layers \(\d+\)/.test((globalThis as any).document.querySelector('table[data-testid="images"]')?.textContent ?? ''), { timeout: 10_000 });
    }
    if (hash === 'events') assert.match(await page.$eval('[data-testid="events"]', (e) => e.textContent ?? ''), /container start/);
    await shot(page, hash);
  }

  // stop it from the list; its state changes on screen
  await page.goto('http://127.0.0.1:9880/#/containers');
  await page.waitForSelector('tr[data-name="web"][data-state="running"]');
  await page.click('tr[data-name="web"] button[aria-label="Stop web"]');
  await page.waitForSelector('tr[data-name="web"][data-state="exited"]', { timeout: 15_000 });
  const inspected = (await d.api('GET', `/containers/${id}/json`)).json();
  assert.equal(inspected.State.Status, 'exited');
  await shot(page, 'containers-stopped');
  // swarm: a note when the node is in none; nodes, services and their tasks per node once it is
  await page.goto('http://127.0.0.1:9880/#/swarm');
  await page.waitForSelector('[data-testid="swarm-absent"]');
  const init = await d.berth(['swarm', 'init', '--advertise-addr', '127.0.0.1']);
  assert.equal(init.code, 0, init.stderr);
  const svc = await d.berth(['service', 'create', '--detach', '--name', 'svc', '--replicas', '2', 'busybox', 'sleep', '1000']);
  assert.equal(svc.code, 0, svc.stderr);
  await page.waitForFunction(() => /svc\s*2\/2 running/.test((globalThis as any).document.querySelector('[data-testid="service"]')?.textContent ?? ''), { timeout: 30_000 });
  await page.waitForSelector('table[data-testid="nodes"] tbody tr');
  await shot(page, 'swarm');
  assert.deepEqual(problems.filter((p) => !/status of 503/.test(p)), [], 'no errors but the 503 of a node in no swarm');

  // logging out ends the session: the login hint again, the API refused
  await page.click('header button.logout');
  await page.waitForSelector('main.login');
  assert.equal(await page.evaluate(async () => (await fetch('/api/containers/json')).status), 401);

  // a browser without the session cookie gets the login hint and no data
  const stranger = await browser!.createBrowserContext();
  const other = await stranger.newPage();
  await other.goto('http://127.0.0.1:9880/');
  await other.waitForSelector('main.login');
  const status = await other.evaluate(async () => (await fetch('/api/containers/json')).status);
  assert.equal(status, 401);
  await shot(other, 'login-required');
  await stranger.close();
});

test('the dashboard in firefox: login, live list, logs, terminal, stop', { skip: !haveFirefox() && 'no /usr/bin/firefox-esr (scripts/setup.sh installs it)' }, async () => {
  firefox = await launchFirefoxInNetns(d.netns);
  const page = await firefox.browser.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${(e as Error).message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  const fail = async (e: Error, what: string): Promise<never> => {
    await shot(page, 'firefox-failed');
    throw new Error(`${what}: ${e.message}; ${problems.join('; ')}`);
  };

  const link = await d.berth(['dashboard']);
  assert.equal(link.code, 0, link.stderr);
  await page.goto(link.stdout.trim(), { waitUntil: 'load' });
  assert.equal(new URL(page.url()).search, '', 'the token is gone from the address');
  await page.waitForSelector('table[data-testid="containers"], main p.muted');

  // a container started from the CLI appears without a reload
  await page.evaluate(() => ((globalThis as any).marker = 42));
  const run = await d.berth(['run', '-d', '--name', 'ff-web', 'busybox', 'sh', '-c', "trap 'exit 0' TERM; i=0; while true; do echo line-$i; i=$((i+1)); sleep 0.2; done"]);
  assert.equal(run.code, 0, run.stderr);
  const id = run.stdout.trim();
  await page.waitForSelector('tr[data-name="ff-web"][data-state="running"]', { timeout: 10_000 }).catch((e) => fail(e, 'the new container in the list'));
  assert.equal(await page.evaluate(() => (globalThis as any).marker), 42, 'no reload happened');
  await shot(page, 'firefox-containers');

  // its page, with charts drawn from the stats stream
  await page.click('tr[data-name="ff-web"] a');
  await page.waitForFunction(() => Number((globalThis as any).document.querySelector('[data-testid="memory-chart"]')?.getAttribute('data-last') || 0) > 0, { timeout: 15_000 }).catch((e) => fail(e, 'the memory chart'));
  // rates take two samples: once the network chart has one, every chart has drawn a line
  await page.waitForFunction(() => ((globalThis as any).document.querySelector('[data-testid="network-chart"]')?.getAttribute('data-last') ?? '') !== '', { timeout: 15_000 }).catch((e) => fail(e, 'the network chart'));
  await shot(page, 'firefox-container-overview');

  // live logs: new lines arrive while the page is open
  await page.click('[data-testid="tab-logs"]');
  const lastLine = () =>
    page.evaluate(() => Math.max(-1, ...[...((globalThis as any).document.querySelector('[data-testid="logs"]')?.textContent ?? '').matchAll(/line-(\d+)/g)].map((m: any) => Number(m[1]))));
  await page.waitForFunction(() => /line-\d+/.test((globalThis as any).document.querySelector('[data-testid="logs"]')?.textContent ?? ''), { timeout: 10_000 }).catch((e) => fail(e, 'logs'));
  const first = await lastLine();
  await page
    .waitForFunction((n: number) => Math.max(...[...((globalThis as any).document.querySelector('[data-testid="logs"]')?.textContent ?? '').matchAll(/line-(\d+)/g)].map((m: any) => Number(m[1]))) > n + 2, { timeout: 10_000 }, first)
    .catch((e) => fail(e, 'live log lines'));
  await shot(page, 'firefox-container-logs');

  // the terminal: type, see the echo of the shell's answer
  await page.click('[data-testid="tab-terminal"]');
  await page
    .waitForFunction(() => /connected/.test((globalThis as any).document.querySelector('[data-testid="terminal-status"]')?.textContent ?? ''), { timeout: 10_000 })
    .catch((e) => fail(e, 'terminal connection'));
  await page.focus('.xterm-helper-textarea');
  await page.keyboard.type('echo typed-$((40+2))\n');
  await page
    .waitForFunction(() => [...((globalThis as any).document.querySelector('.xterm-rows')?.children ?? [])].some((row: any) => row.textContent.trim() === 'typed-42'), { timeout: 10_000 })
    .catch(async (e: Error) => {
      const text = await page.$eval('.xterm-rows', (el) => [...el.children].map((r) => r.textContent).join('\n')).catch(() => 'no terminal');
      return fail(e, `the terminal's echo (it shows ${JSON.stringify(text)})`);
    });
  await shot(page, 'firefox-container-terminal');

  // stop it from the list; its state changes on screen
  await page.goto('http://127.0.0.1:9880/#/containers');
  await page.waitForSelector('tr[data-name="ff-web"][data-state="running"]');
  await page.click('tr[data-name="ff-web"] button[aria-label="Stop ff-web"]');
  await page.waitForSelector('tr[data-name="ff-web"][data-state="exited"]', { timeout: 15_000 }).catch((e) => fail(e, 'the stopped state'));
  assert.equal((await d.api('GET', `/containers/${id}/json`)).json().State.Status, 'exited');
  await shot(page, 'firefox-containers-stopped');

  for (const [hash, selector] of [
    ['images', 'table[data-testid="images"] tbody tr'],
    ['system', '[data-testid="df-chart"] canvas'],
  ]) {
    await page.goto(`http://127.0.0.1:9880/#/${hash}`);
    await page.waitForSelector(selector, { timeout: 10_000 }).catch((e) => fail(e, `#/${hash}`));
    await shot(page, `firefox-${hash}`);
  }
  assert.deepEqual(problems.filter((p) => !/status of 503/.test(p)), [], 'no errors in the page but the 503 of a node in no swarm');
});
