/**
 * Debian's firefox-esr, headless, inside a network namespace, driven by puppeteer-core over
 * WebDriver BiDi: what the dashboard's browser test uses beside chromium. The browser sees only
 * that namespace's loopback, with a fresh profile whose prefs keep it off the network.
 *
 * Firefox speaks BiDi over a WebSocket only (no pipe), and its port exists only inside the
 * namespace. So the test process listens on a free loopback port of its own, firefox is told to
 * listen on the same number inside the namespace, and each connection is carried between the
 * two through a unix socket (NetnsRelay): puppeteer connects to the address firefox prints as
 * if it were local.
 */
import { existsSync, promises as fsp } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import { killProcessGroup, type NetnsBrowser } from './chromium';
import { NetnsRelay } from './raw-http';

export const FIREFOX = '/usr/bin/firefox-esr';

export function haveFirefox(): boolean {
  return existsSync(FIREFOX);
}

/**
 * Prefs on top of puppeteer's own test profile (which already turns off updates, safe browsing,
 * health reports and remote settings): whatever else would reach out on its own. Anything that
 * still tries goes to a proxy on a loopback port where nothing listens.
 */
const OFFLINE_PREFS: Record<string, unknown> = {
  'network.proxy.type': 1,
  'network.proxy.http': '127.0.0.1',
  'network.proxy.http_port': 1,
  'network.proxy.ssl': '127.0.0.1',
  'network.proxy.ssl_port': 1,
  'network.proxy.socks_remote_dns': true,
  'network.proxy.no_proxies_on': '127.0.0.1,localhost',
  'network.trr.mode': 5,
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  'network.dns.disablePrefetch': true,
  'network.prefetch-next': false,
  'network.predictor.enabled': false,
  'app.update.enabled': false,
  'app.update.auto': false,
  'app.shield.optoutstudies.enabled': false,
  'app.normandy.enabled': false,
  'toolkit.telemetry.enabled': false,
  'toolkit.telemetry.unified': false,
  'toolkit.telemetry.server': '',
  'toolkit.telemetry.archive.enabled': false,
  'toolkit.coverage.endpoint.base': '',
  'browser.ping-centre.telemetry': false,
  'browser.newtabpage.activity-stream.feeds.telemetry': false,
  'browser.newtabpage.activity-stream.telemetry': false,
  'browser.discovery.enabled': false,
  'browser.region.network.url': '',
  'browser.region.update.enabled': false,
  'browser.aboutwelcome.enabled': false,
  'browser.safebrowsing.provider.mozilla.updateURL': '',
  'extensions.systemAddon.update.enabled': false,
  'extensions.blocklist.enabled': false,
  'geo.provider.network.url': '',
  'security.OCSP.enabled': 0,
  'security.remote_settings.crlite_filters.enabled': false,
  'security.remote_settings.intermediates.enabled': false,
  'media.gmp-gmpopenh264.enabled': false,
  'identity.fxaccounts.enabled': false,
  'messaging-system.rsexperimentloader.enabled': false,
  'datareporting.usage.uploadEnabled': false,
};

/** A listener on a free port of the test process's loopback whose connections go to the unix socket. */
async function forwarder(socketPath: () => string): Promise<net.Server> {
  const server = net.createServer((client) => {
    const upstream = net.connect(socketPath());
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.on('error', close);
      s.on('close', close);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return server;
}

export async function launchFirefoxInNetns(netns: string): Promise<NetnsBrowser> {
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-firefox-'));
  const wrapper = path.join(tmp, 'firefox-in-netns');
  await fsp.writeFile(wrapper, `#!/bin/sh\nexec nsenter --net=/run/netns/${netns} ${FIREFOX} "$@"\n`, { mode: 0o755 });
  const profile = path.join(tmp, 'profile');
  await fsp.mkdir(profile);
  let relay: NetnsRelay | undefined;
  let server: net.Server | undefined;
  let browser: Browser | undefined;
  const stop = async () => {
    await browser?.close().catch(() => undefined);
    // nsenter execs firefox: the group is firefox's, its content processes too
    const pid = browser?.process()?.pid;
    if (pid) await killProcessGroup(pid);
    // the relay first: its end going drops every forwarded connection, so the listener can close
    await relay?.stop();
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    await fsp.rm(tmp, { recursive: true, force: true });
  };
  try {
    // the listener goes first for its port; it dials the relay per connection, once it runs
    server = await forwarder(() => relay!.socketPath);
    // the namespace is fresh, so the same number is free inside it too
    const port = (server.address() as net.AddressInfo).port;
    relay = await NetnsRelay.start(netns, '127.0.0.1', port);
    browser = await puppeteer.launch({
      browser: 'firefox',
      executablePath: wrapper,
      headless: true,
      userDataDir: profile,
      args: [`--remote-debugging-port=${port}`, '--no-remote'],
      extraPrefsFirefox: OFFLINE_PREFS,
      // its own home, so nothing of the host user's (~/.mozilla, caches) is read or written
      env: { ...process.env, HOME: tmp, XDG_CACHE_HOME: path.join(tmp, 'cache'), MOZ_CRASHREPORTER_DISABLE: '1' },
      defaultViewport: { width: 1280, height: 900 },
      timeout: 60_000,
    });
  } catch (e) {
    await stop();
    throw e;
  }
  return { browser, close: stop };
}
