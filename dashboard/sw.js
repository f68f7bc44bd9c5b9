// Offline support: every file the dashboard needs is cached when the service worker installs;
// requests go to the network first (a deployment update is seen at once) and fall back to the
// cache when offline. Nothing is sent anywhere: the page only fetches its own static files.
const CACHE = 'broker-rules-dashboard-v2';
const FILES = [
  './', 'index.html', 'style.css', 'app.js', 'worker.js', 'ui.js', 'dec.js', 'charts.js', 'statement.js', 'broker.js',
  'clients.js', 'estimator.js', 'whatif.js', 'live.js', 'subbrokers.js', 'sample/trades.csv', 'sample/registry.json',
  'pkg/index.js', 'pkg/broker_rules_wasm.js', 'pkg/broker_rules_wasm_bg.wasm',
];

self.addEventListener('install', (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (e) => {
  e.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== 'GET' || url.origin !== self.location.origin) return;
  e.respondWith(fetch(e.request).then((res) => {
    if (res.ok) {
      const copy = res.clone();
      caches.open(CACHE).then((c) => c.put(e.request, copy));
    }
    return res;
  }).catch(() => caches.match(e.request, { ignoreSearch: true }).then((hit) => hit || Response.error())));
});
