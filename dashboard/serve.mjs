// The dashboard's local static server (node:http, no dependencies): serves dashboard/ at `/`
// and the web build of broker-rules-wasm (host-wasm/pkg/web) at `/pkg/`, the same layout
// `bash dashboard/build.sh DIR` writes for a static deployment. Nothing is computed here: the
// page settles in the browser. Only GET of files under those two directories is answered.
//
// usage: node dashboard/serve.mjs [--port 8080] [--host 127.0.0.1]
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css',
  '.json': 'application/json', '.wasm': 'application/wasm', '.csv': 'text/csv', '.ndjson': 'application/x-ndjson',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.webmanifest': 'application/manifest+json',
};

/** Maps a URL path to a file: `/pkg/...` -> host-wasm/pkg/web/..., anything else -> dashboard/... */
export function resolve(urlPath, dirs = { dashboard: here, pkg: path.join(root, 'host-wasm/pkg/web') }) {
  let rel = path.posix.normalize(decodeURIComponent(urlPath)).replace(/^\/+/, '');
  if (rel.split('/').includes('..')) return null;
  if (rel === '' || rel.endsWith('/')) rel += 'index.html';
  const [base, sub] = rel.startsWith('pkg/') ? [dirs.pkg, rel.slice(4)] : [dirs.dashboard, rel];
  if (rel.startsWith('test/')) return null;
  const file = path.join(base, sub);
  return file.startsWith(base + path.sep) ? file : null;
}

/** Starts the server; resolves to it once listening (port 0: any free port). */
export function start({ port = 8080, host = '127.0.0.1' } = {}) {
  const server = http.createServer((req, res) => {
    const send = (code, type, body) => {
      res.writeHead(code, { 'content-type': type, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'method not allowed');
    const file = resolve(new URL(req.url, 'http://localhost').pathname);
    if (!file) return send(404, 'text/plain', 'not found');
    fs.readFile(file, (err, data) => {
      if (err) return send(404, 'text/plain', 'not found');
      send(200, TYPES[path.extname(file)] || 'application/octet-stream', data);
    });
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => ok(server));
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (name, d) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : d; };
  if (!fs.existsSync(path.join(root, 'host-wasm/pkg/web/index.js'))) {
    console.error('host-wasm/pkg/web is missing: build it with `bash host-wasm/js/build.sh` (or run `bash dashboard/serve.sh`)');
    process.exit(1);
  }
  const server = await start({ port: Number(arg('--port', process.env.PORT || 8080)), host: arg('--host', '127.0.0.1') });
  const { address, port } = server.address();
  console.log(`broker-rules dashboard: http://${address}:${port}/  (Ctrl-C stops)`);
}
