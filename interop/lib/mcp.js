// MCP plumbing for the checks: the TypeScript SDK client over either
// transport, a transport wrapper that records the messages on the wire, and
// raw JSON-RPC over stdio and HTTP for what a typed client will not send.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createInterface } from 'node:readline';
import { spawnStdio } from './processes.js';
import { withTimeout } from './harness.js';

// RecordingTransport wraps an SDK transport and records every message sent
// and received, so checks can see what actually crossed the wire.
export class RecordingTransport {
  constructor(inner) {
    this.inner = inner;
    this.sent = [];
    this.received = [];
  }

  async start() {
    this.inner.onmessage = (message, extra) => {
      this.received.push(message);
      this.onmessage?.(message, extra);
    };
    this.inner.onclose = () => this.onclose?.();
    this.inner.onerror = (err) => this.onerror?.(err);
    await this.inner.start();
  }

  async send(message, options) {
    this.sent.push(message);
    await this.inner.send(message, options);
  }

  async close() {
    await this.inner.close();
  }

  get sessionId() {
    return this.inner.sessionId;
  }

  setProtocolVersion(version) {
    this.protocolVersion = version;
    this.inner.setProtocolVersion?.(version);
  }

  // negotiatedVersion is the protocolVersion of the server's answer to the
  // first initialize request.
  negotiatedVersion() {
    const init = this.sent.find((m) => m.method === 'initialize');
    const answer = init && this.received.find((m) => m.id === init.id && m.result);
    return answer?.result?.protocolVersion;
  }
}

// A Target says how to reach the server under test:
//   {kind: 'stdio', bin, env}            launch the binary
//   {kind: 'http', url, token}           an HTTP server already running

// connectSDK connects a TypeScript SDK client and returns the client, its
// recording transport and, over stdio, the server's stderr. capabilities
// are the client's; prepare(client) runs before connecting, to install
// handlers for requests from the server.
export async function connectSDK(target, { name = 'plannr-mcp-interop', token, capabilities = {}, prepare } = {}) {
  let inner;
  const stderr = { text: '' };
  if (target.kind === 'stdio') {
    inner = new StdioClientTransport({ command: target.bin, args: target.args ?? [], env: target.env, stderr: 'pipe' });
    inner.stderr.setEncoding('utf8');
    inner.stderr.on('data', (chunk) => {
      stderr.text += chunk;
    });
  } else {
    const bearer = token ?? target.token;
    const headers = bearer ? { Authorization: `Bearer ${bearer}` } : {};
    inner = new StreamableHTTPClientTransport(new URL(target.url), { requestInit: { headers } });
  }
  const transport = new RecordingTransport(inner);
  const client = new Client({ name, version: '1.0.0' }, { capabilities });
  prepare?.(client);
  await client.connect(transport);
  return { client, transport, stderr };
}

// RawStdio speaks newline-delimited JSON-RPC to the binary directly.
export class RawStdio {
  constructor(bin, env, args = []) {
    this.child = spawnStdio(bin, env, args);
    this.messages = [];
    this.waiters = [];
    this.stderr = '';
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (chunk) => {
      this.stderr += chunk;
    });
    this.child.stdin.on('error', () => {});
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      let message;
      try {
        message = JSON.parse(line);
      } catch {
        message = { unparsable: line };
      }
      this.messages.push(message);
      this.waiters = this.waiters.filter((w) => !w(message));
    });
  }

  send(message) {
    this.child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', ...message })}\n`);
  }

  // next resolves with the first message, past or future, that matches.
  next(match, timeoutMs = 10_000) {
    const found = this.messages.find(match);
    if (found) return Promise.resolve(found);
    const promise = new Promise((resolve) => {
      this.waiters.push((message) => {
        if (!match(message)) return false;
        resolve(message);
        return true;
      });
    });
    return withTimeout(promise, timeoutMs, `no matching message from the server within ${timeoutMs} ms`);
  }

  // request sends a request and resolves with the response of the same id.
  request(id, method, params) {
    this.send({ id, method, ...(params === undefined ? {} : { params }) });
    return this.next((m) => m.id === id && ('result' in m || 'error' in m));
  }

  async initialize(protocolVersion) {
    const answer = await this.request(0, 'initialize', {
      protocolVersion,
      capabilities: {},
      clientInfo: { name: 'plannr-mcp-interop-raw', version: '1.0.0' },
    });
    this.send({ method: 'notifications/initialized' });
    return answer;
  }

  closeStdin() {
    this.child.stdin.end();
  }
}

// postJSONRPC sends one JSON-RPC message over streamable HTTP and returns the
// status, headers and the JSON-RPC answers (from a JSON body or an SSE stream).
export async function postJSONRPC(url, message, { token, sessionId, protocolVersion, signal } = {}) {
  const headers = {
    'Content-Type': 'application/json',
    Accept: 'application/json, text/event-stream',
  };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (sessionId) headers['Mcp-Session-Id'] = sessionId;
  if (protocolVersion) headers['MCP-Protocol-Version'] = protocolVersion;
  const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', ...message }), signal });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  let messages = [];
  if (type.includes('text/event-stream')) {
    messages = text
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => JSON.parse(line.slice(5)));
  } else if (type.includes('application/json') && text.trim()) {
    const parsed = JSON.parse(text);
    messages = Array.isArray(parsed) ? parsed : [parsed];
  }
  return { status: res.status, headers: res.headers, text, messages };
}

// resultText is the text of a tool result's text content, joined by lines.
export function resultText(result) {
  return (result.content ?? [])
    .filter((c) => c.type === 'text')
    .map((c) => c.text)
    .join('\n');
}
