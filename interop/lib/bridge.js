// A message bridge that serves a stdio MCP server over streamable HTTP, so
// that tools that only speak HTTP (the conformance suite) can test a
// server over stdio. Every HTTP session gets a server process of its own;
// JSON-RPC messages pass through unchanged in both directions, so what the
// tool checks is what the server sends.

import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

// startStdioBridge listens on a loopback port and returns {url, stderr,
// close}; stderr collects what every server process wrote to its stderr.
export async function startStdioBridge(bin, args, env) {
  const sessions = new Map(); // session id -> transport
  const opened = []; // every server process, for close
  const stderr = { text: '' };

  async function openSession() {
    const stdio = new StdioClientTransport({ command: bin, args, env, stderr: 'pipe' });
    stdio.stderr?.on('data', (chunk) => {
      stderr.text += chunk.toString();
    });
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      onsessioninitialized: (id) => sessions.set(id, transport),
    });
    opened.push({ transport, stdio });
    transport.onmessage = (message) => stdio.send(message);
    stdio.onmessage = (message) => transport.send(message);
    transport.onclose = () => stdio.close();
    await stdio.start();
    return transport;
  }

  const server = http.createServer(async (req, res) => {
    try {
      const id = req.headers['mcp-session-id'];
      let transport = id ? sessions.get(id) : undefined;
      if (!transport) {
        if (id || req.method !== 'POST') {
          res.writeHead(404).end('unknown session');
          return;
        }
        transport = await openSession();
      }
      await transport.handleRequest(req, res);
    } catch (err) {
      if (!res.headersSent) res.writeHead(500).end(String(err));
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/mcp`,
    stderr,
    async close() {
      server.close();
      await Promise.all(opened.map(({ transport, stdio }) => Promise.all([transport.close(), stdio.close()])));
    },
  };
}
