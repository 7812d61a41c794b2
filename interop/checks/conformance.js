// The official MCP conformance suite (@modelcontextprotocol/conformance),
// its generic server scenarios, against the built binary: over streamable
// HTTP in each of the server's modes (default, with client tokens,
// stateless), and over stdio through a message bridge.
//
// The suite's other server scenarios call tools, resources and prompts of
// the suite's own reference server ("test_simple_text" and the like) that
// no other server has; logging-set-level and completion-complete test
// capabilities plannr-mcp does not declare. They are not run.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanEnv, startHTTPServer } from '../lib/processes.js';
import { startStdioBridge } from '../lib/bridge.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.join(here, '..', 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');

// Scenarios that test what every server must do, whatever its tools.
const GENERIC = ['server-initialize', 'ping', 'tools-list', 'resources-list', 'prompts-list', 'server-sse-multiple-streams', 'server-sse-polling', 'dns-rebinding-protection'];
// Over stdio the HTTP scenarios would test the bridge, not the server.
const STDIO = ['server-initialize', 'ping', 'tools-list', 'resources-list', 'prompts-list'];

// runScenario runs one scenario and returns its summary line; it throws
// when the suite reports a failure.
function runScenario(url, scenario) {
  const out = mkdtempSync(path.join(tmpdir(), 'plannr-mcp-conformance-'));
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [cli, 'server', '--url', url, '--scenario', scenario, '-o', out], { timeout: 60_000 }, (err, stdout, stderr) => {
      rmSync(out, { recursive: true, force: true });
      const summary = /Passed: .*/.exec(stdout)?.[0] ?? 'no summary';
      if (err) reject(new Error(`${summary}\n${stdout.slice(-3000)}${stderr}`));
      else resolve(summary);
    });
  });
}

// startTokenProxy forwards every request to target with a client token
// added, as a client configured with one would send it: the suite itself
// has no way to send a header. Host and Origin pass through unchanged.
function startTokenProxy(target, token) {
  const upstream = new URL(target);
  const server = http.createServer((req, res) => {
    const headers = { ...req.headers, authorization: `Bearer ${token}` };
    const fwd = http.request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers }, (answer) => {
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    });
    fwd.on('error', (err) => res.destroy(err));
    req.pipe(fwd);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({ url: `http://127.0.0.1:${server.address().port}${upstream.pathname}`, close: () => server.close() });
    });
  });
}

export async function conformanceChecks(ctx) {
  const { suite, bin, clientToken } = ctx;
  const modes = [
    { name: 'HTTP, default', args: [], env: {} },
    { name: 'HTTP, client tokens', args: [], env: { PLANNR_MCP_AUTH_TOKENS: clientToken }, proxy: true },
    { name: 'HTTP, stateless', args: ['--stateless'], env: {} },
  ];
  for (const mode of modes) {
    suite.group(`conformance suite, ${mode.name}`);
    let server;
    let proxy;
    try {
      server = await startHTTPServer(bin, ['--sandbox', ...mode.args], cleanEnv({ HOME: ctx.home, XDG_CONFIG_HOME: path.join(ctx.home, '.config'), ...mode.env }));
      ctx.stderrs.push(server.stderr);
      let url = server.url;
      if (mode.proxy) {
        proxy = await startTokenProxy(server.url, clientToken);
        url = proxy.url;
      }
      for (const scenario of GENERIC) {
        await suite.check(`conformance [${mode.name}] ${scenario}`, () => runScenario(url, scenario), { timeoutMs: 70_000 });
      }
    } catch (err) {
      suite.fail(`[${mode.name}] starting the server`, err);
    } finally {
      proxy?.close();
      await server?.stop();
    }
  }

  suite.group('conformance suite, stdio through a message bridge');
  let bridge;
  try {
    bridge = await startStdioBridge(bin, ['--sandbox'], cleanEnv({ HOME: ctx.home, XDG_CONFIG_HOME: path.join(ctx.home, '.config') }));
    ctx.stderrs.push(bridge.stderr);
    for (const scenario of STDIO) {
      await suite.check(`conformance [stdio] ${scenario}`, () => runScenario(bridge.url, scenario), { timeoutMs: 70_000 });
    }
  } catch (err) {
    suite.fail('[stdio] starting the bridge', err);
  } finally {
    await bridge?.close();
  }
}
