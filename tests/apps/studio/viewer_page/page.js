// Test page for the studio viewer (no inline script: the page is served under Boda's CSP).
// Runs at the end of <body>, before the (deferred) viewer module: records CSP violations from the
// start, and puts a .studio-viewer for ?src= in the page, so that the module's own mountAll()
// mounts it, as on a real page.
window.cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
});
window.viewerEvents = [];
{
  const src = new URLSearchParams(location.search).get('src');
  const host = document.getElementById('host');
  if (src) {
    const el = document.createElement('div');
    el.className = 'studio-viewer';
    el.id = 'viewer';
    el.dataset.src = src;
    el.dataset.draco = '/static/vendor/three/draco/';
    el.dataset.labelWireframe = '와이어프레임';
    host.appendChild(el);
  }
  for (const type of ['studio-viewer:ready', 'studio-viewer:error']) {
    host.addEventListener(type, (e) => window.viewerEvents.push({ type, detail: e.detail }));
  }
}
