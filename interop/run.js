#!/usr/bin/env node
// Interoperability suite: the plannr-mcp binary, against the fake Plannr API
// (plannr-mcp sandbox-api), driven by the clients people use: the official
// TypeScript MCP SDK client and the MCP Inspector CLI, over stdio and over
// streamable HTTP.
//
// It ends with the official conformance suite's generic server scenarios,
// over HTTP in each mode and over stdio.
//
// Usage: node run.js [--transport stdio|http] [--only TEXT]
//   --transport  run one transport only (default: both)
//   --only       run only the checks whose name contains TEXT
// PLANNR_MCP_BIN, when set, is the binary to test instead of building one.
//
// The last line of output is "N passed, M failed"; the exit status is 0 only
// when every check passed.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Suite } from './lib/harness.js';
import { buildBinary, cleanEnv, runProcess, startHTTPServer, startSandboxAPI, stopAll } from './lib/processes.js';
import { sdkChecks } from './checks/sdk.js';
import { deleteChecks } from './checks/delete.js';
import { edgeChecks } from './checks/edge.js';
import { inspectorChecks } from './checks/inspector.js';
import { conformanceChecks } from './checks/conformance.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..');

// The Plannr token the sandbox accepts and the server is given, and the
// token MCP clients present to the HTTP server. Neither may ever appear in
// the server's output.
const PLANNR_TOKEN = 'interop-plannr-token-5e1f';
const CLIENT_TOKEN = 'interop-client-token-a83c';

// Flags that unlock tools the server hides by default. The suite turns on
// each one the binary offers, so that every tool gets checked.
const OPT_IN_FLAGS = ['enable-delete'];

const TRANSPORTS = ['stdio', 'http'];

// optInFlags returns the OPT_IN_FLAGS the serve command's usage lists.
async function optInFlags(bin) {
  const usage = await runProcess(bin, ['serve', '-h'], { env: cleanEnv() });
  const text = usage.stdout + usage.stderr;
  return OPT_IN_FLAGS.filter((flag) => new RegExp(`^\\s+--?${flag}\\b`, 'm').test(text)).map((flag) => `--${flag}`);
}

function installedVersion(name) {
  return JSON.parse(readFileSync(path.join(here, 'node_modules', name, 'package.json'), 'utf8')).version;
}

