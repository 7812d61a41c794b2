// Protocol edge cases that real clients produce: ping, an unknown method, an
// unknown tool, a second initialize, a call cancelled mid-flight, a client
// that goes away mid-call, and clients that speak older protocol versions.

import assert from 'node:assert/strict';
import {
  EmptyResultSchema,
  InitializeResultSchema,
  LATEST_PROTOCOL_VERSION,
  McpError,
  SUPPORTED_PROTOCOL_VERSIONS,
} from '@modelcontextprotocol/sdk/types.js';
import { connectSDK, RawStdio, postJSONRPC } from '../lib/mcp.js';
import { cleanEnv, exited } from '../lib/processes.js';
import { sleep, waitFor, withTimeout } from '../lib/harness.js';
import { describeRequests, requestCount, resultText, shorten, upstreamSince } from './sdk.js';

const CONNECTIONS = '/api/v1/oauth/connections';
const LIST = { name: 'list_oauth_connections', arguments: {} };
// stallNextList makes Plannr sit on the next list request until the caller
// goes away.
async function stallNextList(sandbox) {
  await sandbox.reset();
  await sandbox.fault({ method: 'GET', path: CONNECTIONS, hang: true, times: 1 });
}

function inFlight(sandbox) {
  return waitFor(async () => (await sandbox.requests()).find((r) => r.path === CONNECTIONS && r.state === 'in-flight'), {
    what: 'the call to reach Plannr',
  });
}

function abandoned(sandbox) {
  return waitFor(async () => (await sandbox.requests()).find((r) => r.path === CONNECTIONS && r.state === 'aborted'), {
    what: 'the server to abandon its Plannr request',
  });
}

async function listStillWorks(client) {
  const result = await client.callTool(LIST);
  assert.notEqual(result.isError, true, `a later call failed: ${resultText(result)}`);
  assert.ok(result.structuredContent.count > 0, 'a later call lists connections');
}

export async function edgeChecks(ctx) {
  const { suite, sandbox, target, label } = ctx;
  suite.group(`${label}: protocol edge cases (TypeScript SDK client and raw JSON-RPC)`);
  await sandbox.reset();
  let conn;
  try {
    conn = await connectSDK(target);
    ctx.stderrs.push(conn.stderr);
  } catch (err) {
    suite.fail(`[${label}] connecting for the edge cases`, err);
    return;
  }

  try {
    await suite.check(`[${label}] ping`, async () => {
      const result = await conn.client.ping();
      assert.equal(typeof result, 'object');
      const answer = conn.transport.received.findLast((m) => 'result' in m || 'error' in m);
      assert.deepEqual(Object.keys(answer.result ?? {}).filter((k) => k !== '_meta'), [], 'ping answers with an empty result');
    });

    await suite.check(`[${label}] an unknown method: JSON-RPC -32601`, async () => {
      await assert.rejects(conn.client.request({ method: 'interop/no_such_method', params: {} }, EmptyResultSchema), (err) => {
        assert.ok(err instanceof McpError, `want a JSON-RPC error; got ${err}`);
        assert.equal(err.code, -32601, err.message);
        return true;
      });
      await conn.client.ping();
    });

    await suite.check(`[${label}] an unknown tool: a clear error, nothing sent to Plannr`, async () => {
      const mark = await requestCount(sandbox);
      let message;
      let outcome;
      try {
        const result = await conn.client.callTool({ name: 'no_such_tool', arguments: {} });
        assert.equal(result.isError, true, 'an unknown tool cannot succeed');
        message = resultText(result);
        outcome = 'tool error';
      } catch (err) {
        assert.ok(err instanceof McpError, `want a JSON-RPC error or a tool error; got ${err}`);
        message = err.message;
        outcome = `JSON-RPC error ${err.code}`;
      }
      assert.match(message, /no_such_tool/, 'the error names the tool');
      assert.match(message, /not found|unknown|no such/i, 'the error says the tool does not exist');
      const sent = await upstreamSince(sandbox, mark);
      assert.equal(sent.length, 0, `Plannr received ${describeRequests(sent)}`);
      return shorten(`${outcome}: ${message}`);
    });

    await suite.check(`[${label}] a second initialize: answered, and the session goes on`, async () => {
      let outcome;
      try {
        const again = await conn.client.request(
          {
            method: 'initialize',
            params: {
              protocolVersion: LATEST_PROTOCOL_VERSION,
              capabilities: {},
              clientInfo: { name: 'plannr-mcp-interop-again', version: '1.0.0' },
            },
          },
          InitializeResultSchema,
        );
        assert.equal(again.serverInfo.name, 'plannr-mcp');
        assert.ok(SUPPORTED_PROTOCOL_VERSIONS.includes(again.protocolVersion), `answered ${again.protocolVersion}`);
        outcome = `answered again with ${again.protocolVersion}`;
      } catch (err) {
        assert.ok(err instanceof McpError, `want an initialize result or a JSON-RPC error; got ${err}`);
        outcome = `refused with JSON-RPC error ${err.code}`;
      }
      await listStillWorks(conn.client);
      return outcome;
    });

    await suite.check(
      `[${label}] a call cancelled mid-flight (notifications/cancelled): Plannr request abandoned, session goes on`,
      async () => {
        await stallNextList(sandbox);
        const controller = new AbortController();
        const call = conn.client.callTool(LIST, undefined, { signal: controller.signal });
        call.catch(() => {});
        await inFlight(sandbox);
        controller.abort('the user pressed stop');
        await assert.rejects(call, 'the cancelled call rejects in the client');
        const request = conn.transport.sent.findLast((m) => m.method === 'tools/call');
        assert.ok(
          conn.transport.sent.some((m) => m.method === 'notifications/cancelled' && m.params?.requestId === request.id),
          'the client sent notifications/cancelled for the call',
        );
        await abandoned(sandbox);
        // The spec says the server SHOULD NOT answer a cancelled request;
        // give a late answer time to arrive, then look. One is reported,
        // and must at least not claim the abandoned work succeeded.
        await sleep(300);
        const late = conn.transport.received.find((m) => m.id === request.id);
        await conn.client.ping();
        await listStillWorks(conn.client);
        if (!late) return 'no answer to the cancelled request';
        assert.ok(late.error || late.result?.isError === true, `the cancelled call was answered with a success: ${JSON.stringify(late)}`);
        suite.note(
          `the server still answered the cancelled request (the MCP spec says it SHOULD NOT; the SDK client discards it as an answer to an unknown request): ${JSON.stringify(late.error ?? late.result)}`,
        );
        return 'Plannr request abandoned; a late tool error was still sent';
      },
      { timeoutMs: 30_000 },
    );

    if (target.kind === 'stdio') {
      await stdioDisconnect(ctx);
      for (const version of SUPPORTED_PROTOCOL_VERSIONS) await stdioNegotiation(ctx, version);
    } else {
      await httpDisconnect(ctx);
      await httpAuth(ctx);
      for (const version of SUPPORTED_PROTOCOL_VERSIONS) await httpNegotiation(ctx, version);
    }
  } finally {
    await conn.client.close();
  }
}

