// The harness's web server on 127.0.0.1: the host page, its script and the
// views, each at a fixed path, and nothing else. Views are served with the
// Content-Security-Policy a host builds from the resource's _meta.ui.csp.

import { createServer } from 'node:http';

// viewCSP is the policy for a view whose resource declares csp, as the MCP
// Apps specification (2026-01-26) has hosts build it, but stricter in one
// way: 'self' is granted nowhere, so that a request to this harness's own
// server from the view is caught as well.
export function viewCSP(csp = {}) {
  const list = (v) => (Array.isArray(v) ? v.join(' ') : '');
  const resources = list(csp.resourceDomains);
  return [
    "default-src 'none'",
    `script-src 'unsafe-inline' ${resources}`,
    `style-src 'unsafe-inline' ${resources}`,
    `img-src data: ${resources}`,
    `font-src ${resources || "'none'"}`,
    `media-src data: ${resources}`,
    `connect-src ${list(csp.connectDomains) || "'none'"}`,
    `frame-src ${list(csp.frameDomains) || "'none'"}`,
    "object-src 'none'",
    `base-uri ${list(csp.baseUriDomains) || "'none'"}`,
  ]
    .map((directive) => directive.trim())
    .join('; ');
}

// startHarnessServer serves pages, a map from path to {type, body, csp?},
// and resolves with its origin and a close function.
export async function startHarnessServer(pages) {
  const server = createServer((req, res) => {
    const page = req.method === 'GET' ? pages.get(new URL(req.url, 'http://x').pathname) : undefined;
    if (!page) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    const headers = { 'Content-Type': page.type, 'Cache-Control': 'no-store' };
    if (page.csp !== undefined) headers['Content-Security-Policy'] = page.csp;
    res.writeHead(200, headers).end(page.body);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
