// Journeyboard's service worker: keeps the app shell so a board page reloads while the
// server is unreachable (edits made offline live in localStorage and sync on return).
// Network first, so an online page is never stale; the cache is only the fallback.
const CACHE = 'journeyboard-shell-v1';
const SHELL = ['/', '/boot.js', '/style.css', '/favicon.svg', '/pkg/journeyboard_client.js', '/pkg/journeyboard_client_bg.wasm'];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).catch(() => {}));
  self.skipWaiting();
});

self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

// Every board page is the same index.html.
const cacheKey = (url) => (url.pathname.startsWith('/b/') ? '/' : url.pathname);

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  const appFile = event.request.method === 'GET' && url.origin === self.location.origin &&
    !url.pathname.startsWith('/api/') && !url.pathname.startsWith('/ws/');
  if (!appFile) return;
  event.respondWith(
    fetch(event.request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(cacheKey(url), copy));
        }
        return response;
      })
      .catch(() => caches.match(cacheKey(url)).then((hit) => hit || Response.error()))
  );
});