// How long Plannr takes to answer while a stdio client disconnects: the
// server may abandon the call or let it finish, but must then exit.
const SLOW_PLANNR_MS = 1_500;

// stdioDisconnect closes the server's stdin while a call waits on a slow
// Plannr: the server must exit by itself, with status 0, once the call is
// abandoned or done.
async function stdioDisconnect(ctx) {
  const { suite, sandbox, target } = ctx;
  await suite.check('[stdio] a client that disconnects mid-call: the server exits cleanly', async () => {
    await sandbox.reset();
    await sandbox.fault({ method: 'GET', path: CONNECTIONS, delay_ms: SLOW_PLANNR_MS, times: 1 });
    const raw = new RawStdio(target.bin, cleanEnv(target.env), target.args);
    ctx.stderrs.push({ get text() { return raw.stderr; } });
    try {
      await raw.initialize(LATEST_PROTOCOL_VERSION);
      raw.send({ id: 1, method: 'tools/call', params: LIST });
      await inFlight(sandbox);
      const closed = Date.now();
      raw.closeStdin();
      const limit = SLOW_PLANNR_MS + 8_000;
      const { code, signal } = await withTimeout(exited(raw.child), limit, `the server did not exit within ${limit} ms of stdin closing`);
      const took = Date.now() - closed;
      assert.equal(signal, null, `the server died of ${signal}`);
      assert.equal(code, 0, `the server exited ${code}; stderr:\n${raw.stderr}`);
      const [request] = (await sandbox.requests()).filter((r) => r.path === CONNECTIONS);
      const answered = raw.messages.some((m) => m.id === 1);
      return `exit status 0 after ${took} ms; Plannr request ${request.state}; the call was ${answered ? 'answered' : 'not answered'}`;
    } finally {
      raw.child.kill('SIGKILL');
    }
  });
}

