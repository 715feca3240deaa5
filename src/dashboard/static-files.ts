/**
 * The dashboard's front end: files bundled at build time (scripts/build-dashboard.js) into
 * dist/dashboard/, read once into memory, never fetched from anywhere at run time.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

export interface StaticFile {
  body: Buffer;
  type: string;
  /** from the content: a reload revalidates and gets 304 */
  etag: string;
}

/** Files by URL path ("/index.html", "/assets/main.js"). */
export function loadAssets(dir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  const walk = (abs: string, rel: string) => {
    let names: string[];
    try {
      names = readdirSync(abs);
    } catch {
      return;
    }
    for (const name of names) {
      const file = path.join(abs, name);
      const url = `${rel}/${name}`;
      if (statSync(file).isDirectory()) walk(file, url);
      else {
        const body = readFileSync(file);
        files.set(url, { body, type: TYPES[path.extname(name)] ?? 'application/octet-stream', etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
      }
    }
  };
  walk(dir, '');
  return files;
}

/** Where the build puts the front end, next to the compiled daemon. */
export const ASSETS_DIR = path.join(__dirname, '..', '..', 'dashboard');
