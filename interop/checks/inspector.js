// The MCP Inspector's command-line mode, as people run it when a server
// misbehaves: npx @modelcontextprotocol/inspector-cli --cli <server> --method ...

import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanEnv, runProcess } from '../lib/processes.js';
import { describeRequests, requestCount, resultText, upstreamSince } from './sdk.js';
import { SAMPLE_UUID } from '../cases.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const PACKAGE_DIR = path.join(here, '..', 'node_modules', '@modelcontextprotocol', 'inspector-cli');
const CLI = path.join(PACKAGE_DIR, 'build', 'cli.js');

// inspector runs the Inspector CLI once against the server under test.
async function inspector(ctx, args, { token } = {}) {
  const { target } = ctx;
  const server =
    target.kind === 'stdio'
      ? [target.bin, ...target.args]
      : [target.url, '--transport', 'http', '--header', `Authorization: Bearer ${token ?? target.token}`];
  const env = cleanEnv(target.kind === 'stdio' ? target.env : {});
  // inspector-cli 1.0.3 finds its own package.json through a path relative
  // to the working directory, so it must run from its build folder.
  const run = await runProcess(process.execPath, [CLI, '--cli', ...server, ...args], {
    env,
    cwd: path.dirname(CLI),
  });
  if (target.kind === 'stdio') ctx.stderrs.push({ text: run.stderr });
  return run;
}

function parseOutput(run) {
  assert.equal(run.code, 0, `the Inspector exited ${run.code}:\n${run.stderr}`);
  try {
    return JSON.parse(run.stdout);
  } catch {
    throw new Error(`the Inspector printed no JSON:\n${run.stdout}\n${run.stderr}`);
  }
}

export async function inspectorChecks(ctx) {
  const { suite, sandbox, label, inspectorVersion } = ctx;
  suite.group(`${label}: MCP Inspector CLI @modelcontextprotocol/inspector-cli ${inspectorVersion}`);
  await sandbox.reset();

  await suite.check(`[${label}] inspector: tools/list`, async () => {
    const out = parseOutput(await inspector(ctx, ['--method', 'tools/list']));
    const names = out.tools.map((t) => t.name);
    if (ctx.toolNames) assert.deepEqual(names, ctx.toolNames, 'the same tools as the SDK client saw');
    for (const tool of out.tools) {
      assert.ok(tool.inputSchema && tool.outputSchema && tool.annotations, `${tool.name} has schemas and annotations`);
    }
    return `${names.length} tools`;
  });

  // The Inspector lists the tools before calling one, so its SDK client
  // validates structuredContent against the output schema, and exits 1 when
  // it does not match.
  await suite.check(`[${label}] inspector: tools/call list_oauth_connections`, async () => {
    const mark = await requestCount(sandbox);
    const out = parseOutput(await inspector(ctx, ['--method', 'tools/call', '--tool-name', 'list_oauth_connections']));
    assert.notEqual(out.isError, true, resultText(out));
    assert.ok(out.structuredContent?.count > 0, 'structuredContent lists connections');
    const sent = await upstreamSince(sandbox, mark);
    assert.deepEqual(
      sent.map((r) => `${r.method} ${r.path} ${r.status}`),
      ['GET /api/v1/oauth/connections 200'],
      describeRequests(sent),
    );
  });

  await suite.check(`[${label}] inspector: tools/call rename_oauth_connection with --tool-arg`, async () => {
    await sandbox.reset();
    const out = parseOutput(
      await inspector(ctx, [
        '--method', 'tools/call',
        '--tool-name', 'rename_oauth_connection',
        '--tool-arg', `uuid=${SAMPLE_UUID}`, 'label=Renamed by the Inspector',
      ]),
    );
    assert.notEqual(out.isError, true, resultText(out));
    assert.equal(out.structuredContent?.label, 'Renamed by the Inspector');
    const sent = await sandbox.requests();
    assert.deepEqual(
      sent.map((r) => `${r.method} ${r.path} ${r.status}`),
      [`PUT /api/v1/oauth/connections/${SAMPLE_UUID} 200`],
      describeRequests(sent),
    );
  });

  await suite.check(`[${label}] inspector: bad arguments give a tool error, nothing sent to Plannr`, async () => {
    await sandbox.reset();
    const out = parseOutput(
      await inspector(ctx, [
        '--method', 'tools/call',
        '--tool-name', 'rename_oauth_connection',
        '--tool-arg', 'uuid=fundment-1', 'label=x',
      ]),
    );
    assert.equal(out.isError, true, 'isError');
    assert.match(resultText(out), /must be a UUID/);
    const sent = await sandbox.requests();
    assert.equal(sent.length, 0, `Plannr received ${describeRequests(sent)}`);
  });

  await suite.check(`[${label}] inspector: an unknown tool fails clearly`, async () => {
    await sandbox.reset();
    const run = await inspector(ctx, ['--method', 'tools/call', '--tool-name', 'no_such_tool']);
    const output = `${run.stdout}\n${run.stderr}`;
    assert.notEqual(run.code, 0, `the Inspector exited 0:\n${run.stdout}`);
    assert.match(output, /no_such_tool/);
    assert.match(output, /not found|unknown/i);
    const sent = await sandbox.requests();
    assert.equal(sent.length, 0, `Plannr received ${describeRequests(sent)}`);
    return output.split('\n').find((line) => line.includes('no_such_tool'))?.trim();
  });

  if (ctx.capabilities?.resources) {
    await suite.check(`[${label}] inspector: resources/list and resources/read`, async () => {
      const { resources } = parseOutput(await inspector(ctx, ['--method', 'resources/list']));
      assert.ok(resources.length > 0, 'lists resources');
      const read = parseOutput(await inspector(ctx, ['--method', 'resources/read', '--uri', resources[0].uri]));
      assert.ok(read.contents?.length > 0, `${resources[0].uri} has contents`);
      return resources.map((r) => r.uri).join(', ');
    });
  }
  if (ctx.capabilities?.prompts) {
    await suite.check(`[${label}] inspector: prompts/list`, async () => {
      const { prompts } = parseOutput(await inspector(ctx, ['--method', 'prompts/list']));
      assert.ok(prompts.length > 0, 'lists prompts');
      return prompts.map((p) => p.name).join(', ');
    });
  }

  if (ctx.target.kind === 'http') {
    await suite.check('[http] inspector: a wrong client token is refused', async () => {
      const run = await inspector(ctx, ['--method', 'tools/list'], { token: 'not-the-client-token' });
      assert.notEqual(run.code, 0, `the Inspector exited 0:\n${run.stdout}`);
      assert.match(`${run.stdout}\n${run.stderr}`, /401|unauthori[sz]ed/i);
    });
  }
}