// stdioNegotiation plays a client that asks for one protocol version.
async function stdioNegotiation(ctx, version) {
  const { suite, sandbox, target } = ctx;
  await suite.check(`[stdio] a client asking for protocol ${version}`, async () => {
    await sandbox.reset();
    const raw = new RawStdio(target.bin, cleanEnv(target.env), target.args);
    ctx.stderrs.push({ get text() { return raw.stderr; } });
    try {
      const answer = await raw.initialize(version);
      assert.ok(answer.result, `initialize failed: ${JSON.stringify(answer.error)}`);
      const got = answer.result.protocolVersion;
      assert.ok(SUPPORTED_PROTOCOL_VERSIONS.includes(got), `the server answered ${got}, which the SDK does not speak`);
      const list = await raw.request(1, 'tools/list', {});
      assert.ok(list.result?.tools?.length > 0, `tools/list under ${got}: ${JSON.stringify(list.error)}`);
      const call = await raw.request(2, 'tools/call', LIST);
      assert.notEqual(call.result?.isError, true, 'list_oauth_connections failed');
      assert.ok(call.result?.structuredContent?.count > 0, `tools/call under ${got}: ${JSON.stringify(call.error ?? call.result)}`);
      ctx.negotiated[`stdio asking ${version}`] = got;
      return got === version ? `negotiated ${got}` : `the server offered ${got} instead`;
    } finally {
      raw.child.kill('SIGKILL');
    }
  });
}

// httpDisconnect drops a client's connection while its call waits on Plannr:
// the server must stay up and serve the next client.
async function httpDisconnect(ctx) {
  const { suite, sandbox, target, http } = ctx;
  await suite.check('[http] a client that disconnects mid-call: the server stays up for the next one', async () => {
    await stallNextList(sandbox);
    const first = await connectSDK(target);
    const call = first.client.callTool(LIST);
    call.catch(() => {});
    await inFlight(sandbox);
    await first.transport.close();
    await assert.rejects(call, 'the abandoned call rejects in the client');
    await abandoned(sandbox);
    assert.ok(http.alive(), 'the server is still running');
    const health = await fetch(new URL('/healthz', target.url));
    assert.equal(health.status, 200, 'GET /healthz');
    const next = await connectSDK(target);
    try {
      await listStillWorks(next.client);
    } finally {
      await next.client.close();
    }
  });
}

// httpAuth checks that MCP requests need the client token and that a
// refused request reaches neither the tools nor Plannr.
async function httpAuth(ctx) {
  const { suite, sandbox, target } = ctx;
  const init = {
    id: 1,
    method: 'initialize',
    params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'interop', version: '1' } },
  };
  const call = { id: 2, method: 'tools/call', params: LIST };
  await suite.check('[http] requests without the client token are refused with 401', async () => {
    await sandbox.reset();
    for (const token of [undefined, 'not-the-client-token']) {
      for (const message of [init, call]) {
        const res = await postJSONRPC(target.url, message, { token });
        assert.equal(res.status, 401, `${message.method} with ${token ? 'a wrong' : 'no'} token: ${res.status} ${res.text}`);
      }
    }
    const sent = await sandbox.requests();
    assert.equal(sent.length, 0, `Plannr received ${describeRequests(sent)}`);
    const health = await fetch(new URL('/healthz', target.url));
    assert.equal(health.status, 200, 'GET /healthz needs no token');
  });
}

// httpNegotiation plays a client that asks for one protocol version, over
// raw HTTP.
async function httpNegotiation(ctx, version) {
  const { suite, sandbox, target } = ctx;
  await suite.check(`[http] a client asking for protocol ${version}`, async () => {
    await sandbox.reset();
    const opts = { token: target.token };
    const init = await postJSONRPC(
      target.url,
      { id: 1, method: 'initialize', params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'interop-raw', version: '1' } } },
      opts,
    );
    assert.equal(init.status, 200, `initialize: ${init.status} ${init.text}`);
    const answer = init.messages.find((m) => m.id === 1);
    assert.ok(answer?.result, `initialize failed: ${init.text}`);
    const got = answer.result.protocolVersion;
    assert.ok(SUPPORTED_PROTOCOL_VERSIONS.includes(got), `the server answered ${got}, which the SDK does not speak`);
    const session = { ...opts, sessionId: init.headers.get('mcp-session-id') ?? undefined, protocolVersion: got };
    const initialized = await postJSONRPC(target.url, { method: 'notifications/initialized' }, session);
    assert.ok(initialized.status === 202 || initialized.status === 200, `notifications/initialized: ${initialized.status}`);
    const list = await postJSONRPC(target.url, { id: 2, method: 'tools/list', params: {} }, session);
    assert.ok(list.messages.find((m) => m.id === 2)?.result?.tools?.length > 0, `tools/list under ${got}: ${list.status} ${list.text}`);
    const call = await postJSONRPC(target.url, { id: 3, method: 'tools/call', params: LIST }, session);
    const result = call.messages.find((m) => m.id === 3)?.result;
    assert.ok(result?.structuredContent?.count > 0 && result.isError !== true, `tools/call under ${got}: ${call.status} ${call.text}`);
    ctx.negotiated[`http asking ${version}`] = got;
    return got === version ? `negotiated ${got}` : `the server offered ${got} instead`;
  });
}