async function main() {
  const { values } = parseArgs({
    options: { transport: { type: 'string' }, only: { type: 'string' } },
  });
  const transports = values.transport ? [values.transport] : TRANSPORTS;
  for (const t of transports) {
    if (!TRANSPORTS.includes(t)) throw new Error(`--transport ${t}: use stdio or http`);
  }
  const suite = new Suite({ only: values.only });

  const pinned = JSON.parse(readFileSync(path.join(here, 'package.json'), 'utf8')).devDependencies;
  const sdkVersion = installedVersion('@modelcontextprotocol/sdk');
  const inspectorVersion = installedVersion('@modelcontextprotocol/inspector-cli');
  // The Inspector brings no SDK of its own when npm can share the pinned one.
  const nestedSDK = '@modelcontextprotocol/inspector-cli/node_modules/@modelcontextprotocol/sdk';
  const inspectorSDKVersion = existsSync(path.join(here, 'node_modules', nestedSDK)) ? installedVersion(nestedSDK) : sdkVersion;
  console.log(
    `interop: plannr-mcp with @modelcontextprotocol/sdk ${sdkVersion} and @modelcontextprotocol/inspector-cli ${inspectorVersion} (on sdk ${inspectorSDKVersion}), node ${process.versions.node}`,
  );

  const built = await (async () => {
    try {
      await suite.check('installed client versions are the pinned ones', () => {
        for (const [name, version] of [
          ['@modelcontextprotocol/sdk', sdkVersion],
          ['@modelcontextprotocol/inspector-cli', inspectorVersion],
        ]) {
          if (pinned[name] !== version) throw new Error(`${name} ${version} is installed, package.json pins ${pinned[name]}: run npm ci`);
        }
      });
      if (process.env.PLANNR_MCP_BIN) return { bin: process.env.PLANNR_MCP_BIN, cleanup() {} };
      const started = Date.now();
      const b = await buildBinary(repoRoot);
      console.log(`built plannr-mcp in ${Date.now() - started} ms`);
      return b;
    } catch (err) {
      suite.fail('building plannr-mcp', err);
      return undefined;
    }
  })();

  const ctxBase = { suite, sdkVersion, inspectorVersion, bin: built?.bin, stderrs: [], negotiated: {} };
  let sandbox;
  let home;
  try {
    if (built) {
      try {
        sandbox = await startSandboxAPI(built.bin, PLANNR_TOKEN);
        console.log(`sandbox API (fake Plannr) at ${sandbox.url}`);
      } catch (err) {
        suite.fail('starting the sandbox API', err);
      }
    }
    if (sandbox) {
      // A home of their own, so that no login stored on this machine is
      // seen or touched by the servers under test.
      home = mkdtempSync(path.join(tmpdir(), 'plannr-mcp-interop-home-'));
      const plannrEnv = {
        PLANNR_TOKEN: PLANNR_TOKEN,
        PLANNR_BASE_URL: sandbox.url,
        HOME: home,
        XDG_CONFIG_HOME: path.join(home, '.config'),
      };
      const serverArgs = await optInFlags(built.bin);
      if (serverArgs.length) console.log(`server flags: ${serverArgs.join(' ')}`);
      // An older binary may lack a flag; the binary built here must offer
      // them all, or their tools would go unchecked without anyone noticing.
      if (!process.env.PLANNR_MCP_BIN) {
        await suite.check('the serve command offers every opt-in flag', () =>
          assert.deepEqual(serverArgs, OPT_IN_FLAGS.map((flag) => `--${flag}`)),
        );
      }
      for (const transport of transports) {
        const ctx = { ...ctxBase, sandbox, label: transport };
        if (transport === 'stdio') {
          ctx.target = { kind: 'stdio', bin: built.bin, args: serverArgs, env: plannrEnv };
        } else {
          try {
            ctx.http = await startHTTPServer(built.bin, serverArgs, cleanEnv({ ...plannrEnv, PLANNR_MCP_AUTH_TOKENS: CLIENT_TOKEN }));
            ctx.stderrs.push(ctx.http.stderr);
            console.log(`\nHTTP server at ${ctx.http.url}`);
          } catch (err) {
            suite.fail('starting plannr-mcp serve --transport http', err);
            continue;
          }
          ctx.target = { kind: 'http', url: ctx.http.url, token: CLIENT_TOKEN };
        }
        await sdkChecks(ctx);
        await deleteChecks(ctx);
        await edgeChecks(ctx);
        await inspectorChecks(ctx);
        if (ctx.http) {
          await suite.check('[http] the server ran to the end of the suite', () => {
            if (!ctx.http.alive()) throw new Error(`the HTTP server exited:\n${ctx.http.stderr.text}`);
          });
        }
      }

      await conformanceChecks({ ...ctxBase, home, clientToken: CLIENT_TOKEN });

      suite.group('secrets');
      await suite.check('no token appears in anything the servers wrote to stderr', () => {
        const leaks = ctxBase.stderrs.filter((s) => s.text.includes(PLANNR_TOKEN) || s.text.includes(CLIENT_TOKEN));
        if (leaks.length) throw new Error(`a token appears in the server's stderr:\n${leaks[0].text}`);
        return `${ctxBase.stderrs.length} server logs read`;
      });
    }
  } finally {
    await stopAll();
    built?.cleanup();
    if (home) rmSync(home, { recursive: true, force: true });
  }

  const versions = Object.entries(ctxBase.negotiated).map(([who, v]) => `${who} → ${v}`);
  if (versions.length) console.log(`\nnegotiated protocol versions: ${versions.join('; ')}`);
  console.log(suite.summaryLine());
  return suite.failed === 0 && suite.passed > 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  async (err) => {
    await stopAll();
    console.log(`FAIL the suite itself: ${err?.stack ?? err}`);
    console.log('0 passed, 1 failed');
    process.exitCode = 1;
  },
);
