/**
 * Where berthd serves the web dashboard (`--dashboard ADDR:PORT`, daemon.json "dashboard"), and
 * the rule that makes it safe to turn on: a login link and a session cookie cross the wire, so
 * an address other hosts can reach is allowed only with TLS.
 */
import { isIP } from 'node:net';
import { invalid } from '../common/errors';

export interface DashboardSettings {
  /** the address to listen on, without brackets ("127.0.0.1", "::1", "0.0.0.0") */
  host: string;
  port: number;
  /** PEM files; both or neither */
  tlsCert?: string;
  tlsKey?: string;
  /** a CA (PEM): a browser with a client certificate it signed logs in without a token */
  tlsCa?: string;
}

export const DEFAULT_DASHBOARD_PORT = 9880;

/** "127.0.0.1:9880", "[::1]:9880", "localhost:9880", or a bare port (loopback). */
export function parseDashboardAddress(text: string): { host: string; port: number } {
  const s = text.trim();
  let host: string;
  let portText: string;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(s);
  if (v6) [, host, portText] = v6;
  else if (/^\d+$/.test(s)) [host, portText] = ['127.0.0.1', s];
  else {
    const at = s.lastIndexOf(':');
    if (at < 0) throw invalid(`invalid dashboard address ${JSON.stringify(text)}: use ADDR:PORT (e.g. 127.0.0.1:${DEFAULT_DASHBOARD_PORT})`);
    host = s.slice(0, at) || '127.0.0.1';
    portText = s.slice(at + 1);
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) throw invalid(`invalid dashboard port in ${JSON.stringify(text)}`);
  if (host !== 'localhost' && !isIP(host)) throw invalid(`invalid dashboard address ${JSON.stringify(text)}: ADDR must be an IP address or localhost`);
  return { host, port };
}

/** Addresses only this host can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host) || /^::ffff:127\./i.test(host);
}

/**
 * The settings from the flags (which win) and daemon.json, or undefined when the dashboard is
 * off. Refuses a non-loopback address without a certificate and key, and half a TLS pair.
 */
export function resolveDashboardSettings(
  flags: { address?: string; tlsCert?: string; tlsKey?: string; tlsCa?: string },
  file: { address?: unknown; tlsCert?: unknown; tlsKey?: unknown; tlsCa?: unknown },
): DashboardSettings | undefined {
  const names: Record<string, string> = { address: 'dashboard', tlsCert: 'dashboard-tls-cert', tlsKey: 'dashboard-tls-key', tlsCa: 'dashboard-tls-cacert' };
  for (const [key, v] of Object.entries(file)) {
    if (v !== undefined && typeof v !== 'string') throw invalid(`daemon.json: ${names[key]} must be a string`);
  }
  const address = flags.address ?? (file.address as string | undefined);
  const tlsCert = flags.tlsCert ?? (file.tlsCert as string | undefined);
  const tlsKey = flags.tlsKey ?? (file.tlsKey as string | undefined);
  const tlsCa = flags.tlsCa ?? (file.tlsCa as string | undefined);
  if (!address) {
    if (tlsCert || tlsKey || tlsCa) throw invalid('--dashboard-tls-cert, --dashboard-tls-key and --dashboard-tls-cacert need --dashboard ADDR:PORT');
    return undefined;
  }
  const { host, port } = parseDashboardAddress(address);
  if (Boolean(tlsCert) !== Boolean(tlsKey)) throw invalid('the dashboard needs both --dashboard-tls-cert and --dashboard-tls-key');
  if (tlsCa && !tlsCert) throw invalid('--dashboard-tls-cacert needs --dashboard-tls-cert and --dashboard-tls-key');
  if (!tlsCert && !isLoopback(host)) {
    throw invalid(`refusing to serve the dashboard on ${address} without TLS: give --dashboard-tls-cert and --dashboard-tls-key, or listen on 127.0.0.1`);
  }
  return { host, port, tlsCert, tlsKey, ...(tlsCa ? { tlsCa } : {}) };
}
