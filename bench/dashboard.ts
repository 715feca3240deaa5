/**
 * How fast the web dashboard shows up: a berthd of its own with --dashboard (in a namespace of
 * its own, with --containers containers running), Debian's chromium headless in the same
 * namespace, and per run: a fresh browser context that logs in with a new link (cold), then a
 * reload (warm). Medians of first contentful paint and of the containers list on screen, in ms
 * from navigation start, as the browser's performance API reports them.
 *
 *   node dist/bench/dashboard.js [--runs 10] [--containers 20]
 */
import { arg, median } from './lib';
import { api, BERTHD, OwnDaemon, parallel } from './own-daemon';
import { haveChromium, launchChromiumInNetns } from '../test/helpers/chromium';
import type { Page } from 'puppeteer-core';

const PORT = 9880;

async function measure(page: Page, rows: number): Promise<{ fcp: number; listed: number }> {
  await page.waitForFunction((n: number) => (globalThis as any).document.querySelectorAll('table[data-testid="containers"] tbody tr').length >= n, { timeout: 30_000 }, rows);
  return page.evaluate(() => {
    const g = globalThis as any;
    const fcp = g.performance.getEntriesByType('paint').find((e: any) => e.name === 'first-contentful-paint');
    return { fcp: Math.round(fcp?.startTime ?? NaN), listed: Math.round(g.performance.now()) };
  });
}

async function main(): Promise<void> {
  if (!haveChromium()) throw new Error('no /usr/bin/chromium (scripts/setup.sh installs it)');
  const runs = Number(arg('--runs', '10'));
  const containers = Number(arg('--containers', '20'));
  const d = new OwnDaemon({ extraArgs: ['--dashboard', `127.0.0.1:${PORT}`] });
  console.log(`daemon: ${BERTHD} (a berthd of its own, --dashboard 127.0.0.1:${PORT}); client: headless chromium`);
  let chromium: Awaited<ReturnType<typeof launchChromiumInNetns>> | undefined;
  try {
    d.setUp();
    await d.start();
    const ep = { socketPath: d.host.slice('unix://'.length) };
    await parallel(
      Array.from({ length: containers }, (_v, i) => i),
      4,
      async (i) => {
        const c = await api<{ Id: string }>(ep, 'POST', `/containers/create?name=bench-${i}`, { Image: 'busybox', Cmd: ['sleep', '100000'], HostConfig: { NetworkMode: 'none' } });
        await api(ep, 'POST', `/containers/${c.Id}/start`);
      },
    );
    chromium = await launchChromiumInNetns(d.netns);
    console.log(`browser: ${await chromium.browser.version()}`);
    const cold: { fcp: number; listed: number }[] = [];
    const warm: { fcp: number; listed: number }[] = [];
    for (let r = 0; r < runs; r++) {
      const { URL: link } = await api<{ URL: string }>(ep, 'POST', '/berth/dashboard/login-tokens');
      const context = await chromium.browser.createBrowserContext();
      const page = await context.newPage();
      await page.goto(link, { waitUntil: 'load' });
      cold.push(await measure(page, containers));
      await page.reload({ waitUntil: 'load' });
      warm.push(await measure(page, containers));
      await context.close();
    }
    const row = (what: string, xs: { fcp: number; listed: number }[]) =>
      `| ${what} | ${median(xs.map((x) => x.fcp)).toFixed(0)} | ${median(xs.map((x) => x.listed)).toFixed(0)} |`;
    console.log(`\ndashboard, ${containers} containers running, ${runs} runs (medians, ms from navigation start)\n`);
    console.log('| page load | first contentful paint | containers listed |');
    console.log('| --- | --- | --- |');
    console.log(row('login link, fresh context (redirect included)', cold));
    console.log(row('reload', warm));
  } finally {
    await chromium?.close();
    await d.tearDown();
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
