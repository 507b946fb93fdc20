// Starts the web client. A file rather than an inline script, so that the content security
// policy can forbid inline scripts (see server/src/app.rs, `security_headers`).
import init from '/pkg/journeyboard_client.js';

init().catch((e) => {
  document.body.textContent = 'Journeyboard could not start: ' + e;
});
// Lets a board page reload while the server is unreachable (see /sw.js).
if ('serviceWorker' in navigator) navigator.serviceWorker.register('/sw.js').catch(() => {});
