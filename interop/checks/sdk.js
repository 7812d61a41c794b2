// The TypeScript SDK client, as Claude Desktop, Claude Code, VS Code and
// Cursor use it: initialize, tools/list, and every tool called with good and
// bad arguments.

import assert from 'node:assert/strict';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { connectSDK, resultText } from '../lib/mcp.js';
import { toolCases, genericBadCases, corrupt } from '../cases.js';

// The tools the server must always list.
export const REQUIRED_TOOLS = ['list_oauth_connections', 'rename_oauth_connection'];

const HINTS = ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'];

// schemaCompiler checks schemas independently of the SDK: against the JSON
// Schema 2020-12 meta-schema (the dialect MCP assumes when a schema names
// none), with formats.
function schemaCompiler() {
  const ajv = new Ajv2020({ strict: false, validateSchema: true, allErrors: true });
  addFormats(ajv);
  return (schema, what) => {
    try {
      return ajv.compile(schema);
    } catch (err) {
      throw new Error(`${what} does not compile as JSON Schema: ${err.message}`);
    }
  };
}

// shorten keeps a detail to one readable line.
export function shorten(text, max = 140) {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

// resultText is lib/mcp.js's, for the checks that import it from here.
export { resultText };

// upstream returns the Plannr requests received after mark.
export async function upstreamSince(sandbox, mark) {
  return (await sandbox.requests()).slice(mark);
}

export async function requestCount(sandbox) {
  return (await sandbox.requests()).length;
}

export function describeRequests(requests) {
  return requests.length === 0 ? 'none' : requests.map((r) => `${r.method} ${r.path} → ${r.status} (${r.state})`).join(', ');
}

// callBad calls a tool with bad arguments and checks it answers with a tool
// error matching pattern, not a protocol error, having sent nothing upstream.
export async function callBad(client, sandbox, name, args, pattern) {
  const mark = await requestCount(sandbox);
  let result;
  try {
    result = await client.callTool({ name, arguments: args });
  } catch (err) {
    throw new Error(`answered with a protocol error instead of a tool error: ${err.message}`);
  }
  const text = resultText(result);
  assert.equal(result.isError, true, `want isError: true; got a result: ${text}`);
  const sent = await upstreamSince(sandbox, mark);
  assert.equal(sent.length, 0, `bad arguments reached Plannr: ${describeRequests(sent)}; the tool said: ${text}`);
  assert.ok(text.trim(), 'the tool error has text for the model');
  if (pattern) assert.match(text, pattern);
  return text;
}

// sdkChecks runs the SDK client's checks against one transport and returns
// the tools it listed (for the other clients to compare), or undefined.
export async function sdkChecks(ctx) {
  const { suite, sandbox, target, label, sdkVersion } = ctx;
  suite.group(`${label}: TypeScript SDK client @modelcontextprotocol/sdk ${sdkVersion}`);
  await sandbox.reset();

  let conn;
  await suite.check(`[${label}] initialize`, async () => {
    conn = await connectSDK(target);
    ctx.stderrs.push(conn.stderr);
    const info = conn.client.getServerVersion();
    assert.equal(info?.name, 'plannr-mcp', 'serverInfo.name');
    assert.ok(conn.client.getServerCapabilities()?.tools, 'the server advertises tools');
    assert.ok(conn.client.getInstructions()?.includes('list_oauth_connections'), 'the instructions tell the model where to start');
    const version = conn.transport.negotiatedVersion();
    assert.equal(version, LATEST_PROTOCOL_VERSION, `the SDK asked for ${LATEST_PROTOCOL_VERSION} and the server answered ${version}`);
    const sent = await sandbox.requests();
    assert.equal(sent.length, 0, `initialize reached Plannr: ${describeRequests(sent)}`);
    ctx.negotiated[`${label} sdk`] = version;
    ctx.capabilities = conn.client.getServerCapabilities();
    return `negotiated protocol version ${version}; server ${info.name} ${info.version}`;
  }, { setup: true });
  if (!conn) return undefined;

  try {
    const tools = await suite.check(`[${label}] tools/list`, async () => {
      const { tools } = await conn.client.listTools();
      assert.ok(Array.isArray(tools) && tools.length > 0, 'lists tools');
      const names = tools.map((t) => t.name);
      for (const name of REQUIRED_TOOLS) assert.ok(names.includes(name), `lists ${name}`);
      assert.equal(new Set(names).size, names.length, 'tool names are unique');
      const sent = await sandbox.requests();
      assert.equal(sent.length, 0, `tools/list reached Plannr: ${describeRequests(sent)}`);
      ctx.toolNames = names;
      return tools;
    }, { setup: true });
    if (!tools) return undefined;

    const compile = schemaCompiler();
    for (const tool of tools) {
      await suite.check(`[${label}] ${tool.name}: input schema, output schema and annotations`, () => {
        assert.ok(typeof tool.description === 'string' && tool.description.trim(), 'has a description');
        assert.equal(tool.inputSchema?.type, 'object', 'inputSchema is an object schema');
        assert.equal(tool.inputSchema.additionalProperties, false, 'inputSchema refuses unknown arguments');
        compile(tool.inputSchema, 'inputSchema');
        assert.equal(tool.outputSchema?.type, 'object', 'has an outputSchema, an object schema');
        compile(tool.outputSchema, 'outputSchema');
        assert.ok(tool.annotations && typeof tool.annotations === 'object', 'has annotations');
        for (const hint of HINTS) assert.equal(typeof tool.annotations[hint], 'boolean', `annotations.${hint} is set`);
        if (tool.annotations.readOnlyHint) assert.equal(tool.annotations.destructiveHint, false, 'a read-only tool is not destructive');
        assert.equal(typeof conn.client.getToolOutputValidator(tool.name), 'function', 'the SDK client holds a validator for the output schema');
      });
    }

    for (const tool of tools) {
      await toolCallChecks(ctx, conn.client, tool);
    }
    await resourceAndPromptChecks(ctx, conn.client);
    return tools;
  } finally {
    await conn.client.close();
  }
}

async function toolCallChecks(ctx, client, tool) {
  const { suite, sandbox, label } = ctx;
  const cases = toolCases[tool.name];
  await sandbox.reset();
  if (!cases?.good?.length) {
    suite.note(`${tool.name} has no good-arguments case in interop/cases.js: only its schemas and bad arguments are checked`);
  }

  for (const good of cases?.good ?? []) {
    await suite.check(`[${label}] ${tool.name} with ${good.name}: structuredContent valid`, async () => {
      const mark = await requestCount(sandbox);
      // Client.callTool validates structuredContent against the tool's
      // outputSchema and throws when it does not match.
      const result = await client.callTool({ name: tool.name, arguments: good.args });
      assert.notEqual(result.isError, true, `tool error: ${resultText(result)}`);
      assert.ok(result.structuredContent && typeof result.structuredContent === 'object', 'has structuredContent');
      assert.ok(resultText(result).trim(), 'has text content for the model');
      const sent = await upstreamSince(sandbox, mark);
      assert.deepEqual(
        sent.map((r) => [r.method, r.path]),
        good.upstream,
        `Plannr received ${describeRequests(sent)}`,
      );
      for (const r of sent) assert.ok(r.status >= 200 && r.status < 300, `Plannr answered ${r.status} to ${r.method} ${r.path}`);
      good.check(result.structuredContent);

      // The validator that passed this result must be a real one.
      const broken = corrupt(tool.outputSchema, result.structuredContent);
      if (broken !== undefined) {
        const verdict = client.getToolOutputValidator(tool.name)(broken);
        assert.equal(verdict.valid, false, 'the client validator rejects a structuredContent that breaks the schema');
      }
    });
  }

  const bad = [...(cases?.bad ?? []), ...genericBadCases(tool, cases?.good?.[0]?.args)];
  for (const c of bad) {
    await suite.check(`[${label}] ${tool.name} with ${c.name}: tool error, nothing sent to Plannr`, () =>
      callBad(client, sandbox, tool.name, c.args, c.error).then(shorten),
    );
  }
}

// resourceAndPromptChecks reads every resource and gets every prompt that
// needs no arguments, when the server advertises them.
async function resourceAndPromptChecks(ctx, client) {
  const { suite, sandbox, label } = ctx;
  const capabilities = client.getServerCapabilities();
  await sandbox.reset();
  if (capabilities.resources) {
    await suite.check(`[${label}] resources/list and resources/read of each`, async () => {
      const { resources } = await client.listResources();
      for (const resource of resources) {
        assert.ok(resource.uri && resource.name, `a resource has a uri and a name: ${JSON.stringify(resource)}`);
        const read = await client.readResource({ uri: resource.uri });
        assert.ok(read.contents?.length > 0, `${resource.uri} has contents`);
        for (const c of read.contents) {
          assert.ok(typeof c.text === 'string' || typeof c.blob === 'string', `${resource.uri}: each content has text or a blob`);
        }
      }
      return `${resources.length} resources`;
    });
  } else {
    suite.note('the server advertises no resources');
  }
  if (capabilities.prompts) {
    await suite.check(`[${label}] prompts/list and prompts/get of each that needs no arguments`, async () => {
      const { prompts } = await client.listPrompts();
      let got = 0;
      for (const prompt of prompts) {
        if ((prompt.arguments ?? []).some((a) => a.required)) continue;
        const result = await client.getPrompt({ name: prompt.name });
        assert.ok(result.messages?.length > 0, `${prompt.name} has messages`);
        got++;
      }
      return `${prompts.length} prompts, ${got} got`;
    });
  } else {
    suite.note('the server advertises no prompts');
  }
}
