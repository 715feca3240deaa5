/**
 * Debian's chromium, headless, inside a network namespace (a wrapper enters it; DevTools speaks
 * over a pipe, so nothing listens anywhere), driven by puppeteer-core: what the dashboard's
 * browser test and bench/dashboard.ts use. The browser sees only that namespace's loopback.
 */
import { existsSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';

export const CHROMIUM = '/usr/bin/chromium';

export function haveChromium(): boolean {
  return existsSync(CHROMIUM);
}

export interface NetnsBrowser {
  browser: Browser;
  /** closes the browser, kills its process if it lingers, removes its profile */
  close(): Promise<void>;
}

export async function launchChromiumInNetns(netns: string): Promise<NetnsBrowser> {
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-browser-'));
  const wrapper = path.join(tmp, 'chromium-in-netns');
  await fsp.writeFile(wrapper, `#!/bin/sh\nexec nsenter --net=/run/netns/${netns} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
  let browser: Browser;
  try {
    browser = await puppeteer.launch({
      executablePath: wrapper,
      pipe: true,
      ignoreDefaultArgs: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-dev-shm-usage',
        `--user-data-dir=${path.join(tmp, 'profile')}`,
        '--remote-debugging-pipe',
        'about:blank',
      ],
      defaultViewport: { width: 1280, height: 900 },
      timeout: 30_000,
    });
  } catch (e) {
    await fsp.rm(tmp, { recursive: true, force: true });
    throw e;
  }
  // nsenter execs chromium: this pid is the browser's own
  const pid = browser.process()?.pid;
  return {
    browser,
    async close() {
      await browser.close().catch(() => undefined);
      if (pid) await killProcessGroup(pid);
      await fsp.rm(tmp, { recursive: true, force: true });
    },
  };
}

/**
 * Kills a browser's process group and waits (up to 2 s) until it is empty. Puppeteer starts the
 * browser in a group of its own, so the group is that browser's processes and only them; its
 * helpers outlive the main process for a moment and would write into a profile being removed.
 */
export async function killProcessGroup(pid: number): Promise<void> {
  const signal = (sig: NodeJS.Signals | 0): boolean => {
    try {
      process.kill(-pid, sig);
      return true;
    } catch {
      return false;
    }
  };
  signal('SIGKILL');
  for (let i = 0; i < 40 && signal(0); i++) await new Promise((r) => setTimeout(r, 50));
}
